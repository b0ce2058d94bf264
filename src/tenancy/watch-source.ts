/**
 * The in-cluster registry: Tenant objects watched through a @kubernetes/client-node informer.
 *
 * - `current()` is undefined until the first full list has arrived (the webhook then denies
 *   with "registry not synced" and /readyz answers 503); after that, every add, change or
 *   delete rebuilds the registry (`buildRegistry`, oldest Tenant first) within `debounceMs`.
 * - Each Tenant is parsed with `parseTenant` (once per resourceVersion: tenant-parse-cache.ts);
 *   an invalid one is left out and its status says why, as does the status of a Tenant whose
 *   claim an older one holds.
 * - A watch the server ends is resumed by the informer from its last resourceVersion, and
 *   re-listed at once after a 410 Gone; a further 410 before a watch proved itself is a
 *   failure (client-go's reflector backs off between lists too). A watch or list that fails
 *   (bounded-watch.ts says what a watch failure is: a line that is no event, an ERROR event,
 *   a very short watch, 410 again...) is re-established with a fresh list after a backoff
 *   that grows until a watch proves itself (an event or bookmark applied, or a normal end),
 *   or the API server's Retry-After; meanwhile `current()` keeps serving the last good
 *   registry, the `tenant_guard_registry_stale` gauge is 1, and one log line says so (one
 *   more on recovery).
 * - A watch that goes silent (no event, no bookmark, no end within `silenceMs`; bookmarks
 *   are asked for) and a list with no answer within `listTimeoutMs` count as failures too
 *   (see bounded-watch.ts). `isFresh()` is false while the registry has not been confirmed
 *   by the API server for longer than `maxStalenessMs`: /readyz then answers 503. The
 *   last-sync gauge is the time of that confirmation (once the registry holds what was
 *   confirmed), so it moves with bookmarks in a quiet cluster too.
 * - Every accepted, refused, changed and removed Tenant is logged, and (when this replica
 *   writes status) recorded as a Kubernetes Event on the Tenant and written to its status
 *   (tenant-verdict-reporter.ts).
 * - `stop()` aborts every request in flight (list, watch, status write, Event).
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  ListWatch,
  type KubeConfig,
  type KubernetesListObject,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isTenantGuardError } from '../errors.js';
import type { Registry } from 'prom-client';
import {
  BoundedWatch,
  describeWatchFailure,
  REAL_TIMERS,
  SilentWatchError,
  type WatchTimers,
} from './bounded-watch.js';
import type { RegistryProvider, TenantRegistry } from './registry.js';
import { continueBuild, type InForceState } from './registry-in-force.js';
import { backoff, retryAfterMs } from './watch-backoff.js';
import { TENANT_GROUP, TENANT_PLURAL, TENANT_VERSION } from './tenant-schema.js';
import { registerRegistryMetrics, type RestartCounter, type WatchState } from './tenant-metrics.js';
import { TenantParseCache } from './tenant-parse-cache.js';
import { TenantVerdictReporter } from './tenant-verdict-reporter.js';
import type { TenantObject } from './tenant-list.js';
import { RegistryMeter } from './registry-size.js';
import { listTenantPages } from './tenant-pages.js';
import type { Clock } from '../clock.js';

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
  /** Record a Kubernetes Event on a Tenant for each change. Default: `writeStatus`. */
  emitEvents?: boolean;
  /** A watch with no event, bookmark or end for this long is abandoned and re-listed. Default 45000. */
  silenceMs?: number;
  /** `timeoutSeconds` asked of the API server for each watch. Default 30. */
  watchTimeoutSeconds?: number;
  /** A list with no answer for this long is abandoned. Default 10000. */
  listTimeoutMs?: number;
  /** `isFresh()` (readiness) is false once the registry is older than this. Default 60000. */
  maxStalenessMs?: number;
  /** Clock. Default `Date.now`. */
  now?: Clock;
  /** Largest registry held, in characters of the Tenants' JSON. Default MAX_REGISTRY_CHARS (registry-size.ts). */
  maxRegistryChars?: number;
  /** Timers of the silence and list bounds (tests inject them). Default: real, unref'd. */
  timers?: WatchTimers;
  /** Timer of the backoff before a new list (tests inject it). Default: Node's. */
  retryTimers?: WatchTimers;
}

