/**
 * What every command gets: injected streams and environment (so tests run commands in
 * process), a way to set the exit code, and flag helpers where each flag has an environment
 * variable and flags win over the environment, which wins over defaults.
 */
import { Option, type Command } from 'commander';
import { limitFlags, resolveLimits, type AdmissionLimits } from '../policy/limits.js';
import { settingFlags, resolveSettings, type Settings } from '../settings.js';

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
}

/** Handed to each command's `register`. */
export interface CliContext {
  readonly io: CliIo;
  /** Sets the process exit code `run` returns: 0 ok, 1 denied or failed, 2 bad input. */
  setExitCode(code: number): void;
}

/** Registers one subcommand on the program: main.ts lists these. */
export type CommandRegistration = (program: Command, context: CliContext) => void;

/** Tenants file used when neither --tenants nor TG_TENANTS is given (relative to the working directory). */
export const DEFAULT_TENANTS_FILE = 'webhook-config/examples/tenants.yaml';

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
  for (const spec of Object.values(settingFlags)) {
    const flags = spec.kind === 'boolean' ? `--${spec.flag}` : `--${spec.flag} <value>`;
    command.addOption(envOption(flags, spec.description, spec.env));
  }
  for (const spec of Object.values(limitFlags))
    command.addOption(
      envOption(`--${spec.flag} <n>`, `${spec.description} (${spec.min}-${spec.max})`, spec.env),
    );
  return command;
}

/**
 * The admission limits (src/policy/limits.ts) from the parsed options of `addSettingOptions`
 * and the environment.
 * @throws TenantGuardError ERR_SETTINGS_INVALID naming the flag and its range.
 */
export function limitsFromOptions(options: Record<string, unknown>, env: NodeJS.ProcessEnv): AdmissionLimits {
  const flags: Partial<Record<keyof AdmissionLimits, string>> = {};
  for (const key of Object.keys(limitFlags) as (keyof AdmissionLimits)[]) {
    const value = options[new Option(`--${limitFlags[key].flag}`).attributeName()];
    if (typeof value === 'string') flags[key] = value;
  }
  return resolveLimits(flags, env);
}

/**
 * Settings from the parsed options of `addSettingOptions` and the environment.
 * @throws TenantGuardError ERR_SETTINGS_INVALID naming the flag.
 */
export function settingsFromOptions(options: Record<string, unknown>, env: NodeJS.ProcessEnv): Settings {
  const flags: Partial<Record<keyof Settings, string | boolean>> = {};
  for (const key of Object.keys(settingFlags) as (keyof Settings)[]) {
    const value = options[new Option(`--${settingFlags[key].flag}`).attributeName()];
    if (typeof value === 'string' || typeof value === 'boolean') flags[key] = value;
  }
  return resolveSettings(flags, env);
}

/** Writes `tenant-guard: <message>` to stderr. */
export function printError(io: CliIo, message: string): void {
  io.stderr.write(`tenant-guard: ${message}\n`);
}
