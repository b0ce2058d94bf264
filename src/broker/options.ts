/**
 * The broker's flags (each with an environment variable) and their parsing. The issuer URL
 * and the allowed callers are Settings of SPEC section 3 (`--issuer`, `--broker-allowed-callers`,
 * src/settings.ts); everything else the broker needs is here.
 */
import { TenantGuardError } from '../errors.js';
import { givenFlags, readDuration, resolveFlags, type FlagRules, type FlagSpec } from '../flag-value.js';
import type { CallerAuthenticatorOptions } from './callers/caller-auth.js';
import { CallerRateLimiter } from './callers/rate-limiter.js';
import type { SigningAlg } from './keys/key-ring.js';

export type { SigningAlg };

/** Where the key ring lives. */
export type KeyStoreConfig =
  | { kind: 'directory'; dir: string }
  | { kind: 'secret'; namespace: string; name: string }
  | { kind: 'memory' };

/** Parsed broker options. Durations in milliseconds unless the name says otherwise. */
export interface BrokerConfig {
  /** Kubeconfig file for TokenReviews (and the key Secret); undefined: in-cluster when there. */
  kubeconfig: string | undefined;
  keyStore: KeyStoreConfig;
  /** Audience asked of the TokenReview and required in its `status.audiences`; '' asks none. Default `tenant-guard`. */
  callerAudience: string;
  /** Default RS256. */
  signingAlg: SigningAlg;
  /** How long a key signs before the next one takes over. Default 24 h. */
  rotationPeriodMs: number;
  /** How long a new key is published before it signs. Default 60 s. */
  publishAheadMs: number;
  /** How long a retired key stays published after the longest token it may have signed expired. Default 60 s. */
  retireMarginMs: number;
  /** How often each replica re-reads the key ring from its store. Default 10 s. */
  reloadIntervalMs: number;
  /** `Cache-Control: max-age` of discovery and JWKS, in seconds, at most 30. Default 15. */
  jwksMaxAgeSeconds: number;
  /** TokenReview timeout. Default 3 s. */
  reviewTimeoutMs: number;
  /** How long a positive review is reused (never past the caller token's `exp`). Default 5 s. */
  reviewCacheTtlMs: number;
  /** Positive reviews kept (LRU). Default 1000. */
  reviewCacheSize: number;
  /** TokenReviews at once (one kept for callers served before). Default 8. */
  reviewConcurrency: number;
  /** TokenReviews waiting per lane; a full queue answers 503 with Retry-After. Default 64. */
  reviewQueueSize: number;
  /** How long a failed review (token not authenticated) is remembered. Default 5 s; 0 never. */
  reviewFailureCacheTtlMs: number;
  /** Failed reviews remembered (LRU). Default 10000. */
  reviewFailureCacheSize: number;
  /** Requests per second each source address may make whose token is not cached as authenticated, sustained. Default 10. */
  sourceRatePerSecond: number;
  /** Burst of such requests per source address. Default 20. */
  sourceBurst: number;
  /** Tokens per second each caller (its pod; the user name for an unbound token) may obtain, sustained. Default 50. */
  callerRatePerSecond: number;
  /** Burst each caller may obtain at once. Default 100. */
  callerBurst: number;
  /** Accept caller tokens not bound to a pod. Default false. */
  allowUnboundCallers: boolean;
  /** Issue tokens to requests that name no server (ADR 0011). Default false. */
  allowRequestsWithoutServer: boolean;
}

/** One broker flag: `--flag` / `env`, with the default as it would be written. */
export interface BrokerFlag<K extends string = string> extends FlagSpec {
  readonly key: K;
  readonly env: string;
  readonly description: string;
}

