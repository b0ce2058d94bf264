/**
 * The exec plugin's command line: BROKER and TARGET, the caller token file, CA, timeout,
 * expiry margin and cache directory. Parsing errors are ERR_CREDENTIAL_USAGE. It imports
 * nothing of the broker: the plugin is bundled into one executable of its own.
 */
import { parseDurationMs } from '../duration.js';
import { TenantGuardError } from '../errors.js';
import { resolveFlags, type FlagRules, type GivenFlags } from '../flag-value.js';

/** Environment variable that turns the on-disk cache on when `--cache-dir` is not given. */
export const CACHE_DIR_ENV = 'TG_CREDENTIAL_CACHE_DIR';

/** Default of `--timeout`: the whole run, retries included, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Default of `--expiry-margin`: how long before the token's `exp` it is reported expired, in ms (SPEC section 7). */
export const DEFAULT_EXPIRY_MARGIN_MS = 10_000;

/** What one run of the exec plugin was asked to do. */
export interface CredentialOptions {
  /** The broker as given: a host name (`host[:port]`) or an https URL, optionally with a path. */
  broker: string;
  /** Broker target name, which is the Argo CD cluster name. */
  target: string;
  /** File holding the caller's (projected ServiceAccount) token; read afresh on every run. */
  tokenFile: string;
  /** PEM bundle the broker's certificate must chain to; the system roots when absent. */
  caFile?: string;
  /** Budget for the whole run, retries included, in milliseconds. Default 10 000. */
  timeoutMs: number;
  /** Directory of the token cache; no cache when absent. */
  cacheDir?: string;
  /** Margin before `exp` at which the token is reported expired and the cache stops reusing it, in ms. Default 10 000. */
  expiryMarginMs: number;
  /** The `aud` the token must carry; absent: the audience the broker states, else TARGET. */
  audience?: string;
}

/** The outcome of parsing: options to run, or a request for the usage text. */
export type ParsedArgs = { help: true } | { help: false; options: CredentialOptions };

/** Usage text printed by `--help` and named in usage errors. */
export const CREDENTIAL_USAGE = [
  'usage: tenant-guard-credential BROKER TARGET TOKEN_FILE [--ca-file FILE] [--timeout DURATION]',
  '                               [--cache-dir DIR] [--expiry-margin DURATION] [--audience AUD]',
  '',
  'A client-go exec credential plugin: presents the caller token in TOKEN_FILE to the',
  'tenant-guard broker and prints an ExecCredential for the remote cluster TARGET.',
  '',
  '  BROKER                 host[:port] (meaning https://host[:port]) or an https URL.',
  '                         A URL path is a prefix the broker is served under, except',
  '                         that a path ending in /v1/tokens is used as the token',
  '                         endpoint itself and one ending in /api/get-target-token',
  '                         selects the drop-in GET endpoint (OpenUnison compatible).',
  '  TARGET                 broker target name (the Argo CD cluster name)',
  '  TOKEN_FILE             file holding the caller token, read on every run',
  '  --ca-file FILE         PEM CA bundle for the broker (default: system roots)',
  '  --timeout DURATION     budget for the whole run, retries included (default 10s)',
  `  --cache-dir DIR        cache tokens here, one 0600 file per broker and target (env ${CACHE_DIR_ENV})`,
  "  --expiry-margin DUR    report expiry this long before the token's exp (default 10s)",
  '  --audience AUD         the aud the token must carry (default: the audience the broker',
  '                         states, else TARGET); a token for another audience is refused',
  '',
  'A JWT is printed only with the expected aud and an exp more than the margin ahead; its',
  "expirationTimestamp is the earlier of exp and the broker's, minus the margin. An opaque",
  "token needs the broker's expirationTimestamp and is kept at most 15 minutes. The cache",
  'directory must belong to this user and not be writable by group or others.',
  '',
  'DURATION: a number of seconds, or numbers with ms, s, m or h (500ms, 10s, 1m30s).',
].join('\n');

/**
 * The plugin's options, each taking a value. Durations are read by `parseDuration` (its own
 * wording); an empty TG_CREDENTIAL_CACHE_DIR counts as not set.
 */
