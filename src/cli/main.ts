#!/usr/bin/env node
/**
 * The `tenant-guard` command. Each subcommand lives in its own file and exports a
 * `register(program, context)`; adding one is one line in COMMANDS.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { brokerComponent } from '../broker/serve-component.js';
import { isTenantGuardError } from '../errors.js';
import { reporterComponent } from '../reporter/serve-component.js';
import { VERSION } from '../version.js';
import { register as registerAudit } from './audit.js';
import { register as registerCerts } from './certs.js';
import { register as registerCheck } from './check.js';
import { register as registerCredential } from './credential.js';
import {
  EXIT_BAD_INPUT,
  EXIT_FAILED,
  EXIT_OK,
  printError,
  processIo,
  type CliIo,
  type CommandRegistration,
} from './io.js';
import { register as registerScan } from './scan.js';
import type { ServeComponent } from '../server/component.js';
import { register as registerServe } from './serve.js';

/** Components `serve` starts beside the webhook (the broker adds itself here). */
export const SERVE_COMPONENTS: readonly ServeComponent[] = [brokerComponent, reporterComponent];

/** Every subcommand, in the order `--help` lists them. */
export const COMMANDS: readonly CommandRegistration[] = [
  (program, context) => registerServe(program, context, SERVE_COMPONENTS),
  registerCheck,
  registerScan,
  registerAudit,
  registerCredential,
  registerCerts,
];

/** Builds the program with its subcommands, writing to `io` and never exiting the process. */
export function buildProgram(
  io: CliIo,
  setExitCode: (code: number) => void,
  commands: readonly CommandRegistration[] = COMMANDS,
): Command {
  const program = new Command()
    .name('tenant-guard')
    .description('Token broker and admission webhook for one Argo CD serving many tenants')
    .version(VERSION, '-V, --version', 'print the version (the one tenant_guard_build_info carries)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) });
  for (const registerCommand of commands) registerCommand(program, { io, setExitCode });
  return program;
}

/**
 * Runs the command line `argv` (the arguments after the script) and resolves to the exit
 * code: 0 ok, 1 denied or failed, 2 bad input or usage. Never calls `process.exit`.
 */
export async function run(
  argv: readonly string[],
  io: CliIo,
  commands: readonly CommandRegistration[] = COMMANDS,
): Promise<number> {
  let exitCode = EXIT_OK;
  const program = buildProgram(
    io,
    (code) => {
      exitCode = code;
    },
    commands,
  );
  try {
    await program.parseAsync(withoutHelpOfUnknownCommand(program, argv), { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
    if (isTenantGuardError(err)) {
      printError(io, `${err.message} (${err.code})`);
      return EXIT_BAD_INPUT;
    }
    printError(io, err instanceof Error ? err.message : String(err));
    return EXIT_FAILED;
  }
}

/**
 * `argv` without `--help`/`-h` when it names a command the program does not have: commander
 * would take the flag for the program's own and print its help with exit 0 (`tenant-guard
 * manifests --help`), so a script probing for a command got 0. Without the flag, the unknown
 * command is the usage error it is (exit 2, with commander's "Did you mean").
 */
export function withoutHelpOfUnknownCommand(program: Command, argv: readonly string[]): string[] {
  const known = new Set(['help', ...program.commands.flatMap((c) => [c.name(), ...c.aliases()])]);
  const first = argv.find((a) => !a.startsWith('-'));
  if (first === undefined || known.has(first)) return [...argv];
  return argv.filter((a) => a !== '--help' && a !== '-h');
}

function isMain(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  process.exitCode = await run(process.argv.slice(2), processIo());
}
