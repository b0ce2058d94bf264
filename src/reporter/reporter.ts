/**
 * The background scan (`serve --components reporter`): informers on ApplicationSets,
 * Applications, AppProjects and the Argo CD namespace's cluster Secrets feed a ReportState;
 * a flush every `flushIntervalMs` writes the namespaces whose results changed, at most
 * `maxWritesPerFlush` of them per flush (the rest wait for the next), so a Tenant change
 * that touches every object is written in batches at a bounded rate. A new registry is
 * noticed at the next flush and every object is judged again.
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
import { Gauge, type Registry } from 'prom-client';
import { describeApiFailure } from '../kube/kube-call.js';
import type { KubeObject } from '../policy/types.js';
import { DEFAULT_MAX_RESULTS_PER_REPORT, type ReportFormat } from '../report/policy-report.js';
import type { Settings } from '../settings.js';
import { BoundedWatch, REAL_TIMERS } from '../tenancy/bounded-watch.js';
import type { RegistryProvider, TenantRegistry } from '../tenancy/registry.js';
import { WATCH_DEFAULTS } from '../tenancy/watch-source.js';
import { ReportState } from './report-state.js';
import { ReportWriter } from './report-writer.js';
import type { Clock } from '../clock.js';

export const CLUSTER_SECRET_SELECTOR = 'argocd.argoproj.io/secret-type=cluster';

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
  /** Where `tenant_guard_report_results` goes. */
  readonly metrics?: Registry;
}

type AnyObject = KubernetesObject & KubeObject;
type AnyInformer = Informer<AnyObject> & ObjectCache<AnyObject>;

export class Reporter {
  readonly state: ReportState;
  private readonly writer: ReportWriter;
  private readonly log: Logger;
  private readonly now: Clock;
  private readonly informers: AnyInformer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private registrySeen: TenantRegistry | undefined;
  private stopped = false;

  constructor(private readonly options: ReporterOptions) {
    this.state = new ReportState(undefined);
    this.writer = new ReportWriter(options.kubeConfig, options.format ?? 'wgpolicyk8s');
    this.log = options.logger.child({ component: 'reporter' });
    this.now = options.now ?? Date.now;
    if (options.metrics !== undefined) this.registerMetrics(options.metrics);
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
    const dirty = this.state.takeDirty();
    const budget = this.options.maxWritesPerFlush ?? 20;
    for (const [i, namespace] of dirty.entries()) {
      if (i >= budget || this.stopped) {
        this.state.markDirty(namespace);
        continue;
      }
      const wanted = this.state.reportsFor(
        namespace,
        this.options.format ?? 'wgpolicyk8s',
        this.now(),
        this.options.maxResultsPerReport ?? DEFAULT_MAX_RESULTS_PER_REPORT,
      );
      try {
        const outcome = await this.writer.apply(namespace, wanted);
        this.log.debug({ namespace, ...outcome }, 'reports written');
      } catch (err) {
        this.state.markDirty(namespace);
        this.log.warn(
          { namespace, code: 'ERR_REPORT_WRITE' },
          `reports of namespace ${namespace} not written: ${describeApiFailure(err)}; retrying at the next flush`,
        );
      }
    }
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
    const informer = new ListWatch<AnyObject>(path, watch, list, false, labelSelector) as AnyInformer;
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
        `watch of ${path} failed: ${describeApiFailure(err)}; restarting`,
      );
      const retry = setTimeout(() => {
        if (!this.stopped) void informer.start().catch(() => undefined);
      }, this.options.retryMs ?? 5000);
      retry.unref();
    });
    this.informers.push(informer);
  }

  private registerMetrics(metrics: Registry): void {
    const state = this.state;
    new Gauge({
      name: 'tenant_guard_report_results',
      help: 'Current background-scan results, by tenant, rule and result (pass, fail, warn).',
      labelNames: ['tenant', 'rule', 'result'] as const,
      registers: [metrics],
      collect() {
        this.reset();
        const counts = new Map<string, { tenant: string; rule: string; result: string; n: number }>();
        for (const f of state.allFindings()) {
          const key = `${f.tenant ?? ''}\u0000${f.rule}\u0000${f.result}`;
          const entry = counts.get(key) ?? {
            tenant: f.tenant ?? 'none',
            rule: f.rule,
            result: f.result,
            n: 0,
          };
          entry.n += 1;
          counts.set(key, entry);
        }
        for (const c of counts.values()) this.set({ tenant: c.tenant, rule: c.rule, result: c.result }, c.n);
      },
    });
  }
}
