/**
 * The reporter's metrics: its current results, and its health: namespace writes by outcome,
 * the namespaces waiting to be written and those whose last write failed, and when the last
 * flush ended.
 * Why the health ones: a reporter whose writes all failed (no CRD, a quota, RBAC) looked
 * the same as a healthy one from the outside; only its log told (an operator review).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ScanFinding } from '../report/scan.js';
import { metricTenants } from '../server/metric-tenants.js';

/**
 * What one namespace write did: `written` (a report created or replaced), `deleted` (only
 * deletions), `unchanged` (nothing to write), `failed` (the API refused or did not answer).
 */
export type WriteOutcomeLabel = 'written' | 'unchanged' | 'deleted' | 'failed';

export interface ReporterMetrics {
  /** Counts one namespace write. */
  write(outcome: WriteOutcomeLabel): void;
  /** A flush ended at `nowMs` (epoch ms). */
  flushed(nowMs: number): void;
}

/** What the gauges read when scraped. */
export interface ReporterMetricSources {
  readonly findings: () => readonly ScanFinding[];
  /** Namespaces waiting to be written (changed, or failed and waiting to retry). */
  readonly pending: () => number;
  /** Namespaces whose last write failed. */
  readonly failing: () => number;
}

const NO_METRICS: ReporterMetrics = { write: () => undefined, flushed: () => undefined };

/** Registers the reporter's metrics on `registry` (none without one). */
export function registerReporterMetrics(
  registry: Registry | undefined,
  sources: ReporterMetricSources,
): ReporterMetrics {
  if (registry === undefined) return NO_METRICS;
  const tenants = metricTenants(registry);
  new Gauge({
    name: 'tenant_guard_report_results',
    help: 'Current background-scan results, by tenant, rule and result (pass, fail, warn).',
    labelNames: ['tenant', 'rule', 'result'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, { tenant: string; rule: string; result: string; n: number }>();
      for (const f of sources.findings()) {
        // Keyed by the label value: tenants past the registry's bound (metric-tenants.ts) add
        // up under `_other`, and no set() overwrites another's count.
        const tenant = tenants.value(f.tenant);
        const key = `${tenant}\u0000${f.rule}\u0000${f.result}`;
        const entry = counts.get(key) ?? { tenant, rule: f.rule, result: f.result, n: 0 };
        entry.n += 1;
        counts.set(key, entry);
      }
      for (const c of counts.values()) this.set({ tenant: c.tenant, rule: c.rule, result: c.result }, c.n);
    },
  });
  const writes = new Counter({
    name: 'tenant_guard_report_writes_total',
    help: 'Namespace report writes by outcome: written, unchanged, deleted (only deletions), failed.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  // Every outcome from 0, so that rate() sees the first failure.
  for (const outcome of ['written', 'unchanged', 'deleted', 'failed'] as const) writes.inc({ outcome }, 0);
  new Gauge({
    name: 'tenant_guard_report_pending_namespaces',
    help: 'Namespaces whose reports wait to be written (changed, or failed and waiting to retry).',
    registers: [registry],
    collect() {
      this.set(sources.pending());
    },
  });
  new Gauge({
    name: 'tenant_guard_report_failing_namespaces',
    help: 'Namespaces whose last report write failed; each is retried with a growing wait, up to 5 minutes.',
    registers: [registry],
    collect() {
      this.set(sources.failing());
    },
  });
  const lastFlush = new Gauge({
    name: 'tenant_guard_report_last_flush_timestamp_seconds',
    help: 'When the last flush of the reports ended (Unix seconds); 0 before the first.',
    registers: [registry],
  });
  return {
    write: (outcome) => writes.inc({ outcome }),
    flushed: (nowMs) => lastFlush.set(nowMs / 1000),
  };
}
