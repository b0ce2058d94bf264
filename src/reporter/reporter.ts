/**
 * The background scan (`serve --components reporter`): informers on ApplicationSets,
 * Applications, AppProjects and the Argo CD namespace's cluster Secrets feed a ReportState;
 * a flush every `flushIntervalMs` writes the namespaces whose results changed, at most
 * `maxWritesPerFlush` of them per flush (the rest wait for the next, first in first out; a
 * namespace whose write failed waits longer each time: write-queue.ts), so a Tenant change
 * that touches every object is written in batches at a bounded rate. A new registry is
 * noticed at the next flush and every object is judged again. Once every informer has
 * listed and the registry is known, the reports written before (either format) are listed
 * once, and each namespace holding one is written again: what is no longer wanted goes.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  ListWatch,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { apiErrorCode, describeApiFailure } from '../kube/kube-call.js';
import type { KubeObject } from '../policy/types.js';
import { DEFAULT_MAX_RESULTS_PER_REPORT, REPORT_TYPES, type ReportFormat } from '../report/policy-report.js';
import { LogThrottle } from '../server/log-throttle.js';
import type { Settings } from '../settings.js';
import { BoundedWatch, describeWatchFailure, REAL_TIMERS } from '../tenancy/bounded-watch.js';
import type { RegistryProvider, TenantRegistry } from '../tenancy/registry.js';
import { WATCH_DEFAULTS } from '../tenancy/watch-source.js';
import { namespacesWithReports } from './report-inventory.js';
import { registerReporterMetrics, type ReporterMetrics } from './reporter-metrics.js';
import { ReportState } from './report-state.js';
import { ReportWriter } from './report-writer.js';
import { WriteQueue } from './write-queue.js';
import type { Clock } from '../clock.js';

export const CLUSTER_SECRET_SELECTOR = 'argocd.argoproj.io/secret-type=cluster';

const FORMATS = Object.keys(REPORT_TYPES) as ReportFormat[];
/**
 * One warning per namespace whose writes fail, and one for the listing of the reports written
 * before, at most this often (ms); the others are counted.
 */
export const FAILURE_LOG_INTERVAL_MS = 5 * 60_000;

export interface ReporterOptions {
  readonly kubeConfig: KubeConfig;
  readonly registry: RegistryProvider;
  readonly settings: Settings;
  readonly logger: Logger;
  /** Default `wgpolicyk8s` (PolicyReport); `openreports` writes Report. */
  readonly format?: ReportFormat;
  /** Batch window in ms. Default 2000. 0: no timer (tests call `flush`). */
  readonly flushIntervalMs?: number;
  /** Namespaces written per flush at most. Default 20. */
  readonly maxWritesPerFlush?: number;
  readonly maxResultsPerReport?: number;
  /** Wait before an informer that failed starts again, ms. Default 5000. */
  readonly retryMs?: number;
  readonly now?: Clock;
  /** Where the reporter's metrics go (reporter-metrics.ts). */
  readonly metrics?: Registry;
}

type AnyObject = KubernetesObject & KubeObject;
type AnyInformer = Informer<AnyObject> & ObjectCache<AnyObject>;

export class Reporter {
  readonly state: ReportState;
  private readonly format: ReportFormat;
  /** A writer per format: the other one only deletes (a `--report-format` change). */
  private readonly writers: Readonly<Record<ReportFormat, ReportWriter>>;
  /** Informers (by path) whose first list has not succeeded yet. */
  private readonly unsynced = new Set<string>();
  /** Whether the reports written before this process started were listed. */
  private inventoryTaken = false;
  private readonly inventoryLog: LogThrottle;
  /** Namespaces holding reports of the format not written: they are deleted with the next write. */
  private readonly otherFormat = new Set<string>();
  /** Namespaces to write, fairly, with a wait after failures. */
  private readonly queue: WriteQueue;
  private readonly metrics: ReporterMetrics;
  /** The warning throttle of each namespace whose last write failed. */
  private readonly failureLogs = new Map<string, LogThrottle>();
  private readonly log: Logger;
  private readonly now: Clock;
  private readonly informers: AnyInformer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private registrySeen: TenantRegistry | undefined;
  private stopped = false;

