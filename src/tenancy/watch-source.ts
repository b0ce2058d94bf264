/**
 * The in-cluster registry: Tenant objects watched through a @kubernetes/client-node informer.
 *
 * - `current()` is undefined until the first full list has arrived (the webhook then denies
 *   with "registry not synced" and /readyz answers 503); after that, every add, change or
 *   delete rebuilds the registry (`buildRegistry`, oldest Tenant first) within `debounceMs`.
 * - Each Tenant is parsed with `parseTenant`; an invalid one is left out and its status
 *   says why, as does the status of a Tenant whose claim an older one holds.
 * - A watch the server ends is resumed by the informer from its last resourceVersion (and
 *   re-listed after 410 Gone). A watch or list that fails is re-established with a fresh list
 *   after a backoff; meanwhile `current()` keeps serving the last good registry, the
 *   `tenant_guard_registry_stale` gauge is 1, and one log line says so (one more on recovery).
 */
import { CustomObjectsApi, makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { describeApiFailure } from '../broker/kube-call.js';
import { isTenantGuardError } from '../errors.js';
import { buildRegistry, type RegistryProvider, type TenantRegistry } from './registry.js';
import { TENANT_API_VERSION, TENANT_GROUP, TENANT_KIND, TENANT_PLURAL, TENANT_VERSION } from './tenant-schema.js';

const SOURCE = `${TENANT_PLURAL}.${TENANT_GROUP}`;
import { parseTenant, type Tenant } from './tenant.js';
import { registerRegistryMetrics, type RestartCounter, type WatchState } from './tenant-metrics.js';
import { TenantStatusWriter, type StatusTarget } from './tenant-status-writer.js';
import { outcomeOf } from './tenant-status.js';
import { countClusters, toTenantList, type TenantObject } from './tenant-list.js';

/** Options of `WatchedRegistry`. Times in milliseconds. */
export interface WatchedRegistryOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** The Argo CD namespace, which no Tenant may list. */
  argocdNamespace: string;
  /** Where the registry's gauges go (see tenant-metrics.ts). Default: none. */
  metrics?: Registry;
  /** Write each Tenant's status (the webhook does; the broker has no right to). Default true. */
  writeStatus?: boolean;
  /** Quiet time gathering a burst of changes into one rebuild. Default 50. */
  debounceMs?: number;
  /** First delay before re-establishing a failed watch; doubled per failure. Default 500. */
  backoffInitialMs?: number;
  /** Longest delay between attempts. Default 30000. */
  backoffMaxMs?: number;
  /** Retry delay of failed status writes. Default 5000. */
  statusRetryMs?: number;
  /** Clock. Default `() => new Date()`. */
  now?: () => Date;
}

interface Parsed {
  resourceVersion: string | undefined;
  result: { tenant: Tenant } | { error: string };
}

const PATH = `/apis/${TENANT_GROUP}/${TENANT_VERSION}/${TENANT_PLURAL}`;

/** See the file comment. Call `start()`; `stop()` ends the watch. */
export class WatchedRegistry implements RegistryProvider {
  private registry: TenantRegistry | undefined;
  private informer: (Informer<TenantObject> & ObjectCache<TenantObject>) | undefined;
  /** Bumped on every (re)connect and on stop: callbacks of an older informer are ignored. */
  private generation = 0;
  /** The current informer has completed its list, so its cache is whole. */
  private listed = false;
  private stopped = true;
  private stale = false;
  private failures = 0;
  private lastSync: Date | undefined;
  private counts = { accepted: 0, rejected: 0, invalid: 0 };
  private rebuildTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly parsedCache = new Map<string, Parsed>();
  private readonly waiters: Array<() => void> = [];
  private readonly api: CustomObjectsApi;
  private readonly log: Logger;
  private readonly statusWriter: TenantStatusWriter | undefined;
  private readonly restarts: RestartCounter | undefined;
  private readonly now: () => Date;