/** The broker flags by key, as data; `as const` keeps each kind a literal type. One row a flag. */
// prettier-ignore
const BROKER_FLAG_TABLE = {
  kubeconfig: { flag: 'kubeconfig', env: 'TG_KUBECONFIG', kind: 'string', description: 'kubeconfig file for TokenReviews and the key Secret (default: in-cluster)' },
  keyDir: { flag: 'key-dir', env: 'TG_KEY_DIR', kind: 'string', description: 'directory holding the signing key ring (local runs)' },
  keySecret: { flag: 'key-secret', env: 'TG_KEY_SECRET', kind: 'string', description: 'NAMESPACE/NAME of the Secret holding the key ring shared by all replicas' },
  callerAudience: { flag: 'caller-audience', env: 'TG_CALLER_AUDIENCE', kind: 'string', description: 'audience of caller tokens (TokenReview spec.audiences); - asks none and accepts default API server tokens (weaker)', default: 'tenant-guard' },
  signingAlg: { flag: 'signing-alg', env: 'TG_SIGNING_ALG', kind: 'string', description: 'RS256 or ES256', default: 'RS256' },
  rotationPeriod: { flag: 'key-rotation-period', env: 'TG_KEY_ROTATION_PERIOD', kind: 'duration', description: 'how long a key signs before the next takes over', default: '24h' },
  publishAhead: { flag: 'key-publish-ahead', env: 'TG_KEY_PUBLISH_AHEAD', kind: 'duration', description: 'how long a new key is published before it signs (> jwks max-age + reload interval)', default: '60s' },
  retireMargin: { flag: 'key-retire-margin', env: 'TG_KEY_RETIRE_MARGIN', kind: 'duration', description: 'how long a retired key stays published after its last token expired', default: '60s' },
  reloadInterval: { flag: 'key-reload-interval', env: 'TG_KEY_RELOAD_INTERVAL', kind: 'duration', description: 'how often the key ring is re-read from its store', default: '10s' },
  jwksMaxAge: { flag: 'jwks-max-age', env: 'TG_JWKS_MAX_AGE', kind: 'duration', description: 'Cache-Control max-age of discovery and JWKS (at most 30s)', default: '15s' },
  reviewTimeout: { flag: 'review-timeout', env: 'TG_REVIEW_TIMEOUT', kind: 'duration', description: 'TokenReview timeout', default: '3s' },
  reviewCacheTtl: { flag: 'review-cache-ttl', env: 'TG_REVIEW_CACHE_TTL', kind: 'duration', description: 'how long a positive TokenReview is reused', default: '5s' },
  reviewCacheSize: { flag: 'review-cache-size', env: 'TG_REVIEW_CACHE_SIZE', kind: 'integer', description: 'positive TokenReviews kept', default: '1000' },
  reviewConcurrency: { flag: 'review-concurrency', env: 'TG_REVIEW_CONCURRENCY', kind: 'integer', description: 'TokenReviews at once (one kept for callers served before)', default: '8' },
  reviewQueue: { flag: 'review-queue', env: 'TG_REVIEW_QUEUE', kind: 'integer', description: 'TokenReviews waiting; beyond, 503 with Retry-After', default: '64' },
  reviewFailureCacheTtl: { flag: 'review-failure-cache-ttl', env: 'TG_REVIEW_FAILURE_CACHE_TTL', kind: 'duration', description: 'how long a failed TokenReview is remembered (0: never)', default: '5s' },
  reviewFailureCacheSize: { flag: 'review-failure-cache-size', env: 'TG_REVIEW_FAILURE_CACHE_SIZE', kind: 'integer', description: 'failed TokenReviews remembered', default: '10000' },
  sourceRate: { flag: 'source-rate', env: 'TG_SOURCE_RATE', kind: 'number', description: 'requests per second one source address may make with a token not cached as authenticated', default: '10' },
  sourceBurst: { flag: 'source-burst', env: 'TG_SOURCE_BURST', kind: 'integer', description: 'such requests one source address may make at once', default: '20' },
  callerRate: { flag: 'caller-rate', env: 'TG_CALLER_RATE', kind: 'number', description: 'tokens per second one caller (pod) may obtain', default: '50' },
  callerBurst: { flag: 'caller-burst', env: 'TG_CALLER_BURST', kind: 'integer', description: 'tokens one caller (pod) may obtain at once', default: '100' },
  allowUnboundCallers: { flag: 'allow-unbound-callers', env: 'TG_ALLOW_UNBOUND_CALLERS', kind: 'boolean', description: 'accept caller tokens not bound to a pod', default: 'false' },
  allowRequestsWithoutServer: { flag: 'allow-requests-without-server', env: 'TG_ALLOW_REQUESTS_WITHOUT_SERVER', kind: 'boolean', description: 'issue tokens to requests that name no server (cluster Secrets without provideClusterInfo; a migration aid)', default: 'false' },
} as const satisfies Readonly<Record<string, Omit<BrokerFlag, 'key'>>>;

