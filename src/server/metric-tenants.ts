/**
 * The `tenant` label of the metrics, bounded: the first `max` tenants a process counts get a
 * label value of their own, every later one shares `_other`. Every series with a tenant
 * label (the webhook's, the broker's) reads its value here, one bound per metrics registry.
 *
 * Why: a series per tenant and per kind, decision or rule gave ~12 series a tenant. With
 * 10,000 tenants that was 120,000 series and 14 MB a scrape, and rendering them held the
 * event loop that answers admission reviews for ~0.4-0.7 s at every scrape (an operator's
 * review). The documented way out, dropping the label at scrape time (`labeldrop`), merged
 * the tenants' samples into one series, of which Prometheus kept one and dropped the rest:
 * counters that summed to 147 were stored as 100, with no error anywhere.
 * `_other` cannot be a tenant's name (a Tenant's name is a DNS subdomain: no `_`).
 */
import { Gauge, type Registry } from 'prom-client';

/** The tenant label value for an object without a tenant. */
export const NO_TENANT = 'none';

/** The tenant label value every tenant past the bound shares. */
export const OTHER_TENANTS = '_other';

/** Tenants with a label value of their own, by default (`--metrics-max-tenants`). */
export const DEFAULT_METRIC_TENANTS = 1000;

/** Largest `--metrics-max-tenants`. */
export const MAX_METRIC_TENANTS = 100_000;

/** The bounded tenant label values of one metrics registry. */
export class MetricTenants {
  private readonly labelled = new Set<string>();

  constructor(readonly max: number = DEFAULT_METRIC_TENANTS) {}

  /** The label value for `tenant`: `none` for no tenant, the name while within the bound, else `_other`. */
  value(tenant: string | undefined): string {
    if (tenant === undefined || tenant === NO_TENANT) return NO_TENANT;
    if (this.labelled.has(tenant)) return tenant;
    if (this.labelled.size >= this.max) return OTHER_TENANTS;
    this.labelled.add(tenant);
    return tenant;
  }

  /** Tenants with a label value of their own so far. */
  get size(): number {
    return this.labelled.size;
  }
}

const BY_REGISTRY = new WeakMap<Registry, MetricTenants>();

/**
 * The bound of `registry`'s tenant label values, with its gauge
 * `tenant_guard_metric_tenants` (tenants labelled so far; at the bound, later ones count
 * under `_other`). Made with the default bound on first use unless `boundMetricTenants` set
 * another.
 */
export function metricTenants(registry: Registry): MetricTenants {
  return BY_REGISTRY.get(registry) ?? boundMetricTenants(registry, DEFAULT_METRIC_TENANTS);
}

/**
 * Sets `registry`'s bound to `max` tenants (before any metric reads it).
 * @throws Error when the registry already has a bound: one process, one bound.
 */
export function boundMetricTenants(registry: Registry, max: number): MetricTenants {
  if (BY_REGISTRY.has(registry)) throw new Error('the metrics registry already has a tenant bound');
  const tenants = new MetricTenants(max);
  BY_REGISTRY.set(registry, tenants);
  new Gauge({
    name: 'tenant_guard_metric_tenants',
    help: 'Tenants whose series carry their own tenant label value; at --metrics-max-tenants, the rest count under tenant="_other".',
    registers: [registry],
    collect() {
      this.set(tenants.size);
    },
  });
  return tenants;
}