  constructor(private readonly options: WatchedRegistryOptions) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.log = options.logger.child({ component: 'tenant-watch' });
    this.now = options.now ?? (() => new Date());
    if (options.writeStatus !== false) {
      this.statusWriter = new TenantStatusWriter(this.api, this.log, { now: this.now, ...(options.statusRetryMs === undefined ? {} : { retryMs: options.statusRetryMs }) });
    }
    if (options.metrics !== undefined) this.restarts = registerRegistryMetrics(options.metrics, () => this.state());
  }

  /** The registry, or undefined until the first full list has arrived. */
  current(): TenantRegistry | undefined {
    return this.registry;
  }

  /** What the metrics and /readyz report. */
  state(): WatchState {
    return { synced: this.registry !== undefined, stale: this.stale, lastSyncTime: this.lastSync, ...this.counts, consecutiveFailures: this.failures };
  }

  /** Starts listing and watching; returns at once (see `whenSynced`). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Resolves once the first full list has been applied. */
  whenSynced(): Promise<void> {
    if (this.registry !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends the watch and pending work; `current()` keeps its last answer. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.generation += 1;
    clearTimeout(this.rebuildTimer);
    clearTimeout(this.retryTimer);
    this.statusWriter?.stop();
    const informer = this.informer;
    this.informer = undefined;
    await informer?.stop();
    await this.statusWriter?.idle();
  }

  /** Resolves when no status write is under way (tests). */
  async statusIdle(): Promise<void> {
    await this.statusWriter?.idle();
  }

  /** A fresh informer, hence a fresh list: the way back from any failure. */
  private connect(): void {
    const generation = ++this.generation;
    this.listed = false;
    const informer = makeInformer<TenantObject>(this.options.kubeConfig, PATH, () => this.list(generation));
    const changed = (): void => {
      if (generation === this.generation) this.scheduleRebuild();
    };
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    informer.on('error', (err: unknown) => {
      if (generation === this.generation) this.failed(err);
    });
    this.informer = informer;
    // start() resolves once the list is applied and the watch request answered 200, or
    // after a failure, which the error callback has already handled (a new generation).
    informer.start().then(
      () => {
        if (generation === this.generation) this.watching();
      },
      (err: unknown) => {
        if (generation === this.generation) this.failed(err);
      },
    );
  }

  private async list(generation: number): Promise<KubernetesListObject<TenantObject>> {
    const body: unknown = await this.api.listClusterCustomObject({ group: TENANT_GROUP, version: TENANT_VERSION, plural: TENANT_PLURAL });
    const list = toTenantList(body);
    // The informer fills its cache from this list synchronously once it resolves; by the
    // time an immediate runs, the cache is whole.
    setImmediate(() => {
      if (generation === this.generation) this.listedNow();
    });
    return list;
  }

  private listedNow(): void {
    this.listed = true;
    // The list's add events scheduled a rebuild; this one reads the same whole cache.
    clearTimeout(this.rebuildTimer);
    this.rebuildTimer = undefined;
    this.rebuild();
  }

  /** The watch is up again: only now is the registry no longer stale. */
  private watching(): void {
    this.failures = 0;
    if (!this.stale) return;
    this.stale = false;
    this.log.info({ tenants: this.counts.accepted }, 'Tenant watch re-established; the registry is current again');
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    this.failures += 1;
    this.restarts?.inc();
    const delay = backoff(this.failures, this.options.backoffInitialMs ?? 500, this.options.backoffMaxMs ?? 30_000);
    const why = describeApiFailure(err);
    if (this.registry === undefined) {
      this.log.warn({ code: 'ERR_TENANT_WATCH', failures: this.failures, retryInMs: delay }, `cannot list Tenants (${why}); the registry is not synced yet; retrying`);
    } else if (!this.stale) {
      this.stale = true;
      const since = this.lastSync?.toISOString() ?? 'never';
      this.log.warn({ code: 'ERR_TENANT_WATCH', retryInMs: delay, lastSync: since }, `Tenant watch broken (${why}); serving the last good registry (${this.registry.size} tenants, as of ${since}) until it is re-established`);
    }
    const old = this.informer;
    this.generation += 1;
    this.informer = undefined;
    clearTimeout(this.rebuildTimer);
    this.rebuildTimer = undefined;
    void old?.stop();
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) this.connect();
    }, delay);
  }

  private scheduleRebuild(): void {
    if (this.rebuildTimer !== undefined) return;
    this.rebuildTimer = setTimeout(() => {
      this.rebuildTimer = undefined;
      this.rebuild();
    }, this.options.debounceMs ?? 50);
  }

  /** Builds the registry from the informer's cache; never from a cache that is being refilled. */
  private rebuild(): void {
    if (!this.listed || this.informer === undefined) return;
    const objects = this.informer.list();
    const tenants: Tenant[] = [];
    const invalid = new Map<string, string>();
    const seen = new Set<string>();
    for (const object of objects) {
      const name = object.metadata?.name;
      if (name === undefined) continue;
      seen.add(name);
      const parsed = this.parse(name, object);
      if ('tenant' in parsed.result) tenants.push(parsed.result.tenant);
      else invalid.set(name, parsed.result.error);
    }
    for (const name of this.parsedCache.keys()) if (!seen.has(name)) this.parsedCache.delete(name);
    const { registry, rejections } = buildRegistry(tenants);
    const firstSync = this.registry === undefined;
    this.registry = registry;
    this.lastSync = this.now();
    this.counts = { accepted: registry.size, rejected: rejections.length, invalid: invalid.size };
    if (firstSync) {
      this.log.info(this.counts, `Tenant registry synced: ${registry.size} accepted, ${rejections.length} rejected, ${invalid.size} invalid`);
      for (const resolve of this.waiters.splice(0)) resolve();
    }
    if (this.statusWriter === undefined) return;
    const rejected = new Map(rejections.map((r) => [r.tenant, r]));
    const targets: StatusTarget[] = [];
    for (const object of objects) {
      const name = object.metadata?.name;
      if (name !== undefined) targets.push({ name, object, outcome: outcomeOf(countClusters(object), invalid.get(name), rejected.get(name)) });
    }
    this.statusWriter.sync(targets);
  }

  /** Parses a Tenant, reusing the last result while its resourceVersion is unchanged. */
  private parse(name: string, object: TenantObject): Parsed {
    const resourceVersion = object.metadata?.resourceVersion;
    const cached = this.parsedCache.get(name);
    if (cached !== undefined && resourceVersion !== undefined && cached.resourceVersion === resourceVersion) return cached;
    const label = `${SOURCE} (Tenant "${name}")`;
    let result: Parsed['result'];
    try {
      // List items of custom resources carry apiVersion and kind; supplied in case they do not.
      result = { tenant: parseTenant({ apiVersion: TENANT_API_VERSION, kind: TENANT_KIND, ...object }, { source: SOURCE, argocdNamespace: this.options.argocdNamespace }) };
    } catch (err) {
      const message = isTenantGuardError(err) ? err.message : `${label}: cannot be read`;
      result = { error: message.startsWith(`${label}: `) ? message.slice(label.length + 2) : message };
    }
    const parsed = { resourceVersion, result };
    this.parsedCache.set(name, parsed);
    return parsed;
  }
}

/** Exponential backoff with ±20% jitter, so replicas do not retry in step. */
export function backoff(failures: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
