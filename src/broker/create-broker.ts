/**
 * Wires a Broker from its options: the Kubernetes API (kubeconfig or in-cluster), caller
 * authentication (and the cluster's service-account issuer keys that choose a review's
 * lane), rate limiter, key store and key ring. `serve` does:
 *
 * ```ts
 * const config = parseBrokerOptions(flags, process.env);
 * const broker = await createBroker({ config, issuer: settings.issuerUrl,
 *   allowedCallers: settings.brokerAllowedCallers, registry, logger });
 * app.use(createBrokerRouter(broker));
 * // on shutdown: broker.close();
 * ```
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { pinoAuditSink } from '../audit/logger.js';
import type { AuditSink } from '../audit/record.js';
import { TenantGuardError } from '../errors.js';
import { loadKubeConfig } from '../kube/kube-config.js';
import type { RegistryProvider } from '../tenancy/registry.js';
import type { Every } from '../every.js';
import { Broker } from './broker.js';
import { createBrokerMetrics, NO_BROKER_METRICS } from './broker-metrics.js';
import { CallerAuthenticator } from './callers/caller-auth.js';
import { createKubeIssuerKeySource, IssuerKeys, type IssuerKeySource } from './callers/issuer-keys.js';
import { checkIssuer } from './discovery.js';
import { KeyManager } from './keys/key-manager.js';
import type { RingTiming } from './keys/key-ring.js';
import { DirectoryKeyStore } from './keys/key-store-directory.js';
import { SecretKeyStore } from './keys/key-store-secret.js';
import { MemoryKeyStore, type KeyStore } from './keys/key-store.js';
import { callerAuthOptions, validateBrokerConfig, type BrokerConfig } from './options.js';
import { CallerRateLimiter } from './callers/rate-limiter.js';
import { createKubeTokenReviewer, type TokenReviewer } from './callers/token-review.js';
import type { Clock } from '../clock.js';

/** The longest token TTL a Tenant may set (SPEC section 2), in seconds. */
export const MAX_TOKEN_TTL_SECONDS = 900;

/** Options of `createBroker`. */
export interface CreateBrokerOptions {
  config: BrokerConfig;
  /** Settings `issuerUrl`. */
  issuer: string;
  /** Settings `brokerAllowedCallers`. */
  allowedCallers: readonly string[];
  registry: RegistryProvider;
  logger: Logger;
  /** Where token audit records go. Default: info lines with `"audit": true` through `logger`. */
  audit?: AuditSink;
  /** prom-client registry for the broker's metrics (see broker-metrics.ts); none when absent. */
  metricsRegistry?: Registry;
  /**
   * The Kubernetes API. Undefined: `config.kubeconfig`, else in-cluster when
   * KUBERNETES_SERVICE_HOST is set, else none. Null: none (token requests get 503).
   */
  kubeConfig?: KubeConfig | null;
  /** Replaces the TokenReview call (benchmarks, tests). */
  reviewer?: TokenReviewer;
  /**
   * Replaces the source of the cluster's service-account issuer keys (tests). Default: the
   * Kubernetes API's `/openid/v1/jwks`, when there is one.
   */
  issuerKeySource?: IssuerKeySource;
  /** Replaces the key store of `config.keyStore` (tests sharing one ring). */
  keyStore?: KeyStore;
  /** The clock, epoch ms. Default Date.now. */
  now?: Clock;
  /** The broker's refusal sweep timer. Default an unref'd setInterval; tests inject theirs. */
  every?: Every;
  /**
   * Do not re-read the key ring on a timer: tests call `broker.keyManager.reconcile()` at the
   * moments of an injected clock. Default false.
   */
  manualReload?: boolean;
  /** Owner the key directory and its files must have (tests). Default: this process's uid. */
  keyDirUid?: number;
  /** Default MAX_TOKEN_TTL_SECONDS. */
  maxTokenTtlSeconds?: number;
  env?: NodeJS.ProcessEnv;
}

function resolveKubeConfig(o: CreateBrokerOptions): KubeConfig | undefined {
  if (o.kubeConfig !== undefined) return o.kubeConfig ?? undefined;
  return loadKubeConfig(o.config.kubeconfig, o.env ?? process.env);
}