  constructor(private readonly options: ReporterOptions) {
    this.state = new ReportState(undefined);
    this.format = options.format ?? 'wgpolicyk8s';
    this.writers = {
      wgpolicyk8s: new ReportWriter(options.kubeConfig, 'wgpolicyk8s'),
      openreports: new ReportWriter(options.kubeConfig, 'openreports'),
    };
    this.log = options.logger.child({ component: 'reporter' });
    this.now = options.now ?? Date.now;
    this.inventoryLog = new LogThrottle(FAILURE_LOG_INTERVAL_MS, this.now);
    this.queue = new WriteQueue({ now: this.now });
    this.metrics = registerReporterMetrics(options.metrics, {
      findings: () => this.state.allFindings(),
      pending: () => new Set([...this.queue.namespaces(), ...this.state.dirtyNamespaces()]).size,
      failing: () => this.queue.failingCount,
    });
  }

  /** Starts the informers and the flush timer. */
  async start(): Promise<void> {
    this.noticeRegistry();
    const custom = this.options.kubeConfig.makeApiClient(CustomObjectsApi);
    const core = this.options.kubeConfig.makeApiClient(CoreV1Api);
    for (const [plural, kind] of [
      ['applicationsets', 'ApplicationSet'],
      ['applications', 'Application'],
      ['appprojects', 'AppProject'],
    ] as const) {
      this.watch(
        `/apis/argoproj.io/v1alpha1/${plural}`,
        { apiVersion: 'argoproj.io/v1alpha1', kind },
        () =>
          custom.listClusterCustomObject({ group: 'argoproj.io', version: 'v1alpha1', plural }) as Promise<
            KubernetesListObject<AnyObject>
          >,
      );
    }
    const namespace = this.options.settings.argocdNamespace;
    this.watch(
      `/api/v1/namespaces/${namespace}/secrets`,
      { apiVersion: 'v1', kind: 'Secret' },
      () =>
        core.listNamespacedSecret({ namespace, labelSelector: CLUSTER_SECRET_SELECTOR }) as Promise<
          KubernetesListObject<AnyObject>
        >,
      CLUSTER_SECRET_SELECTOR,
    );
    await Promise.all(this.informers.map((i) => i.start()));
    const interval = this.options.flushIntervalMs ?? 2000;
    if (interval > 0) {
      this.timer = setInterval(() => void this.flush(), interval);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all(this.informers.map((i) => i.stop()));
    await this.flushing;
  }

  /**
   * Judges everything again if the registry changed, then writes up to `maxWritesPerFlush`
   * out-of-date namespaces. One flush at a time.
   */
  async flush(): Promise<void> {
    if (this.flushing !== undefined) return this.flushing;
    this.flushing = this.doFlush().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    this.noticeRegistry();
    // Nothing is judged without a registry: every namespace would look empty.
    if (this.registrySeen === undefined) return;
    if (!this.inventoryTaken && this.unsynced.size === 0) await this.takeInventory();
    for (const namespace of this.state.takeDirty()) this.queue.add(namespace);
    for (const namespace of this.queue.take(this.options.maxWritesPerFlush ?? 20)) {
      if (this.stopped) {
        this.queue.add(namespace);
        continue;
      }
      await this.write(namespace);
    }
    this.metrics.flushed(this.now());
  }

  /**
   * Writes one namespace's reports. A failure queues it again after a wait; its warning is
   * written at most every FAILURE_LOG_INTERVAL_MS per namespace.
   */
  private async write(namespace: string): Promise<void> {
    const wanted = this.state.reportsFor(
      namespace,
      this.format,
      this.now(),
      this.options.maxResultsPerReport ?? DEFAULT_MAX_RESULTS_PER_REPORT,
    );
    try {
      const outcome = await this.writers[this.format].apply(namespace, wanted);
      this.log.debug({ namespace, ...outcome }, 'reports written');
      if (this.otherFormat.has(namespace)) outcome.deleted += await this.deleteOtherFormat(namespace);
      this.metrics.write(
        outcome.created + outcome.replaced > 0 ? 'written' : outcome.deleted > 0 ? 'deleted' : 'unchanged',
      );
      this.queue.succeeded(namespace);
      this.failureLogs.delete(namespace);
    } catch (err) {
      this.metrics.write('failed');
      const { count, waitMs } = this.queue.failed(namespace);
      let throttle = this.failureLogs.get(namespace);
      if (throttle === undefined) {
        throttle = new LogThrottle(FAILURE_LOG_INTERVAL_MS, this.now);
        this.failureLogs.set(namespace, throttle);
      }
      const skipped = throttle.take();
      if (skipped !== undefined)
        this.log.warn(
          { namespace, code: 'ERR_REPORT_WRITE', failures: count, skipped },
          `reports of namespace ${namespace} not written: ${describeApiFailure(err)}; ` +
            `${count === 1 ? '1 failure' : `${count} failures`} in a row, retrying in ${Math.round(waitMs / 1000)} s`,
        );
    }
  }

  /**
   * Marks dirty every namespace holding a report of ours, of either format, so that its next
   * write deletes what is no longer wanted. A format whose CRD is not installed has none. On
   * a failure, the next flush lists again.
   */
  private async takeInventory(): Promise<void> {
    const custom = this.options.kubeConfig.makeApiClient(CustomObjectsApi);
    try {
      const found = await Promise.all(FORMATS.map((format) => namespacesWithReports(custom, format)));
      for (const [i, namespaces] of found.entries()) {
        const format = FORMATS[i];
        for (const namespace of namespaces ?? []) {
          this.state.markDirty(namespace);
          if (format !== this.format) this.otherFormat.add(namespace);
        }
      }
      this.inventoryTaken = true;
    } catch (err) {
      const skipped = this.inventoryLog.take();
      if (skipped !== undefined)
        this.log.warn(
          { code: 'ERR_REPORT_LIST', skipped },
          `the reports written before could not be listed: ${describeApiFailure(err)}; listing again at the next flush`,
        );
    }
  }

  /** Deletes a namespace's reports of the format not written (404: its CRD is gone, so are they). */
  private async deleteOtherFormat(namespace: string): Promise<number> {
    const other = FORMATS.find((f) => f !== this.format) ?? this.format;
    let deleted = 0;
    try {
      deleted = (await this.writers[other].apply(namespace, [])).deleted;
    } catch (err) {
      if (apiErrorCode(err) !== 404) throw err;
    }
    this.otherFormat.delete(namespace);
    return deleted;
  }

  private noticeRegistry(): void {
    const current = this.options.registry.current();
    if (current === undefined || current === this.registrySeen) return;
    this.registrySeen = current;
    this.state.setContext({ registry: current, settings: this.options.settings });
  }

  private watch(
    path: string,
    type: { apiVersion: string; kind: string },
    list: () => Promise<KubernetesListObject<AnyObject>>,
    labelSelector?: string,
  ): void {
    // The Tenant watch's bounded watch: a line that is no event (or a throw in client-node's
    // handler) is a watch error, restarted below, never an unhandled rejection that ends the
    // process (one `{"type":"ADDED","object":{}}` did: a red-team review).
    const watch = new BoundedWatch(this.options.kubeConfig, {
      silenceMs: WATCH_DEFAULTS.silenceMs,
      timeoutSeconds: WATCH_DEFAULTS.watchTimeoutSeconds,
      timers: REAL_TIMERS,
    });
    // Synced once its first list succeeded: until then the reports written before are not
    // reconciled, or a namespace of objects not listed yet would lose its reports.
    this.unsynced.add(path);
    const listed = async () => {
      const result = await list();
      this.unsynced.delete(path);
      return result;
    };
    const informer = new ListWatch<AnyObject>(path, watch, listed, false, labelSelector) as AnyInformer;
    // List items come without apiVersion and kind (and core ones as client-node models):
    // judge the object as the API server would send it to the webhook.
    const asSent = (object: AnyObject): KubeObject => ({
      ...(JSON.parse(JSON.stringify(object)) as KubeObject),
      ...type,
    });
    const upsert = (object: AnyObject) => {
      this.noticeRegistry();
      this.state.upsert(asSent(object));
    };
    informer.on('add', upsert);
    informer.on('update', upsert);
    informer.on('delete', (object) => this.state.remove(asSent(object)));
    informer.on('error', (err: unknown) => {
      if (this.stopped) return;
      this.log.warn(
        { path, code: 'ERR_REPORT_WATCH' },
        `watch of ${path} failed: ${describeWatchFailure(err)}; restarting`,
      );
      const retry = setTimeout(() => {
        if (!this.stopped) void informer.start().catch(() => undefined);
      }, this.options.retryMs ?? 5000);
      retry.unref();
    });
    this.informers.push(informer);
  }
}
