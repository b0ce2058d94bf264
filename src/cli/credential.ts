/**
 * `tenant-guard credential BROKER TARGET TOKEN_FILE [--ca-file F] [--timeout D] [--cache-dir DIR]`:
 * the client-go exec credential plugin (SPEC section 6). The arguments are handed to the
 * plugin's own parser untouched, so the command line, output and exit codes are those of the
 * single executable `tenant-guard-credential` (built from src/credential/main.ts): exit 0 an
 * ExecCredential on stdout, 1 no credential (one line on stderr), 2 bad usage.
 */
import type { Command } from 'commander';
import { runCredential } from '../credential/run.js';
import type { CliContext } from './io.js';

/** Registers the `credential` subcommand (main.ts lists it in COMMANDS). */
export function register(program: Command, context: CliContext): void {
  const { io } = context;
  program
    .command('credential')
    .description(
      'exec credential plugin: print an ExecCredential with a broker token for TARGET (see credential --help)',
    )
    .usage(
      'BROKER TARGET TOKEN_FILE [--ca-file FILE] [--timeout DURATION] [--cache-dir DIR] [--expiry-margin DURATION]',
    )
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .argument('[args...]', 'BROKER TARGET TOKEN_FILE and options, as for tenant-guard-credential')
    .action(async (_args: string[], _opts: unknown, command: Command) => {
      const code = await runCredential(command.args, {
        env: io.env,
        stdout: (text) => void io.stdout.write(text),
        stderr: (text) => void io.stderr.write(text),
      });
      context.setExitCode(code);
    });
}