/** Defaults of the watch's time bounds, in ms (see WatchedRegistryOptions). */
export const WATCH_DEFAULTS = {
  silenceMs: 45_000,
  watchTimeoutSeconds: 30,
  listTimeoutMs: 10_000,
  maxStalenessMs: 60_000,
} as const;

/** The retry's default timers: Node's own (not unref'd, unlike REAL_TIMERS). */
const NODE_TIMERS: WatchTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const PATH = `/apis/${TENANT_GROUP}/${TENANT_VERSION}/${TENANT_PLURAL}`;

/** See the file comment. Call `start()`; `stop()` ends the watch. */
export class WatchedRegistry implements RegistryProvider {
  private registry: TenantRegistry | undefined;
  private informer: ListWatch<TenantObject> | undefined;
  private watch: BoundedWatch | undefined;
  /** Aborted by `stop()`: ends a list in flight. */
  private stopper = new AbortController();
  /** When the API server last confirmed the registry (a list, an event or bookmark, or a watch's normal end). */
  private confirmedAt: Date | undefined;
  private readonly timers: WatchTimers;
  /** Bumped on every (re)connect and on stop: callbacks of an older informer are ignored. */
  private generation = 0;
  /** The current informer has completed its list, so its cache is whole. */
  private listed = false;
  private stopped = true;
  private stale = false;
  private failures = 0;
  /** 410 Gone answers since a watch last proved itself: only the first is re-listed at once. */
  private expiries = 0;
  /**
   * When the registry last matched the API server: a rebuild from a whole cache, or a
   * confirmation of the cache it was built from (the `..._last_sync_timestamp_seconds` gauge).
   */
  private lastSync: Date | undefined;
  private counts = { accepted: 0, rejected: 0, invalid: 0 };
  private rebuildTimer: NodeJS.Timeout | undefined;
  private retryTimer: unknown;
  private readonly retryTimers: WatchTimers;
  private readonly parsed: TenantParseCache;
  /** What is in force (each Tenant's status records it), and the withheld Tenants. */
  private inForce: InForceState = { withheld: new Map(), records: new Map() };
  private readonly waiters: Array<() => void> = [];
  private readonly api: CustomObjectsApi;
  private readonly log: Logger;
  private readonly verdicts: TenantVerdictReporter;
  private readonly restarts: RestartCounter | undefined;
  private readonly now: Clock;

