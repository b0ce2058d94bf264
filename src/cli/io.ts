/**
 * What every command gets: injected streams and environment (so tests run commands in
 * process), a way to set the exit code, and flag helpers where each flag has an environment
 * variable and flags win over the environment, which wins over defaults.
 */
import { Option, type Command } from 'commander';
import { DEFAULT_LIMITS, limitFlags, type AdmissionLimits } from '../policy/limits.js';
import { settingDefaultText, settingFlags, type Settings } from '../settings.js';

/** Something text can be written to (process.stdout, a test buffer). */
export interface TextSink {
  write(text: string): unknown;
}

/** The process around a command. */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  readonly stdin: NodeJS.ReadableStream;
  readonly env: NodeJS.ProcessEnv;
  /** Relative paths are resolved against it. */
  readonly cwd: string;
  /**
   * Where `serve` writes its log and audit lines. Default (the real process): file
   * descriptor 1, batched, not through `stdout`; tests of the CLI capture them here.
   */
  readonly logs?: TextSink;
}

/** Handed to each command's `register`. */
export interface CliContext {
  readonly io: CliIo;
  /** Sets the process exit code `run` returns: 0 ok, 1 denied or failed, 2 bad input. */
  setExitCode(code: number): void;
}

/** Registers one subcommand on the program: main.ts lists these. */
export type CommandRegistration = (program: Command, context: CliContext) => void;

/** The server's default tenants file and the settings and limits every command reads (src/server/serve-options.ts). */
export { DEFAULT_TENANTS_FILE, limitsFromOptions, settingsFromOptions } from '../server/serve-options.js';

/** Exit codes shared by the commands. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** The io of the real process. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  };
}

/**
 * An option whose help names its environment variable (and default). Commander is not told
 * the default, so `valueOf` can tell a given flag from an absent one.
 */
export function envOption(flags: string, description: string, env: string, shownDefault?: string): Option {
  const suffix = shownDefault === undefined ? `env ${env}` : `default ${shownDefault}, env ${env}`;
  return new Option(flags, `${description} (${suffix})`);
}

/** Flag-then-environment-then-default resolution lives in src/flag-value.ts. */
export { valueOf } from '../flag-value.js';

/** Adds a flag for every setting of SPEC section 3 (src/settings.ts `settingFlags`). */
export function addSettingOptions(command: Command): Command {
  for (const [key, spec] of Object.entries(settingFlags) as [
    keyof Settings,
    (typeof settingFlags)[keyof Settings],
  ][]) {
    const flags = spec.kind === 'boolean' ? `--${spec.flag}` : `--${spec.flag} <value>`;
    command.addOption(envOption(flags, spec.description, spec.env, settingDefaultText(key)));
  }
  for (const [key, spec] of Object.entries(limitFlags) as [
    keyof AdmissionLimits,
    (typeof limitFlags)[keyof AdmissionLimits],
  ][])
    command.addOption(
      envOption(
        `--${spec.flag} <n>`,
        `${spec.description} (${spec.min}-${spec.max})`,
        spec.env,
        String(DEFAULT_LIMITS[key]),
      ),
    );
  return command;
}

/** Writes `tenant-guard: <message>` to stderr. */
export function printError(io: CliIo, message: string): void {
  io.stderr.write(`tenant-guard: ${message}\n`);
}