/** The key of a broker flag: `parseBrokerOptions` reads values by it, so a typo does not compile. */
export type BrokerFlagKey = keyof typeof BROKER_FLAG_TABLE;

/** Every broker flag, for the serve command to register (commander: `.option(`--${flag} <value>`, description)`). */
export const brokerFlags: readonly BrokerFlag<BrokerFlagKey>[] = Object.entries(BROKER_FLAG_TABLE).map(
  ([key, spec]) => ({ key: key as BrokerFlagKey, ...spec }),
);

function bad(flag: string, message: string): TenantGuardError {
  return new TenantGuardError('ERR_SETTINGS_INVALID', `setting --${flag} ${message}`);
}

/** What `--caller-audience` / TG_CALLER_AUDIENCE is set to for no audience (SPEC section 7's empty audience). */
export const NO_AUDIENCE = '-';

/**
 * How the broker reads its flags: an empty value is refused (TG_CALLER_AUDIENCE asks no
 * audience with `-`, never with ''), and a bad value is ERR_SETTINGS_INVALID naming the flag
 * and, when it came from one, the environment variable.
 */
const BROKER_FLAG_RULES: FlagRules = {
  emptyEnv: 'refuse',
  invalid: (spec, message, source) =>
    bad(spec.flag, source.startsWith('TG_') ? `(${source}) ${message}` : message),
};

/**
 * Parses a duration: `500ms`, `30s`, `5m`, `24h`, `1h30m`, or a bare number of seconds.
 * @throws TenantGuardError ERR_SETTINGS_INVALID naming the flag.
 */
export function parseDuration(flag: string, value: string): number {
  return readDuration(value, (message) => bad(flag, message));
}

/**
 * Builds the broker's options from flag values (keyed by `BrokerFlag.key` or by flag name
 * in camelCase as commander gives them) and the environment; flags win over the environment,
 * which wins over defaults.
 * @throws TenantGuardError ERR_SETTINGS_INVALID naming the flag and what is allowed.
 */
export function parseBrokerOptions(
  flags: Readonly<Record<string, string | boolean | undefined>>,
  env: NodeJS.ProcessEnv = {},
): BrokerConfig {
  const f = resolveFlags(BROKER_FLAG_TABLE, givenFlags(BROKER_FLAG_TABLE, flags), env, BROKER_FLAG_RULES);
  const keyDir = f.keyDir;
  const keySecret = f.keySecret;
  if (keyDir !== undefined && keySecret !== undefined)
    throw bad('key-dir', 'and --key-secret are exclusive; give one');
  let keyStore: KeyStoreConfig = { kind: 'memory' };
  if (keyDir !== undefined) keyStore = { kind: 'directory', dir: keyDir };
  if (keySecret !== undefined) {
    const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(keySecret);
    if (m === null) throw bad('key-secret', `"${keySecret}" is not NAMESPACE/NAME`);
    keyStore = { kind: 'secret', namespace: m[1] ?? '', name: m[3] ?? '' };
  }
  const alg = f.signingAlg.toUpperCase();
  if (alg !== 'RS256' && alg !== 'ES256')
    throw bad('signing-alg', `"${f.signingAlg}" is not allowed; use RS256 or ES256`);

  const config: BrokerConfig = {
    kubeconfig: f.kubeconfig,
    keyStore,
    callerAudience: f.callerAudience.trim() === NO_AUDIENCE ? '' : f.callerAudience.trim(),
    signingAlg: alg,
    rotationPeriodMs: f.rotationPeriod,
    publishAheadMs: f.publishAhead,
    retireMarginMs: f.retireMargin,
    reloadIntervalMs: f.reloadInterval,
    jwksMaxAgeSeconds: f.jwksMaxAge / 1000,
    reviewTimeoutMs: f.reviewTimeout,
    reviewCacheTtlMs: f.reviewCacheTtl,
    reviewCacheSize: f.reviewCacheSize,
    reviewConcurrency: f.reviewConcurrency,
    reviewQueueSize: f.reviewQueue,
    reviewFailureCacheTtlMs: f.reviewFailureCacheTtl,
    reviewFailureCacheSize: f.reviewFailureCacheSize,
    sourceRatePerSecond: f.sourceRate,
    sourceBurst: f.sourceBurst,
    callerRatePerSecond: f.callerRate,
    callerBurst: f.callerBurst,
    allowUnboundCallers: f.allowUnboundCallers,
    allowRequestsWithoutServer: f.allowRequestsWithoutServer,
  };
  validateBrokerConfig(config);
  return config;
}

