/**
 * The one flag-then-environment-then-default resolution every command and component uses:
 * a flag given on the command line wins over its environment variable, which wins over the
 * default. An empty environment variable counts as not set.
 */

/** The flag's value, else the environment variable's, else the default. */
export function valueOf(flag: unknown, env: NodeJS.ProcessEnv, name: string, fallback: string): string;
export function valueOf(
  flag: unknown,
  env: NodeJS.ProcessEnv,
  name: string,
  fallback?: string,
): string | undefined;
export function valueOf(
  flag: unknown,
  env: NodeJS.ProcessEnv,
  name: string,
  fallback?: string,
): string | undefined {
  if (typeof flag === 'string') return flag;
  const fromEnv = env[name];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : fallback;
}

/**
 * Reads a boolean flag or environment value: `true`/`1`/`yes` and `false`/`0`/`no` (any case,
 * surrounding spaces ignored); an empty value is false.
 * @returns undefined for anything else, so the caller refuses it naming its flag.
 */
export function parseBooleanText(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no' || v === '') return false;
  return undefined;
}
