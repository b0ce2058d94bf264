/**
 * Prometheus metrics of the broker, on an injected prom-client Registry:
 * - `tenant_guard_broker_token_requests_total{tenant,result}`: `issued` or the refusal code, by
 *   the target's tenant (`none` when the target is no registered cluster: never the raw target,
 *   which a caller chooses; `_other` past the registry's bound of tenants, metric-tenants.ts);
 * - `tenant_guard_broker_token_reviews_total{outcome}` and
 *   `tenant_guard_broker_token_review_duration_seconds{outcome}`: TokenReviews made
 *   (`authenticated`, `unauthenticated`, `error`; cache hits make none);
 * - `tenant_guard_broker_lane_signature_checks_total{result}`: new caller tokens claiming a
 *   served caller's identity whose signature chose their review lane (`signed`, `forged`), or
 *   could not (`unknown`: the cluster's issuer keys are not read);
 * - `tenant_guard_broker_issuer_keys`: the cluster's service-account issuer keys held (0: none
 *   could be read, so the claims of a new token choose its lane unverified);
 * - `tenant_guard_broker_signing_keys{state}`: keys of the ring by state (`next`, `active`, `retired`);
 * - `tenant_guard_broker_active_key_age_seconds`: how long the ring's active key has been
 *   active (absent: the ring has no active key);
 * - `tenant_guard_broker_can_sign`: 1 while a key signs here now (`KeyManager.signingKey`), 0
 *   while token requests are refused ERR_BROKER_NO_SIGNING_KEY. The ring gauges say what the
 *   stored schedule says; a replica whose ring is no longer current (its store unreadable)
 *   may sign with none while the ring still has an active key;
 * - `tenant_guard_broker_key_rotation_period_seconds` and
 *   `tenant_guard_broker_key_publish_ahead_seconds`: the settings the ring runs with, so an
 *   alert on the active key's age follows a non-default `--key-rotation-period`.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import { metricTenants } from '../server/metric-tenants.js';
import type { SignatureCheck } from './callers/issuer-keys.js';
import type { KeyManager } from './keys/key-manager.js';
import type { RingTiming } from './keys/key-ring.js';

export type ReviewMetricOutcome = 'authenticated' | 'unauthenticated' | 'error';

/** What the broker reports. */
export interface BrokerMetrics {
  tokenRequest(result: string, tenant?: string): void;
  review(outcome: ReviewMetricOutcome, seconds: number): void;
  laneSignature(result: SignatureCheck): void;
}

/** Metrics that go nowhere (no registry given). */
export const NO_BROKER_METRICS: BrokerMetrics = {
  tokenRequest: () => undefined,
  review: () => undefined,
  laneSignature: () => undefined,
};

/** Options of `createBrokerMetrics`. */
export interface BrokerMetricsOptions {
  /** The broker's clock, epoch ms. Default `Date.now`. */
  now?: Clock;
  /** How many issuer keys the broker holds (issuer-keys.ts). Default: the gauge is not exported. */
  issuerKeys?: () => number;
  /** The ring's rotation settings, exported as gauges. Default: not exported. */
  timing?: Pick<RingTiming, 'rotationPeriodMs' | 'publishAheadMs'>;
}

/** Registers the broker's metrics on `registry`; the key gauges read `keys` when scraped. */
export function createBrokerMetrics(
  registry: Registry,
  keys: () => KeyManager | undefined,
  options: BrokerMetricsOptions = {},
): BrokerMetrics {
  const clock = options.now ?? Date.now;
  const tenants = metricTenants(registry);
  const requests = new Counter({
    name: 'tenant_guard_broker_token_requests_total',
    help: 'Token requests answered, by target tenant and result (issued or the refusal code).',
    labelNames: ['tenant', 'result'],
    registers: [registry],
  });
  const reviews = new Counter({
    name: 'tenant_guard_broker_token_reviews_total',
    help: 'TokenReviews made, by outcome.',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const reviewSeconds = new Histogram({
    name: 'tenant_guard_broker_token_review_duration_seconds',
    help: 'Time of a TokenReview in seconds, by outcome.',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const laneSignatures = new Counter({
    name: 'tenant_guard_broker_lane_signature_checks_total',
    help: "New caller tokens claiming a served caller's identity, by what their signature said of it (signed, forged, unknown: no issuer keys read).",
    labelNames: ['result'],
    registers: [registry],
  });
  // Every result from the first scrape on, so a rate of `forged` or `unknown` needs no series to appear first.
  for (const result of ['signed', 'forged', 'unknown'] as const) laneSignatures.inc({ result }, 0);
  const issuerKeys = options.issuerKeys;
  if (issuerKeys !== undefined)
    new Gauge({
      name: 'tenant_guard_broker_issuer_keys',
      help: "The cluster's service-account issuer keys held (0: none could be read; new tokens' claims then choose their review lane unverified).",
      registers: [registry],
      collect() {
        this.set(issuerKeys());
      },
    });
  new Gauge({
    name: 'tenant_guard_broker_signing_keys',
    help: 'Signing keys of the key ring, by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts: Record<string, number> = { next: 0, active: 0, retired: 0 };
      for (const v of keys()?.view() ?? [])
        if (v.state in counts) counts[v.state] = (counts[v.state] ?? 0) + 1;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'tenant_guard_broker_active_key_age_seconds',
    help: "Seconds since the key ring's active key became active (its notBefore); absent while the ring has none.",
    registers: [registry],
    collect() {
      this.reset();
      const now = clock();
      const active = keys()
        ?.view(now)
        .find((v) => v.state === 'active');
      if (active !== undefined) this.set((now - active.record.notBefore) / 1000);
    },
  });
  new Gauge({
    name: 'tenant_guard_broker_can_sign',
    help: '1 while a key signs on this replica now; 0 while token requests are refused ERR_BROKER_NO_SIGNING_KEY (the log and /readyz say why).',
    registers: [registry],
    collect() {
      this.set(keys()?.signingKey(clock()).key === undefined ? 0 : 1);
    },
  });
  if (options.timing !== undefined) {
    new Gauge({
      name: 'tenant_guard_broker_key_rotation_period_seconds',
      help: 'How long a signing key signs before the next takes over (--key-rotation-period), in seconds.',
      registers: [registry],
    }).set(options.timing.rotationPeriodMs / 1000);
    new Gauge({
      name: 'tenant_guard_broker_key_publish_ahead_seconds',
      help: 'How long a new signing key is published before it signs (--key-publish-ahead), in seconds.',
      registers: [registry],
    }).set(options.timing.publishAheadMs / 1000);
  }
  return {
    tokenRequest: (result, tenant) => requests.inc({ tenant: tenants.value(tenant), result }),
    review: (outcome, seconds) => {
      reviews.inc({ outcome });
      reviewSeconds.observe({ outcome }, seconds);
    },
    laneSignature: (result) => laneSignatures.inc({ result }),
  };
}