const CREDENTIAL_FLAGS = {
  caFile: { flag: 'ca-file', kind: 'string' },
  timeout: { flag: 'timeout', kind: 'string' },
  cacheDir: { flag: 'cache-dir', env: CACHE_DIR_ENV, kind: 'string' },
  expiryMargin: { flag: 'expiry-margin', kind: 'string' },
  audience: { flag: 'audience', kind: 'string' },
} as const;

type CredentialFlagKey = keyof typeof CREDENTIAL_FLAGS;

/** `--ca-file` → `caFile`: the options the command line may give. */
const FLAG_KEYS: ReadonlyMap<string, CredentialFlagKey> = new Map(
  Object.entries(CREDENTIAL_FLAGS).map(([key, spec]) => [`--${spec.flag}`, key as CredentialFlagKey]),
);

const CREDENTIAL_FLAG_RULES: FlagRules = {
  emptyEnv: 'unset',
  // Only string flags: nothing is refused by its kind.
  invalid: (spec, message) => usageError(`--${spec.flag} ${message}`),
};

function usageError(message: string): TenantGuardError {
  return new TenantGuardError('ERR_CREDENTIAL_USAGE', `${message}; run with --help for usage`);
}

/**
 * Parses a duration the way every tenant-guard flag does (`500ms`, `10s`, `1m`, a bare number of
 * seconds; src/duration.ts), as a usage error of the plugin.
 * @returns milliseconds
 * @throws TenantGuardError ERR_CREDENTIAL_USAGE naming the flag.
 */
export function parseDuration(flag: string, raw: string): number {
  const ms = parseDurationMs(raw);
  if (ms === undefined)
    throw new TenantGuardError(
      'ERR_CREDENTIAL_USAGE',
      `${flag} "${raw}" is not a duration such as 500ms, 10s or 1m; run with --help for usage`,
    );
  return ms;
}

function splitFlags(argv: readonly string[]): {
  positionals: string[];
  flags: GivenFlags<typeof CREDENTIAL_FLAGS>;
  help: boolean;
} {
  const positionals: string[] = [];
  const flags: Partial<Record<CredentialFlagKey, string>> = {};
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const key = FLAG_KEYS.get(name);
    if (key === undefined) throw usageError(`unknown option ${name}`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined || value === '') throw usageError(`option ${name} needs a value`);
    if (flags[key] !== undefined) throw usageError(`option ${name} given twice`);
    flags[key] = value;
  }
  return { positionals, flags, help };
}

/**
 * Parses the plugin's arguments: `BROKER TARGET TOKEN_FILE` as in the original shell plugin,
 * options before, between or after them.
 * @param argv arguments after the command name
 * @param env the process environment (for `TG_CREDENTIAL_CACHE_DIR`)
 * @throws TenantGuardError ERR_CREDENTIAL_USAGE naming what is wrong.
 */
export function parseCredentialArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ParsedArgs {
  const { positionals, flags: given, help } = splitFlags(argv);
  if (help) return { help: true };
  if (positionals.length !== 3) {
    throw usageError(`expected 3 arguments BROKER TARGET TOKEN_FILE, got ${positionals.length}`);
  }
  const [broker = '', target = '', tokenFile = ''] = positionals;
  if (broker.trim() === '') throw usageError('BROKER must not be empty');
  if (target.trim() === '' || /[\s/?#&]/.test(target))
    throw usageError(`TARGET "${target}" is not a target name`);
  if (tokenFile.trim() === '') throw usageError('TOKEN_FILE must not be empty');

  const flags = resolveFlags(CREDENTIAL_FLAGS, given, env, CREDENTIAL_FLAG_RULES);
  const timeout = flags.timeout;
  const margin = flags.expiryMargin;
  const timeoutMs = timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration('--timeout', timeout);
  if (timeoutMs <= 0) throw usageError('--timeout must be more than 0');
  const expiryMarginMs =
    margin === undefined ? DEFAULT_EXPIRY_MARGIN_MS : parseDuration('--expiry-margin', margin);

  const options: CredentialOptions = { broker, target, tokenFile, timeoutMs, expiryMarginMs };
  if (flags.audience !== undefined) options.audience = flags.audience;
  if (flags.caFile !== undefined) options.caFile = flags.caFile;
  if (flags.cacheDir !== undefined) options.cacheDir = flags.cacheDir;
  return { help: false, options };
}
