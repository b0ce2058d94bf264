/**
 * Prometheus metrics of the webhook, on an injected prom-client Registry (never the global
 * one, so tests and other components each own theirs), and the `GET /metrics` handler.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Request, Response } from 'express';

/** What a request came to, as a metric label. */
export type DecisionLabel =
  | 'allowed' | 'denied' | 'warned' | 'patched' | 'unchanged' | 'unhandled'
  | 'not_synced' | 'bad_request' | 'error';

export interface RequestLabels {
  /** `mutate` or `validate`. */
  readonly endpoint: string;
  /** The guarded kind, or `unknown` before the kind is known. */
  readonly kind: string;
  readonly decision: DecisionLabel;
}

/** The webhook's request metrics. */
export interface WebhookMetrics {
  /** Counts a finished request and observes its duration in seconds. */
  observe(labels: RequestLabels, seconds: number): void;
}

const LABELS = ['endpoint', 'kind', 'decision'] as const;

/**
 * Registers `tenant_guard_admission_requests_total` and
 * `tenant_guard_admission_duration_seconds` (labels endpoint, kind, decision) on `registry`.
 */
export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  const requests = new Counter({
    name: 'tenant_guard_admission_requests_total',
    help: 'Admission requests answered, by endpoint, kind and decision.',
    labelNames: LABELS,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'tenant_guard_admission_duration_seconds',
    help: 'Time to answer an admission request, in seconds, by endpoint, kind and decision.',
    labelNames: LABELS,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  return {
    observe(labels, seconds) {
      const values = { endpoint: labels.endpoint, kind: labels.kind, decision: labels.decision };
      requests.inc(values);
      duration.observe(values, seconds);
    },
  };
}

/** `GET /metrics`: the registry in Prometheus text format. */
export function metricsHandler(registry: Registry) {
  return async (_req: Request, res: Response): Promise<void> => {
    const text = await registry.metrics();
    res.type(registry.contentType).send(text);
  };
}