  constructor(private readonly options: WatchedRegistryOptions) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.log = options.logger.child({ component: 'tenant-watch' });
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? REAL_TIMERS;
    this.retryTimers = options.retryTimers ?? NODE_TIMERS;
    this.parsed = new TenantParseCache(options.argocdNamespace);
    this.verdicts = new TenantVerdictReporter({
      log: this.log,
      now: this.now,
      eventsApi:
        (options.emitEvents ?? options.writeStatus !== false)
          ? options.kubeConfig.makeApiClient(CoreV1Api)
          : undefined,
      statusApi: options.writeStatus !== false ? this.api : undefined,
      ...(options.statusRetryMs === undefined ? {} : { statusRetryMs: options.statusRetryMs }),
    });
    if (options.metrics !== undefined)
      this.restarts = registerRegistryMetrics(options.metrics, () => this.state());
  }

  /** The registry, or undefined until the first full list has arrived. */
  current(): TenantRegistry | undefined {
    return this.registry;
  }

  /** What the metrics and /readyz report. */
  state(): WatchState {
    return {
      synced: this.registry !== undefined,
      stale: this.stale,
      fresh: this.isFresh(),
      lastSyncTime: this.lastSync,
      ...this.counts,
      consecutiveFailures: this.failures,
    };
  }

  /**
   * Readiness: the registry exists and the API server confirmed it within `maxStalenessMs`
   * (a list, an event, a bookmark, or a watch the server ended normally).
   */
  isFresh(): boolean {
    if (this.registry === undefined || this.confirmedAt === undefined) return false;
    return (
      this.now() - this.confirmedAt.getTime() <=
      (this.options.maxStalenessMs ?? WATCH_DEFAULTS.maxStalenessMs)
    );
  }

  /** Milliseconds since the API server last confirmed the registry; undefined before the first list. */
  ageMs(): number | undefined {
    return this.confirmedAt === undefined ? undefined : this.now() - this.confirmedAt.getTime();
  }

  /** Starts listing and watching; returns at once (see `whenSynced`). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopper = new AbortController();
    this.connect();
  }

  /** Resolves once the first full list has been applied. */
  whenSynced(): Promise<void> {
    if (this.registry !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Ends the watch and pending work, aborting every request in flight (so shutdown never
   * waits on a hung API server); `current()` keeps its last answer.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.generation += 1;
    clearTimeout(this.rebuildTimer);
    this.retryTimers.clearTimeout(this.retryTimer);
    this.stopper.abort();
    this.verdicts.stop();
    this.watch?.abortAll();
    this.watch = undefined;
    const informer = this.informer;
    this.informer = undefined;
    await informer?.stop();
    await this.verdicts.idle();
  }

  /** Resolves when no Event is being written (tests). */
  async eventsIdle(): Promise<void> {
    await this.verdicts.eventsIdle();
  }

  /** Resolves when no status write is under way (tests). */
  async statusIdle(): Promise<void> {
    await this.verdicts.statusIdle();
  }

  /** A fresh informer, hence a fresh list: the way back from any failure. */
  private connect(): void {
    const generation = ++this.generation;
    this.listed = false;
    const watch = new BoundedWatch(this.options.kubeConfig, {
      silenceMs: this.options.silenceMs ?? WATCH_DEFAULTS.silenceMs,
      timeoutSeconds: this.options.watchTimeoutSeconds ?? WATCH_DEFAULTS.watchTimeoutSeconds,
      timers: this.timers,
      now: this.now,
      onConfirmed: () => {
        if (generation === this.generation) this.confirmed();
      },
      // A 410 after compaction is normal: re-listed at once. Another before a watch proved
      // itself is a failure, backed off: 410 on every watch re-listed ~300 times a second,
      // while the registry counted as fresh and nothing was logged (a red-team review).
      onExpired: () => generation === this.generation && ++this.expiries === 1,
    });
    this.watch = watch;
    const informer = new ListWatch<TenantObject>(PATH, watch, () => this.list(generation), false);
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
    // start() resolves once the list is applied and the watch request sent (the watch has
    // proved nothing yet: see confirmed()), or after a failure, which the error callback has
    // already handled (a new generation).
    informer.start().catch((err: unknown) => {
      if (generation === this.generation) this.failed(err);
    });
  }

  /** The Tenants, in pages, within the registry's bound (tenant-pages.ts). */
  private async list(generation: number): Promise<KubernetesListObject<TenantObject>> {
    const list = await listTenantPages(this.api, {
      stop: this.stopper.signal,
      timers: this.timers,
      listTimeoutMs: this.options.listTimeoutMs ?? WATCH_DEFAULTS.listTimeoutMs,
      maxRegistryChars: this.options.maxRegistryChars,
    });
    // The informer fills its cache from this list synchronously once it resolves; by the
    // time an immediate runs, the cache is whole.
    setImmediate(() => {
      if (generation === this.generation) this.listedNow();
    });
    return list;
  }

  private listedNow(): void {
    this.listed = true;
    this.confirmedAt = new Date(this.now());
    // The list's add events scheduled a rebuild; this one reads the same whole cache.
    clearTimeout(this.rebuildTimer);
    this.rebuildTimer = undefined;
    this.rebuild();
  }

  /**
   * The API server vouched for the registry: an event or bookmark applied, or a watch it ended
   * normally. Only now, not when a watch request is sent, is a broken watch re-established:
   * the backoff grows while watches keep failing, and the stale gauge holds.
   */
  private confirmed(): void {
    this.confirmedAt = new Date(this.now());
    if (!this.listed) return;
    // The registry matches the confirmed cache unless a rebuild is pending (it sets lastSync).
    if (this.rebuildTimer === undefined && this.registry !== undefined) this.lastSync = this.confirmedAt;
    this.failures = 0;
    this.expiries = 0;
    if (!this.stale) return;
    this.stale = false;
    this.log.info(
      { tenants: this.counts.accepted },
      'Tenant watch re-established; the registry is current again',
    );
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    this.failures += 1;
    this.restarts?.inc();
    const maxMs = this.options.backoffMaxMs ?? 30_000;
    // The API server's Retry-After (429, 503) is honoured, within the longest backoff.
    const delay = Math.max(
      backoff(this.failures, this.options.backoffInitialMs ?? 500, maxMs),
      Math.min(maxMs, retryAfterMs(err) ?? 0),
    );
    const why = isTenantGuardError(err, 'ERR_REGISTRY_TOO_LARGE') ? err.message : describeWatchFailure(err);
    if (err instanceof SilentWatchError) {
      // Logged every time: a hang is worth a line even while already stale.
      this.log.warn(
        { code: 'ERR_TENANT_WATCH', silentMs: err.silentMs, retryInMs: delay, ageMs: this.ageMs() },
        `Tenant ${this.listed ? 'watch' : 'list'} silent (${err.message}); aborted it, re-listing`,
      );
    }
    if (this.registry === undefined) {
      this.log.warn(
        { code: 'ERR_TENANT_WATCH', failures: this.failures, retryInMs: delay },
        `cannot list Tenants (${why}); the registry is not synced yet; retrying`,
      );
    } else if (!this.stale) {
      this.stale = true;
      const since = this.lastSync?.toISOString() ?? 'never';
      this.log.warn(
        { code: 'ERR_TENANT_WATCH', retryInMs: delay, lastSync: since },
        `Tenant watch broken (${why}); serving the last good registry (${this.registry.size} tenants, as of ${since}) until it is re-established`,
      );
    }
    const old = this.informer;
    this.generation += 1;
    this.informer = undefined;
    this.watch?.abortAll();
    this.watch = undefined;
    clearTimeout(this.rebuildTimer);
    this.rebuildTimer = undefined;
    void old?.stop();
    this.retryTimers.clearTimeout(this.retryTimer);
    this.retryTimer = this.retryTimers.setTimeout(() => {
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
    // Watch events add to the cache between lists: the same bound as the list's.
    const tooLarge = new RegistryMeter(this.options.maxRegistryChars).check(objects);
    if (tooLarge !== undefined) return this.failed(tooLarge);
    const { tenants, invalid } = this.parsed.parseAll(objects);
    // The first build continues from what the statuses say is in force: registry-in-force.ts.
    const next = continueBuild(objects, tenants, invalid, this.registry, this.inForce);
    const { registry, rejections } = next.build;
    this.inForce = next.state;
    const firstSync = this.registry === undefined;
    this.registry = registry;
    this.lastSync = new Date(this.now());
    this.counts = { accepted: registry.size, rejected: rejections.length, invalid: invalid.size };
    if (firstSync) {
      this.log.info(
        this.counts,
        `Tenant registry synced: ${registry.size} accepted, ${rejections.length} rejected, ${invalid.size} invalid`,
      );
      for (const resolve of this.waiters.splice(0)) resolve();
    }
    this.verdicts.report(objects, invalid, rejections, this.inForce.records);
  }
}
