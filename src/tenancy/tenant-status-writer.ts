/**
 * Writes each watched Tenant's status through the `/status` subresource, only when it
 * differs from what the registry decided. Every replica of the webhook runs one; they write
 * the same status, so a 409 Conflict (another replica, or the user, wrote first) is
 * answered by re-reading the Tenant and writing again only if it still differs. A writer
 * that holds another verdict (another install, another version during a rollout) is not
 * answered at once: status-pacing.ts backs off per Tenant, and caps writes per minute.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiErrorCode, contentRefusal, describeApiFailure, withSignal } from '../kube/kube-call.js';
import { isRecord } from '../json.js';
import { TENANT_GROUP, TENANT_PLURAL, TENANT_VERSION } from './tenant-schema.js';
import { StatusPacer, type StatusPacingOptions } from './status-pacing.js';
import {
  desiredStatus,
  statusDiffers,
  type InForceRecord,
  type TenantOutcome,
  type TenantStatus,
} from './tenant-status.js';
import { REAL_TIMERS, type WatchTimers } from './timers.js';
import { capMessage } from './verdict-message.js';
import type { Clock } from '../clock.js';

/** One Tenant as last seen by the watch, with the registry's verdict on it. */
export interface StatusTarget {
  readonly name: string;
  /** The object as the watch delivered it (its resourceVersion guards the write). */
  readonly object: Readonly<Record<string, unknown>>;
  readonly outcome: TenantOutcome;
  /** `status.inForce` (tenant-status.ts); undefined: not in the registry. */
  readonly inForce?: InForceRecord;
}

/** Options of `TenantStatusWriter` (and the pacing's, see status-pacing.ts). */
export interface TenantStatusWriterOptions extends StatusPacingOptions {
  /** Clock for condition transition times and the pacing. Default `Date.now`. */
  now?: Clock;
  /** Timers of the retries and of writes put off by the pacing. Default: real, unref'd. */
  timers?: WatchTimers;
  /** Delay before a pass that failed (API unreachable, 5xx) is tried again, in ms. Default 5000. */
  retryMs?: number;
  /** Timeout of each API call, in ms. Default 10000. */
  timeoutMs?: number;
}

const ATTEMPTS = 3;
/** resourceVersions from before a write kept from earlier writes of the same generation. */
const REMEMBERED_VIEWS = 8;
const ids = { group: TENANT_GROUP, version: TENANT_VERSION, plural: TENANT_PLURAL };