/**
 * Checks the relations between options that keep rotation safe.
 * @throws TenantGuardError ERR_SETTINGS_INVALID naming the option.
 */
export function validateBrokerConfig(c: BrokerConfig): void {
  if (!Number.isInteger(c.jwksMaxAgeSeconds) || c.jwksMaxAgeSeconds < 0 || c.jwksMaxAgeSeconds > 30) {
    // go-oidc v2 re-fetches the JWKS on an unknown kid only when its copy expires within 30 s.
    throw bad('jwks-max-age', `must be whole seconds from 0 to 30 (got ${c.jwksMaxAgeSeconds}s)`);
  }
  const positive: Array<[string, number]> = [
    ['key-rotation-period', c.rotationPeriodMs],
    ['key-publish-ahead', c.publishAheadMs],
    ['key-reload-interval', c.reloadIntervalMs],
    ['review-timeout', c.reviewTimeoutMs],
    ['review-cache-size', c.reviewCacheSize],
    ['caller-rate', c.callerRatePerSecond],
    ['caller-burst', c.callerBurst],
    ['review-concurrency', c.reviewConcurrency],
    ['review-failure-cache-size', c.reviewFailureCacheSize],
    ['source-rate', c.sourceRatePerSecond],
    ['source-burst', c.sourceBurst],
  ];
  for (const [flag, value] of positive)
    if (!(value > 0)) throw bad(flag, `must be greater than 0 (got ${value})`);
  if (c.retireMarginMs < 0) throw bad('key-retire-margin', 'must not be negative');
  if (c.reviewCacheTtlMs < 0) throw bad('review-cache-ttl', 'must not be negative');
  if (c.reviewFailureCacheTtlMs < 0) throw bad('review-failure-cache-ttl', 'must not be negative');
  if (c.reviewQueueSize < 0) throw bad('review-queue', 'must not be negative');
  // Every replica must have re-read and published a new key, and every cached JWKS must have
  // expired, before that key signs.
  const floor = c.jwksMaxAgeSeconds * 1000 + c.reloadIntervalMs;
  if (c.publishAheadMs <= floor)
    throw bad(
      'key-publish-ahead',
      `(${c.publishAheadMs}ms) must exceed --jwks-max-age plus --key-reload-interval (${floor}ms)`,
    );
  if (c.rotationPeriodMs < c.publishAheadMs)
    throw bad(
      'key-rotation-period',
      `(${c.rotationPeriodMs}ms) must be at least --key-publish-ahead (${c.publishAheadMs}ms)`,
    );
}

/**
 * The caller-authentication options of a BrokerConfig, for `new CallerAuthenticator({ reviewer,
 * ...callerAuthOptions(config), now })`: timeouts, both review caches, the review queue and the
 * per-source limit.
 */
export function callerAuthOptions(
  c: BrokerConfig,
): Omit<CallerAuthenticatorOptions, 'reviewer' | 'now' | 'onReview'> {
  return {
    audience: c.callerAudience,
    timeoutMs: c.reviewTimeoutMs,
    cacheTtlMs: c.reviewCacheTtlMs,
    cacheSize: c.reviewCacheSize,
    maxConcurrentReviews: c.reviewConcurrency,
    maxQueuedReviews: c.reviewQueueSize,
    failureCacheTtlMs: c.reviewFailureCacheTtlMs,
    failureCacheSize: c.reviewFailureCacheSize,
    sourceLimiter: new CallerRateLimiter(c.sourceRatePerSecond, c.sourceBurst),
  };
}
