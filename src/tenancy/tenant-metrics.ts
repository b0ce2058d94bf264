/**
 * Prometheus metrics of the watched Tenant registry. The values are read from the
 * registry's state when scraped, so nothing on the watch path sets a metric.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** What the watched registry reports about itself. */
export interface WatchState {
  /** The first full list has arrived: `current()` answers a registry. */
  readonly synced: boolean;
  /** The watch is broken: the registry serves its last good state while it is re-established. */
  readonly stale: boolean;
  /** The API server confirmed the registry within the staleness bound (readiness). */
  readonly fresh: boolean;
  /**
   * When the registry last matched its source, if ever: for the watch, when the API server
   * last confirmed it (a list, an event, a bookmark, or a watch it ended normally), as
   * readiness counts it; a quiet cluster's registry matches at every bookmark.
   */
  readonly lastSyncTime: Date | undefined;
  readonly accepted: number;
  /** Valid Tenants left out because another holds their claim. */
  readonly rejected: number;
  /** Tenants that failed validation. */
  readonly invalid: number;
  /** Watch failures since the last successful list. */
  readonly consecutiveFailures: number;
}

export const REGISTRY_METRICS = {
  synced: 'tenant_guard_registry_synced',
  stale: 'tenant_guard_registry_stale',
  fresh: 'tenant_guard_registry_fresh',
  lastSync: 'tenant_guard_registry_last_sync_timestamp_seconds',
  tenants: 'tenant_guard_registry_tenants',
  restarts: 'tenant_guard_registry_watch_restarts_total',
} as const;

/** Counts watch restarts; the only metric set from the watch path. */
export interface RestartCounter {
  inc(): void;
}

/**
 * Registers the registry's metrics in `registry`, reading `state` at every scrape. A metric
 * of the same name already there (an earlier watched registry in the same process) is
 * replaced, so the newest source reports.
 */
export function registerRegistryMetrics(registry: Registry, state: () => WatchState): RestartCounter {
  for (const name of Object.values(REGISTRY_METRICS))
    if (registry.getSingleMetric(name) !== undefined) registry.removeSingleMetric(name);
  new Gauge({
    name: REGISTRY_METRICS.synced,
    help: '1 once the Tenant registry has been filled by a full list; until then the webhook denies and /readyz answers 503',
    registers: [registry],
    collect() {
      this.set(state().synced ? 1 : 0);
    },
  });
  new Gauge({
    name: REGISTRY_METRICS.stale,
    help: '1 while the Tenant watch is broken and the registry serves its last good state',
    registers: [registry],
    collect() {
      this.set(state().stale ? 1 : 0);
    },
  });
  new Gauge({
    name: REGISTRY_METRICS.fresh,
    help: '1 while the API server confirmed the Tenant registry within its staleness bound; 0 makes /readyz answer 503',
    registers: [registry],
    collect() {
      this.set(state().fresh ? 1 : 0);
    },
  });
  new Gauge({
    name: REGISTRY_METRICS.lastSync,
    help: 'Unix time in seconds when the Tenant registry was last confirmed current by its source (a list, event, bookmark or normal watch end; 0: never)',
    registers: [registry],
    collect() {
      const t = state().lastSyncTime;
      this.set(t === undefined ? 0 : t.getTime() / 1000);
    },
  });
  new Gauge({
    name: REGISTRY_METRICS.tenants,
    help: 'Tenants seen by the watch, by state: accepted, rejected (a claim held by an older Tenant), invalid',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const s = state();
      this.set({ state: 'accepted' }, s.accepted);
      this.set({ state: 'rejected' }, s.rejected);
      this.set({ state: 'invalid' }, s.invalid);
    },
  });
  return new Counter({
    name: REGISTRY_METRICS.restarts,
    help: 'Times the Tenant watch failed and was re-established with a fresh list',
    registers: [registry],
  });
}