/** See the file comment. One pass runs at a time; a newer set of targets replaces a pending one. */
export class TenantStatusWriter {
  private latest: readonly StatusTarget[] | undefined;
  private running: Promise<void> | undefined;
  private retryTimer: unknown;
  private stopped = false;
  /** Aborts the request in flight on `stop()`: shutdown never waits on a hung API server. */
  private readonly stopper = new AbortController();
  /**
   * The last status written per Tenant, its generation, and the resourceVersions of the views
   * from before that write: such a view (the watch has not delivered the write yet) would
   * otherwise write the same status again and get a 409. A view of the same generation that
   * is none of them, with another status, is another writer's overwrite.
   */
  private readonly written = new Map<string, WriteMemo>();
  /**
   * A status the API server refused for what it carries (too large, or invalid for the CRD
   * schema) and the resourceVersion it was written over: the same write is never sent again,
   * only one over a changed Tenant or with another verdict (a red-team review saw a 5.5 MiB
   * status re-sent every 5 s for as long as the Tenant existed).
   */
  private readonly refused = new Map<string, { basedOn: string | undefined; status: TenantStatus }>();
  private readonly pacer: StatusPacer;
  private readonly timers: WatchTimers;
  private readonly now: Clock;
  private readonly retryMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly api: CustomObjectsApi,
    private readonly logger: Logger,
    options: TenantStatusWriterOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.retryMs = options.retryMs ?? 5000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.timers = options.timers ?? REAL_TIMERS;
    this.pacer = new StatusPacer(options);
  }

  /** Brings every target's status up to date, in the background. */
  sync(targets: readonly StatusTarget[]): void {
    if (this.stopped) return;
    const names = new Set(targets.map((t) => t.name));
    for (const memo of [this.written, this.refused])
      for (const name of memo.keys()) if (!names.has(name)) memo.delete(name);
    this.pacer.keepOnly(names);
    this.latest = targets;
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves when no pass is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /** Stops writing and aborts the request under way. */
  stop(): void {
    this.stopped = true;
    this.stopper.abort();
    this.timers.clearTimeout(this.retryTimer);
  }

  private async run(): Promise<void> {
    while (this.latest !== undefined && !this.stopped) {
      const batch = this.latest;
      this.latest = undefined;
      // When to look at this batch again: after a failure, or when a put-off write may go.
      let again = Number.POSITIVE_INFINITY;
      for (const target of batch) {
        // A newer view of the Tenants replaces this one: start again from it.
        if (this.stopped || this.latest !== undefined) break;
        const result = await this.write(target);
        if (result !== 'done') again = Math.min(again, result === 'failed' ? this.retryMs : result.waitMs);
      }
      if (Number.isFinite(again) && this.latest === undefined && !this.stopped)
        this.retryTimer = this.timers.setTimeout(() => this.sync(batch), again);
    }
  }

  /**
   * `done` (written, or nothing to write), `failed` (worth a retry after retryMs), or the
   * wait before the pacing lets the write go.
   */
  private async write(target: StatusTarget): Promise<'done' | 'failed' | { waitMs: number }> {
    let object = target.object;
    const generation = generationOf(object);
    const before = new Set<string>();
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const desired = desiredStatus(
        target.outcome,
        object.status,
        generationOf(object),
        rfc3339(new Date(this.now())),
        target.inForce,
      );
      if (!statusDiffers(object.status, desired)) return 'done';
      const basedOn = resourceVersionOf(object);
      if (basedOn !== undefined) before.add(basedOn);
      const memo = this.written.get(target.name);
      if (memo?.before.has(basedOn ?? '') === true && !statusDiffers(memo.status, desired)) return 'done';
      const refused = this.refused.get(target.name);
      if (refused !== undefined && refused.basedOn === basedOn && !statusDiffers(refused.status, desired))
        return 'done';
      this.pacer.ask(target.name, `${String(generation)}\u0000${desired.reason}\u0000${desired.message}`);
      if (
        memo !== undefined &&
        basedOn !== undefined &&
        generation !== undefined &&
        memo.generation === generation &&
        !statusDiffers(memo.status, desired)
      )
        this.contested(target.name, basedOn, object.status, desired);
      const now = this.now();
      const pace = this.pacer.waitFor(target.name, now);
      if (pace.logCap)
        this.logger.warn(
          { tenant: target.name, code: 'ERR_TENANT_STATUS' },
          `status writes of Tenant "${target.name}" reached the cap of the last minute; the next in ${Math.ceil(pace.waitMs / 1000)} s`,
        );
      if (pace.waitMs > 0) return { waitMs: pace.waitMs };
      this.pacer.sending(target.name, now);
      const signal = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(this.timeoutMs)]);
      try {
        await this.api.replaceClusterCustomObjectStatus(
          { ...ids, name: target.name, body: { ...object, status: desired } },
          withSignal(signal),
        );
        // Views from before this write, the latest of earlier writes of this generation's too.
        if (memo !== undefined && memo.generation === generation)
          for (const rv of [...memo.before].slice(-REMEMBERED_VIEWS)) before.add(rv);
        this.written.set(target.name, { generation, status: desired, before });
        this.refused.delete(target.name);
        this.logger.info(
          { tenant: target.name, accepted: desired.accepted, reason: desired.reason },
          capMessage(
            `Tenant "${target.name}" status: ${desired.accepted ? 'accepted' : `not accepted (${desired.reason}): ${desired.message}`}`,
          ),
        );
        return 'done';
      } catch (err) {
        const code = apiErrorCode(err);
        if (code === 404 || this.stopped) return 'done'; // deleted meanwhile, or shutting down
        const refusal = contentRefusal(err);
        if (refusal !== undefined) {
          this.refused.set(target.name, { basedOn, status: desired });
          this.logger.warn(
            { tenant: target.name, code: 'ERR_TENANT_STATUS' },
            `cannot write the status of Tenant "${target.name}": ${describeApiFailure(err)}, the status is ${refusal}; not sent again until the Tenant or its verdict changes`,
          );
          return 'done';
        }
        if (code !== 409) {
          this.logger.warn(
            { tenant: target.name, code: 'ERR_TENANT_STATUS' },
            `cannot write the status of Tenant "${target.name}": ${describeApiFailure(err, signal.aborted)}`,
          );
          return 'failed';
        }
      }
      const fresh = await this.read(target.name);
      if (fresh === 'gone') return 'done';
      if (fresh === undefined) return 'failed';
      // The spec changed since the registry was built: the watch brings that version next.
      if (generationOf(fresh) !== generation) return 'done';
      object = fresh;
    }
    this.logger.warn(
      { tenant: target.name, code: 'ERR_TENANT_STATUS' },
      `cannot write the status of Tenant "${target.name}": still conflicting after ${ATTEMPTS} attempts`,
    );
    return 'failed';
  }

  /** Counts another writer's overwrite of this writer's status; the first one of a verdict is logged. */
  private contested(name: string, resourceVersion: string, theirs: unknown, ours: TenantStatus): void {
    const overwrite = this.pacer.overwritten(name, resourceVersion, this.now());
    if (overwrite === undefined) return;
    const fields = { tenant: name, code: 'ERR_TENANT_STATUS_CONTESTED', strikes: overwrite.strikes };
    if (!overwrite.first) {
      this.logger.debug(
        fields,
        `Tenant "${name}" status overwritten again; next write in ${overwrite.waitMs} ms`,
      );
      return;
    }
    this.logger.warn(
      fields,
      capMessage(
        `another writer disagrees on the status of Tenant "${name}" at this generation (another tenant-guard install, or another version during a rollout): it wrote ${describeStatus(theirs)}, this one holds ${describeStatus(ours)}; this writer backs off (next write in ${Math.ceil(overwrite.waitMs / 1000)} s, doubling) and logs this once`,
      ),
    );
  }

  private async read(name: string): Promise<Record<string, unknown> | 'gone' | undefined> {
    const signal = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(this.timeoutMs)]);
    try {
      const body: unknown = await this.api.getClusterCustomObject({ ...ids, name }, withSignal(signal));
      return isRecord(body) ? body : undefined;
    } catch (err) {
      if (apiErrorCode(err) === 404) return 'gone';
      this.logger.warn(
        { tenant: name, code: 'ERR_TENANT_STATUS' },
        `cannot re-read Tenant "${name}": ${describeApiFailure(err, signal.aborted)}`,
      );
      return undefined;
    }
  }
}

/** One status written: see `TenantStatusWriter.written`. */
interface WriteMemo {
  readonly generation: number | undefined;
  readonly status: TenantStatus;
  readonly before: ReadonlySet<string>;
}

/** `accepted`, or `not accepted (Reason): message` cut short, of a status read from the API. */
function describeStatus(status: unknown): string {
  if (!isRecord(status) || typeof status.accepted !== 'boolean') return 'no status';
  if (status.accepted) return 'accepted';
  const reason = typeof status.reason === 'string' ? status.reason : '';
  const message = typeof status.message === 'string' ? status.message : '';
  return `not accepted (${capMessage(reason, 64)}: ${capMessage(message, 200)})`;
}

function resourceVersionOf(object: Readonly<Record<string, unknown>>): string | undefined {
  const meta = object.metadata;
  return isRecord(meta) && typeof meta.resourceVersion === 'string' ? meta.resourceVersion : undefined;
}

function generationOf(object: Readonly<Record<string, unknown>>): number | undefined {
  const meta = object.metadata;
  return isRecord(meta) && typeof meta.generation === 'number' ? meta.generation : undefined;
}

/** metav1.Time: RFC 3339 in whole seconds. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
