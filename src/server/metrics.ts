/**
 * Prometheus metrics of the webhook, on an injected prom-client Registry (never the global
 * one, so tests and other components each own theirs), and the `GET /metrics` handler.
 *
 * Every name starts with `tenant_guard_`; prom-client's default metrics keep their standard
 * names (`process_*`, `nodejs_*`) so the usual dashboards work. Label values are bounded:
 * tenants come from the registry, at most `--metrics-max-tenants` of them (`none` when an
 * object has no tenant, `_other` past the bound: metric-tenants.ts), rules from the rule
 * catalogue, kinds from the guarded kinds. See docs/observability.md for the cardinality.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Request, Response } from 'express';
import { VERSION } from '../version.js';
import { boundMetricTenants, DEFAULT_METRIC_TENANTS, metricTenants, NO_TENANT } from './metric-tenants.js';
import { renderMetrics, writeMetrics } from './metrics-render.js';

export { NO_TENANT };

/** What a request came to, as a metric label. */
export type DecisionLabel =
  | 'allowed'
  | 'denied'
  | 'warned'
  | 'patched'
  | 'unchanged'
  | 'unhandled'
  | 'not_synced'
  | 'bad_request'
  | 'busy'
  | 'client_refused'
  | 'client_reconnect'
  | 'error';

export interface RequestLabels {
  /** `mutate` or `validate`. */
  readonly endpoint: string;
  /** The guarded kind, or `unknown` before the kind is known. */
  readonly kind: string;
  readonly decision: DecisionLabel;
  /** The object's tenant (a registry name), or `none`. */
  readonly tenant?: string;
}

/** How a rule's finding ended: it denied, it was relaxed with a warning, or only audited. */
export type RuleAction = 'denied' | 'warned' | 'audited';

export interface RuleResultLabels {
  readonly kind: string;
  readonly tenant: string;
  readonly rule: string;
  readonly action: RuleAction;
}

/** The webhook's request metrics. */
export interface WebhookMetrics {
  /** Counts a finished request and observes its duration in seconds. */
  observe(labels: RequestLabels, seconds: number): void;
  /** Counts `count` (default 1) findings of one rule in a `/validate` decision. */
  ruleResult(labels: RuleResultLabels, count?: number): void;
}

export const WEBHOOK_METRICS = {
  requests: 'tenant_guard_admission_requests_total',
  duration: 'tenant_guard_admission_duration_seconds',
  ruleResults: 'tenant_guard_admission_rule_results_total',
} as const;

/**
 * Registers the admission metrics on `registry`:
 * - `tenant_guard_admission_requests_total{endpoint,kind,decision,tenant}`;
 * - `tenant_guard_admission_duration_seconds{endpoint,kind,decision}` (no tenant label: a
 *   histogram per tenant would multiply its buckets by the tenants);
 * - `tenant_guard_admission_rule_results_total{kind,tenant,rule,action}`.
 */