function resolveKeyStore(o: CreateBrokerOptions, kc: KubeConfig | undefined): KeyStore {
  if (o.keyStore !== undefined) return o.keyStore;
  const ks = o.config.keyStore;
  if (ks.kind === 'directory')
    return new DirectoryKeyStore(ks.dir, o.keyDirUid === undefined ? {} : { uid: o.keyDirUid });
  if (ks.kind === 'secret') {
    if (kc === undefined)
      throw new TenantGuardError(
        'ERR_SETTINGS_INVALID',
        'setting --key-secret needs a Kubernetes API; run in a cluster or give --kubeconfig',
      );
    return new SecretKeyStore(kc, { namespace: ks.namespace, name: ks.name });
  }
  return new MemoryKeyStore();
}

/**
 * Builds a Broker and reads (or creates) its key ring once before returning; after that the
 * ring is re-read every reload interval until `broker.close()`. A failed first read does not
 * throw: the broker answers 503 to token requests and `broker.keyManager.readiness()` says
 * why until a read succeeds. The cluster's issuer keys are read once too (a failure is
 * logged: reviews are then queued as without them), then every 10 minutes.
 * @throws TenantGuardError ERR_SETTINGS_INVALID for inconsistent options.
 */
export async function createBroker(o: CreateBrokerOptions): Promise<Broker> {
  const { config, logger } = o;
  validateBrokerConfig(config);
  checkIssuer(o.issuer);
  const kc = resolveKubeConfig(o);
  const store = resolveKeyStore(o, kc);
  const reviewer = o.reviewer ?? (kc !== undefined ? createKubeTokenReviewer(kc) : undefined);
  const now = o.now ?? Date.now;
  // Only chooses a review's lane (served-callers.ts): without a reviewer there is none.
  const keySource = o.issuerKeySource ?? (kc !== undefined ? createKubeIssuerKeySource(kc) : undefined);
  const issuerKeys =
    reviewer === undefined || keySource === undefined
      ? undefined
      : new IssuerKeys({ source: keySource, logger, now });
  const timing: RingTiming = {
    rotationPeriodMs: config.rotationPeriodMs,
    publishAheadMs: config.publishAheadMs,
    retireMarginMs: config.retireMarginMs,
    maxTokenTtlMs: (o.maxTokenTtlSeconds ?? MAX_TOKEN_TTL_SECONDS) * 1000,
    // Another replica sees a new key up to one reload later and counts publish-ahead from then.
    spreadMs: config.reloadIntervalMs,
  };
  const keys = new KeyManager({
    store,
    alg: config.signingAlg,
    timing,
    reloadIntervalMs: config.reloadIntervalMs,
    logger,
    now,
    manualReload: o.manualReload ?? false,
  });
  const metrics =
    o.metricsRegistry === undefined
      ? NO_BROKER_METRICS
      : createBrokerMetrics(o.metricsRegistry, () => keys, {
          now,
          timing,
          ...(issuerKeys === undefined ? {} : { issuerKeys: () => issuerKeys.size }),
        });
  const authenticator =
    reviewer === undefined
      ? undefined
      : new CallerAuthenticator({
          reviewer,
          ...callerAuthOptions(config),
          issuerKeys,
          now,
          onReview: metrics.review,
          onLaneSignature: metrics.laneSignature,
        });
  if (authenticator === undefined)
    logger.warn(
      'no Kubernetes API configured: token requests will be refused (503); discovery and JWKS are served',
    );
  if (store instanceof MemoryKeyStore)
    logger.warn(
      'no key store configured (--key-dir or --key-secret): signing keys live in memory and change on restart',
    );
  // The first read of the issuer keys never fails (it logs) and is bounded by its timeout.
  await Promise.all([keys.start(), issuerKeys?.start()]);
  return new Broker({
    issuer: o.issuer,
    registry: o.registry,
    policy: { allowedCallers: o.allowedCallers, allowUnbound: config.allowUnboundCallers },
    authenticator,
    keys,
    limiter: new CallerRateLimiter(config.callerRatePerSecond, config.callerBurst),
    logger,
    audit: o.audit ?? pinoAuditSink(logger),
    metrics,
    jwksMaxAgeSeconds: config.jwksMaxAgeSeconds,
    allowRequestsWithoutServer: config.allowRequestsWithoutServer,
    now,
    ...(o.every === undefined ? {} : { every: o.every }),
    onClose: () => issuerKeys?.close(),
  });
}
