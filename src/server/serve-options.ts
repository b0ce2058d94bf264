/**
 * The options of `tenant-guard serve` and their parsing: where to listen, the certificates,
 * the tenants, which components to run, the drain window; and the settings and admission
 * limits every command shares. Each flag has an environment variable; a flag wins over its
 * environment variable, which wins over the default.
 */
import { TenantGuardError } from '../errors.js';
import { attributeName, givenFlags, resolveFlags, type FlagRules, type FlagSpec } from '../flag-value.js';
import { limitFlags, resolveLimits, type AdmissionLimits } from '../policy/limits.js';
import { settingFlags, resolveSettings, type Settings } from '../settings.js';
import type { ServeComponent } from './component.js';
import { DEFAULT_DRAIN_SECONDS } from './shutdown.js';
import { DEFAULT_METRIC_TENANTS, MAX_METRIC_TENANTS } from './metric-tenants.js';

/** Tenants file used when neither --tenants nor TG_TENANTS is given (relative to the working directory). */
export const DEFAULT_TENANTS_FILE = 'webhook-config/examples/tenants.yaml';

/** One flag of `serve` as data: its table row, help text and value name. */
export interface ServeFlag extends FlagSpec {
  readonly env: string;
  readonly description: string;
  /** The value's name in help (`--port <n>`); none for a switch. */
  readonly valueName?: string;
}

/** The flags of `serve` itself, in help order; `parseServeOptions` reads them by key. */
// prettier-ignore
export const SERVE_FLAGS = {
  tenants: { flag: 'tenants', valueName: 'file', env: 'TG_TENANTS', kind: 'string', default: DEFAULT_TENANTS_FILE, description: 'Tenant registry file (multi-document YAML)' },
  host: { flag: 'host', valueName: 'host', env: 'TG_HOST', kind: 'string', default: '127.0.0.1', description: 'address to listen on' },
  port: { flag: 'port', valueName: 'n', env: 'TG_PORT', kind: 'string', default: '8443', description: 'port to listen on (0: any free port)' },
  tlsCert: { flag: 'tls-cert', valueName: 'file', env: 'TG_TLS_CERT', kind: 'string', description: 'serving certificate chain (PEM); with --tls-key' },
  tlsKey: { flag: 'tls-key', valueName: 'file', env: 'TG_TLS_KEY', kind: 'string', description: 'serving private key (PEM)' },
  clientCaFile: { flag: 'client-ca-file', valueName: 'file', env: 'TG_CLIENT_CA_FILE', kind: 'string', description: 'CA bundle (PEM) of the API server\'s webhook client certificate: /mutate and /validate answer only clients with a certificate it signed' },
  clientNames: { flag: 'client-names', valueName: 'list', env: 'TG_CLIENT_NAMES', kind: 'string', description: 'with --client-ca-file: the client certificate must carry one of these names (Common Name or DNS subjectAltName), comma-separated' },
  certsDir: { flag: 'certs-dir', valueName: 'dir', env: 'TG_CERTS_DIR', kind: 'string', default: 'certs', description: 'where certificates are generated when --tls-cert is not given' },
  logLevel: { flag: 'log-level', valueName: 'level', env: 'TG_LOG_LEVEL', kind: 'string', default: 'info', description: 'log level: fatal, error, warn, info, debug, trace or silent' },
  // No default here: it is every component that is not opt-in (`parseServeOptions`).
  components: { flag: 'components', valueName: 'list', env: 'TG_COMPONENTS', kind: 'string', description: 'what to serve, comma-separated' },
  watchTenants: { flag: 'watch-tenants', env: 'TG_WATCH_TENANTS', kind: 'boolean', default: 'false', description: 'fill the registry from Tenant objects (a watch) instead of --tenants' },
  kubeconfig: { flag: 'kubeconfig', valueName: 'file', env: 'TG_KUBECONFIG', kind: 'string', description: 'kubeconfig of the control plane (default: in-cluster)' },
  maxRegistrySize: { flag: 'max-registry-size', valueName: 'quantity', env: 'TG_MAX_REGISTRY_SIZE', kind: 'string', default: '32Mi', description: 'with --watch-tenants: the largest registry held, in characters of the Tenants\' JSON (Ki, Mi or Gi); past it the last good registry is served, stale' },
  metricsMaxTenants: { flag: 'metrics-max-tenants', valueName: 'n', env: 'TG_METRICS_MAX_TENANTS', kind: 'string', default: String(DEFAULT_METRIC_TENANTS), description: 'tenants whose metrics carry their own tenant label value; the rest count under tenant="_other" (0: none)' },
  drainSeconds: { flag: 'drain-seconds', valueName: 's', env: 'TG_DRAIN_SECONDS', kind: 'string', default: String(DEFAULT_DRAIN_SECONDS), description: 'on SIGTERM, keep serving this long with /readyz 503 before closing' },
} as const satisfies Readonly<Record<string, ServeFlag>>;

/** How `serve` reads its flags: an empty value is refused, and a bad value is ERR_USAGE, naming its source. */
export const SERVE_FLAG_RULES: FlagRules = {
  emptyEnv: 'refuse',
  invalid: (_spec, message, source) => new TenantGuardError('ERR_USAGE', `${source} ${message}`),
};

