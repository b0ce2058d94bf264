/**
 * The one flag-then-environment-then-default resolution every command and component uses:
 * a flag given on the command line wins over its environment variable, which wins over the
 * default. An empty environment variable counts as not set.
 */

/** The flag's value, else the environment variable's, else the default. */
export function valueOf(flag: unknown, env: NodeJS.ProcessEnv, name: string, fallback: string): string;
export function valueOf(flag: unknown, env: NodeJS.ProcessEnv, name: string, fallback?: string): string | undefined;
export function valueOf(flag: unknown, env: NodeJS.ProcessEnv, name: string, fallback?: string): string | undefined {
  if (typeof flag === 'string') return flag;
  const fromEnv = env[name];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : fallback;
}
