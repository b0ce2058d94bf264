/**
 * The status half of the watched registry (watch-source.ts): after each rebuild, the
 * registry's verdict on every watched Tenant is logged when it changed, recorded as a
 * Kubernetes Event (tenant-events.ts) and written to the Tenant's status
 * (tenant-status-writer.ts). Events and status writes are optional: the broker watches
 * Tenants too but has no right to write them.
 */
import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { diffViews, logChanges, viewFromStatus, type TenantView } from './registry-changes.js';
import type { TenantRejection } from './registry.js';
import { TenantEventRecorder } from './tenant-events.js';
import { countClusters, type TenantObject } from './tenant-list.js';
import { TENANT_RESOURCE } from './tenant-schema.js';
import { TenantStatusWriter, type StatusTarget } from './tenant-status-writer.js';
import { outcomeOf, type InForceRecord } from './tenant-status.js';
import type { Clock } from '../clock.js';

/** Options of `TenantVerdictReporter`. */
export interface TenantVerdictReporterOptions {
  /** The component's logger: every change of verdict is a line. */
  log: Logger;
  now: Clock;
  /** Where status writes go; undefined: no status is written. */
  statusApi: CustomObjectsApi | undefined;
  /** Where Events go; undefined: no Event is recorded. */
  eventsApi: CoreV1Api | undefined;
  /** Retry delay of failed status writes, in ms. Default: the writer's (5000). */
  statusRetryMs?: number;
}

/** See the file comment. `report` after each rebuild; `stop`, then `idle`, on shutdown. */
export class TenantVerdictReporter {
  /** The verdict per Tenant at the last report; undefined before the first. */
  private views: Map<string, TenantView> | undefined;
  private readonly log: Logger;
  private readonly events: TenantEventRecorder | undefined;
  private readonly statusWriter: TenantStatusWriter | undefined;

  constructor(options: TenantVerdictReporterOptions) {
    this.log = options.log;
    if (options.eventsApi !== undefined)
      this.events = new TenantEventRecorder(options.eventsApi, this.log, { now: options.now });
    if (options.statusApi !== undefined) {
      this.statusWriter = new TenantStatusWriter(options.statusApi, this.log, {
        now: options.now,
        ...(options.statusRetryMs === undefined ? {} : { retryMs: options.statusRetryMs }),
      });
    }
  }

  /**
   * The verdict on every watched Tenant object after a rebuild: `invalid` maps a Tenant's
   * name to its parse error, `rejections` are the registry's, `inForce` the version served of
   * each Tenant that holds claims. Logs and records the changes, then brings every status up
   * to date in the background.
   */
  report(
    objects: readonly TenantObject[],
    invalid: ReadonlyMap<string, string>,
    rejections: readonly TenantRejection[],
    inForce: ReadonlyMap<string, InForceRecord> = new Map(),
  ): void {
    const rejected = new Map(rejections.map((r) => [r.tenant, r]));
    const targets: StatusTarget[] = [];
    for (const object of objects) {
      const name = object.metadata?.name;
      if (name === undefined) continue;
      const version = inForce.get(name);
      targets.push({
        name,
        object,
        outcome: outcomeOf(countClusters(object), invalid.get(name), rejected.get(name)),
        ...(version === undefined ? {} : { inForce: version }),
      });
    }
    this.reportChanges(targets);
    this.statusWriter?.sync(targets);
  }

  /** Stops writing status and Events, aborting what is in flight. */
  stop(): void {
    this.statusWriter?.stop();
    this.events?.stop();
  }

  /** Resolves when no status write and no Event is under way. */
  async idle(): Promise<void> {
    await this.statusIdle();
    await this.eventsIdle();
  }

  /** Resolves when no Event is being written (tests). */
  async eventsIdle(): Promise<void> {
    await this.events?.idle();
  }

  /** Resolves when no status write is under way (tests). */
  async statusIdle(): Promise<void> {
    await this.statusWriter?.idle();
  }

  /**
   * Logs every change of verdict since the last report, and records it as an Event. On the
   * first report every Tenant is logged; a Tenant's "before" is then what its stored status
   * says, so a restart repeats no Event for a verdict already recorded.
   */
  private reportChanges(targets: readonly StatusTarget[]): void {
    const after = new Map<string, TenantView>();
    const before = new Map(this.views ?? []);
    for (const { name, object, outcome } of targets) {
      const meta = object.metadata as
        { uid?: string; resourceVersion?: string; generation?: number } | undefined;
      const fingerprint =
        meta?.generation === undefined ? JSON.stringify(object.spec ?? null) : String(meta.generation);
      const verdict = outcome.accepted
        ? { accepted: true as const }
        : { accepted: false as const, reason: outcome.reason, message: outcome.message };
      after.set(name, {
        name,
        verdict,
        fingerprint,
        clusterCount: outcome.clusterCount,
        ...(meta?.uid === undefined ? {} : { uid: meta.uid }),
        ...(meta?.resourceVersion === undefined ? {} : { resourceVersion: meta.resourceVersion }),
      });
      if (this.views === undefined) {
        const stored = viewFromStatus(name, object, fingerprint);
        if (stored !== undefined) before.set(name, stored);
      }
    }
    const changes = diffViews(before, after);
    if (this.views === undefined) {
      // First sync: every Tenant gets a line, changed or not; Events only for changes.
      logChanges(this.log, diffViews(new Map(), after), TENANT_RESOURCE);
    } else {
      logChanges(this.log, changes, TENANT_RESOURCE);
    }
    this.views = after;
    this.events?.record(changes);
  }
}