/** Parsed options of `serve`. */
export interface ServeOptions {
  tenants: string;
  host: string;
  port: number;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** CA bundle of admission clients' certificates (--client-ca-file); undefined: no client certificate asked for. */
  clientCaFile: string | undefined;
  /** With clientCaFile: the names one of which a client certificate must carry (--client-names). */
  clientNames: string[] | undefined;
  certsDir: string;
  logLevel: string;
  components: Set<string>;
  watchTenants: boolean;
  kubeconfig: string | undefined;
  /** With watchTenants: the registry's bound, in characters of the Tenants' JSON (--max-registry-size). */
  maxRegistryChars: number;
  /** Tenants with a tenant label value of their own in the metrics (--metrics-max-tenants). */
  metricsMaxTenants: number;
  /** How long a SIGTERM'd process keeps serving with /readyz 503, in ms (--drain-seconds). */
  drainMs: number;
}

/**
 * The options of `serve` from commander's parsed options (`raw`) and the environment.
 * @throws TenantGuardError ERR_USAGE naming the flag.
 */
export function parseServeOptions(
  raw: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv,
  components: readonly ServeComponent[],
): ServeOptions {
  const componentNames = components.map((c) => c.name);
  const defaultNames = components.filter((c) => c.optIn !== true).map((c) => c.name);
  const f = resolveFlags(SERVE_FLAGS, givenFlags(SERVE_FLAGS, raw), env, SERVE_FLAG_RULES);
  const port = Number(f.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new TenantGuardError('ERR_USAGE', `--port "${f.port}" is not a port number (0..65535)`);
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined))
    throw new TenantGuardError('ERR_USAGE', '--tls-cert and --tls-key go together');
  if (f.clientNames !== undefined && f.clientCaFile === undefined)
    throw new TenantGuardError(
      'ERR_USAGE',
      '--client-names needs --client-ca-file: names are checked on certificates that CA verified',
    );
  return {
    tenants: f.tenants,
    host: f.host,
    port,
    tlsCert: f.tlsCert,
    tlsKey: f.tlsKey,
    clientCaFile: f.clientCaFile,
    clientNames: f.clientNames === undefined ? undefined : parseClientNames(f.clientNames),
    certsDir: f.certsDir,
    logLevel: parseLogLevel(f.logLevel),
    components: parseComponents(f.components, ['webhook', ...componentNames], ['webhook', ...defaultNames]),
    watchTenants: f.watchTenants,
    kubeconfig: f.kubeconfig,
    maxRegistryChars: parseRegistrySize(f.maxRegistrySize),
    metricsMaxTenants: parseMetricsMaxTenants(f.metricsMaxTenants),
    drainMs: parseDrainSeconds(f.drainSeconds),
  };
}

/** pino's levels, and `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Before, an unknown level reached pino, which threw ("default level:verbose must be included in custom levels", exit 1). */
function parseLogLevel(text: string): string {
  const level = LOG_LEVELS.find((l) => l === text.trim().toLowerCase());
  if (level === undefined)
    throw new TenantGuardError(
      'ERR_USAGE',
      `--log-level "${text}" is not a level; use one of ${LOG_LEVELS.join(', ')}`,
    );
  return level;
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

/** At most this many --client-names, each at most a DNS name's 253 characters. */
export const MAX_CLIENT_NAMES = 64;
const MAX_CLIENT_NAME_CHARS = 253;

function parseClientNames(text: string): string[] {
  const names = text.split(',').map((s) => s.trim());
  // eslint-disable-next-line no-control-regex -- a name with control characters is refused
  const control = /[\u0000-\u001f\u007f]/;
  const bad = names.find((n) => n === '' || n.length > MAX_CLIENT_NAME_CHARS || control.test(n));
  if (names.length > MAX_CLIENT_NAMES || bad !== undefined)
    throw new TenantGuardError(
      'ERR_USAGE',
      `--client-names: use a comma-separated list of at most ${MAX_CLIENT_NAMES} names of 1 to ${MAX_CLIENT_NAME_CHARS} printable characters${bad === undefined ? '' : ` (not ${JSON.stringify(bad.slice(0, 64))})`}`,
    );
  return [...new Set(names)];
}

const SIZE_UNITS = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 } as const;
/** Bounds of --max-registry-size: one small Tenant's JSON, and far more than a replica's heap holds. */
const MIN_REGISTRY_CHARS = 1024;
const MAX_REGISTRY_SIZE_CHARS = 4 * 1024 ** 3;

/**
 * A quantity as Kubernetes writes memory (`32Mi`, `512Ki`, `1Gi`, or a plain count), in
 * characters. Before it was a flag, a platform past 32 Mi characters of Tenants had no way
 * to raise the bound but a rebuild (an operator's review).
 */
function parseRegistrySize(text: string): number {
  const match = /^(\d{1,10})(Ki|Mi|Gi)?$/.exec(text.trim());
  const chars =
    match === null
      ? NaN
      : Number(match[1]) * (match[2] === undefined ? 1 : SIZE_UNITS[match[2] as keyof typeof SIZE_UNITS]);
  if (!(chars >= MIN_REGISTRY_CHARS && chars <= MAX_REGISTRY_SIZE_CHARS))
    throw new TenantGuardError(
      'ERR_USAGE',
      `--max-registry-size "${text}" is not a size from 1Ki to 4Gi (a count of characters, or with Ki, Mi or Gi)`,
    );
  return chars;
}

function parseMetricsMaxTenants(text: string): number {
  const n = /^\d{1,6}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(n <= MAX_METRIC_TENANTS))
    throw new TenantGuardError(
      'ERR_USAGE',
      `--metrics-max-tenants "${text}" is not a number of tenants (0..${MAX_METRIC_TENANTS})`,
    );
  return n;
}

function parseDrainSeconds(text: string): number {
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds < 0 || seconds > 600) {
    throw new TenantGuardError('ERR_USAGE', `--drain-seconds "${text}" is not a number of seconds (0..600)`);
  }
  return Math.round(seconds * 1000);
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