export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  const tenants = metricTenants(registry);
  const requests = new Counter({
    name: WEBHOOK_METRICS.requests,
    help: 'Admission requests answered, by endpoint, kind, decision and tenant.',
    labelNames: ['endpoint', 'kind', 'decision', 'tenant'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: WEBHOOK_METRICS.duration,
    help: 'Time to answer an admission request, in seconds, by endpoint, kind and decision.',
    labelNames: ['endpoint', 'kind', 'decision'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const rules = new Counter({
    name: WEBHOOK_METRICS.ruleResults,
    help: 'Rule findings of /validate decisions, by kind, tenant, rule id and action (denied, warned, audited).',
    labelNames: ['kind', 'tenant', 'rule', 'action'] as const,
    registers: [registry],
  });
  return {
    observe(labels, seconds) {
      requests.inc({
        endpoint: labels.endpoint,
        kind: labels.kind,
        decision: labels.decision,
        tenant: tenants.value(labels.tenant),
      });
      duration.observe({ endpoint: labels.endpoint, kind: labels.kind, decision: labels.decision }, seconds);
    },
    ruleResult(labels, count = 1) {
      rules.inc(
        {
          kind: labels.kind,
          tenant: tenants.value(labels.tenant),
          rule: labels.rule,
          action: labels.action,
        },
        count,
      );
    },
  };
}

/**
 * A Registry with prom-client's default metrics under their standard names,
 * `tenant_guard_build_info{version,node}`, and its bound of tenant label values
 * (`maxTenants`, default DEFAULT_METRIC_TENANTS: metric-tenants.ts).
 */
export function createMetricsRegistry(maxTenants = DEFAULT_METRIC_TENANTS): Registry {
  const registry = new Registry();
  boundMetricTenants(registry, maxTenants);
  collectDefaultMetrics({ register: registry });
  const info = new Gauge({
    name: 'tenant_guard_build_info',
    help: 'Always 1; the labels say which tenant-guard version runs on which Node.js.',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  });
  info.set({ version: VERSION, node: process.version }, 1);
  return registry;
}

/**
 * `tenant_guard_tls_certificate_expiry_seconds`: seconds until the serving certificate's
 * notAfter (negative once expired), on this pod's clock; and
 * `tenant_guard_tls_certificate_not_after_timestamp_seconds`: that notAfter as Unix time, which
 * needs no pod clock (the alert compares it with Prometheus's `time()`). Both read `validTo`
 * at every scrape.
 */
export function registerCertificateExpiry(
  registry: Registry,
  validTo: () => string,
  now: () => number = Date.now,
): void {
  new Gauge({
    name: 'tenant_guard_tls_certificate_expiry_seconds',
    help: 'Seconds until the serving certificate expires (notAfter); negative once it has.',
    registers: [registry],
    collect() {
      this.set((Date.parse(validTo()) - now()) / 1000);
    },
  });
  new Gauge({
    name: 'tenant_guard_tls_certificate_not_after_timestamp_seconds',
    help: "Unix time in seconds of the serving certificate's notAfter.",
    registers: [registry],
    collect() {
      this.set(Date.parse(validTo()) / 1000);
    },
  });
}

/**
 * `tenant_guard_tls_certificate_refused`: 1 while the certificate files on disk hold a pair the
 * server refused on reload (expired, not valid yet, broken, or half written) and it serves the
 * pair it had; 0 while it serves what the files hold. `refused` is read at every scrape.
 */
export function registerCertificateRefused(registry: Registry, refused: () => string | undefined): void {
  new Gauge({
    name: 'tenant_guard_tls_certificate_refused',
    help: '1 while the serving certificate files hold a pair refused on reload (the log says why) and the previous pair is served',
    registers: [registry],
    collect() {
      this.set(refused() === undefined ? 0 : 1);
    },
  });
}

/**
 * `tenant_guard_connections_closed_total{reason}`: connections the HTTPS server's guard closed
 * or refused (connection-guard.ts): `at_cap`, an idle one closed to make room for a new one;
 * `per_source`, an idle one past its address's share; `refused`, a new one while every open
 * one had a request in flight. `counts` is read at every scrape.
 */
export function registerConnectionsClosed(
  registry: Registry,
  counts: () => { evictedAtCap: number; evictedPerSource: number; refused: number },
): void {
  new Counter({
    name: 'tenant_guard_connections_closed_total',
    help: "Connections closed to keep the connection cap: idle ones at the cap (at_cap) or past one address's share (per_source), and new ones refused while all were busy (refused).",
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      const now = counts();
      this.reset();
      this.inc({ reason: 'at_cap' }, now.evictedAtCap);
      this.inc({ reason: 'per_source' }, now.evictedPerSource);
      this.inc({ reason: 'refused' }, now.refused);
    },
  });
}

/**
 * `GET /metrics`: the registry in its text format (Prometheus's by default), rendered and
 * written in slices that leave the event loop to admission reviews in between, one render
 * shared by concurrent scrapes (metrics-render.ts).
 */
export function metricsHandler(registry: Registry) {
  return async (_req: Request, res: Response): Promise<void> => {
    const parts = await renderMetrics(registry);
    await writeMetrics(res.type(registry.contentType), parts);
  };
}
