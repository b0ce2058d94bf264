/**
 * The options of `tenant-guard serve` and their parsing: where to listen, the certificates,
 * the tenants, which components to run, the drain window; and the settings and admission
 * limits every command shares. Each flag has an environment variable; a flag wins over its
 * environment variable, which wins over the default.
 */
import { TenantGuardError } from '../errors.js';
import { parseBooleanText, valueOf } from '../flag-value.js';
import { limitFlags, resolveLimits, type AdmissionLimits } from '../policy/limits.js';
import { settingFlags, resolveSettings, type Settings } from '../settings.js';
import type { ServeComponent } from './component.js';
import { DEFAULT_DRAIN_SECONDS } from './shutdown.js';

/** Tenants file used when neither --tenants nor TG_TENANTS is given (relative to the working directory). */
export const DEFAULT_TENANTS_FILE = 'webhook-config/examples/tenants.yaml';

/** Parsed options of `serve`. */
export interface ServeOptions {
  tenants: string;
  host: string;
  port: number;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  certsDir: string;
  logLevel: string;
  components: Set<string>;
  watchTenants: boolean;
  kubeconfig: string | undefined;
  /** How long a SIGTERM'd process keeps serving with /readyz 503, in ms (--drain-seconds). */
  drainMs: number;
}

/**
 * The options of `serve` from commander's parsed options (`raw`) and the environment.
 * @throws TenantGuardError ERR_USAGE naming the flag.
 */
export function parseServeOptions(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  components: readonly ServeComponent[],
): ServeOptions {
  const componentNames = components.map((c) => c.name);
  const defaultNames = components.filter((c) => c.optIn !== true).map((c) => c.name);
  const portText = valueOf(raw.port, env, 'TG_PORT', '8443');
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new TenantGuardError('ERR_USAGE', `--port "${portText}" is not a port number (0..65535)`);
  const tlsCert = valueOf(raw.tlsCert, env, 'TG_TLS_CERT');
  const tlsKey = valueOf(raw.tlsKey, env, 'TG_TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new TenantGuardError('ERR_USAGE', '--tls-cert and --tls-key go together');
  return {
    tenants: valueOf(raw.tenants, env, 'TG_TENANTS', DEFAULT_TENANTS_FILE),
    host: valueOf(raw.host, env, 'TG_HOST', '127.0.0.1'),
    port,
    tlsCert,
    tlsKey,
    certsDir: valueOf(raw.certsDir, env, 'TG_CERTS_DIR', 'certs'),
    logLevel: valueOf(raw.logLevel, env, 'TG_LOG_LEVEL', 'info'),
    components: parseComponents(
      valueOf(raw.components, env, 'TG_COMPONENTS'),
      ['webhook', ...componentNames],
      ['webhook', ...defaultNames],
    ),
    watchTenants: raw.watchTenants === true || parseWatchTenants(env.TG_WATCH_TENANTS ?? ''),
    kubeconfig: valueOf(raw.kubeconfig, env, 'TG_KUBECONFIG'),
    drainMs: parseDrainSeconds(
      valueOf(raw.drainSeconds, env, 'TG_DRAIN_SECONDS', String(DEFAULT_DRAIN_SECONDS)),
    ),
  };
}

function parseComponents(
  text: string | undefined,
  known: readonly string[],
  defaults: readonly string[] = known,
): Set<string> {
  if (text === undefined) return new Set(defaults);
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = names.filter((n) => !known.includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new TenantGuardError(
      'ERR_USAGE',
      `--components "${text}": use a comma-separated list of ${known.join(', ')}`,
    );
  }
  return new Set(names);
}

function parseWatchTenants(text: string): boolean {
  const value = parseBooleanText(text);
  if (value === undefined)
    throw new TenantGuardError('ERR_USAGE', `TG_WATCH_TENANTS "${text}" is not a boolean; use true or false`);
  return value;
}

function parseDrainSeconds(text: string): number {
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds < 0 || seconds > 600) {
    throw new TenantGuardError('ERR_USAGE', `--drain-seconds "${text}" is not a number of seconds (0..600)`);
  }
  return Math.round(seconds * 1000);
}

/** commander's name of a parsed option: `--max-object-depth` is `maxObjectDepth`. */
function attributeName(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * The admission limits (src/policy/limits.ts) from the parsed options of `addSettingOptions`
 * and the environment.
 * @throws TenantGuardError ERR_SETTINGS_INVALID naming the flag and its range.
 */
export function limitsFromOptions(options: Record<string, unknown>, env: NodeJS.ProcessEnv): AdmissionLimits {
  const flags: Partial<Record<keyof AdmissionLimits, string>> = {};
  for (const key of Object.keys(limitFlags) as (keyof AdmissionLimits)[]) {
    const value = options[attributeName(limitFlags[key].flag)];
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
    const value = options[attributeName(settingFlags[key].flag)];
    if (typeof value === 'string' || typeof value === 'boolean') flags[key] = value;
  }
  return resolveSettings(flags, env);
}
