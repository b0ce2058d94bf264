/**
 * Writes each watched Tenant's status through the `/status` subresource, only when it
 * differs from what the registry decided. Every replica of the webhook runs one; they write
 * the same status, so a 409 Conflict (another replica, or the user, wrote first) is
 * answered by re-reading the Tenant and writing again only if it still differs.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiErrorCode, contentRefusal, describeApiFailure, withSignal } from '../kube/kube-call.js';
import { isRecord } from '../json.js';
import { TENANT_GROUP, TENANT_PLURAL, TENANT_VERSION } from './tenant-schema.js';
import { desiredStatus, statusDiffers, type TenantOutcome, type TenantStatus } from './tenant-status.js';
import { capMessage } from './verdict-message.js';
import type { Clock } from '../clock.js';

/** One Tenant as last seen by the watch, with the registry's verdict on it. */
export interface StatusTarget {
  readonly name: string;
  /** The object as the watch delivered it (its resourceVersion guards the write). */
  readonly object: Readonly<Record<string, unknown>>;
  readonly outcome: TenantOutcome;
}

/** Options of `TenantStatusWriter`. */
export interface TenantStatusWriterOptions {
  /** Clock for condition transition times. Default `Date.now`. */
  now?: Clock;
  /** Delay before a pass that failed (API unreachable, 5xx) is tried again, in ms. Default 5000. */
  retryMs?: number;
  /** Timeout of each API call, in ms. Default 10000. */
  timeoutMs?: number;
}

const ATTEMPTS = 3;
const ids = { group: TENANT_GROUP, version: TENANT_VERSION, plural: TENANT_PLURAL };

/** See the file comment. One pass runs at a time; a newer set of targets replaces a pending one. */
export class TenantStatusWriter {
  private latest: readonly StatusTarget[] | undefined;
  private running: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Aborts the request in flight on `stop()`: shutdown never waits on a hung API server. */
  private readonly stopper = new AbortController();
  /**
   * The last status written per Tenant and the resourceVersion it was written over: a view
   * of the Tenants older than that write (the watch has not delivered it yet) would
   * otherwise write the same status again and get a 409.
   */
  private readonly written = new Map<string, { basedOn: string; status: TenantStatus }>();
  /**
   * A status the API server refused for what it carries (too large, or invalid for the CRD
   * schema) and the resourceVersion it was written over: the same write is never sent again,
   * only one over a changed Tenant or with another verdict (a red-team review saw a 5.5 MiB
   * status re-sent every 5 s for as long as the Tenant existed).
   */
  private readonly refused = new Map<string, { basedOn: string | undefined; status: TenantStatus }>();
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
  }

  /** Brings every target's status up to date, in the background. */
  sync(targets: readonly StatusTarget[]): void {
    if (this.stopped) return;
    const names = new Set(targets.map((t) => t.name));
    for (const memo of [this.written, this.refused])
      for (const name of memo.keys()) if (!names.has(name)) memo.delete(name);
    this.latest = targets;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
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
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
  }

  private async run(): Promise<void> {
    while (this.latest !== undefined && !this.stopped) {
      const batch = this.latest;
      this.latest = undefined;
      let failed = false;
      for (const target of batch) {
        // A newer view of the Tenants replaces this one: start again from it.
        if (this.stopped || this.latest !== undefined) break;
        if (!(await this.write(target))) failed = true;
      }
      if (failed && this.latest === undefined && !this.stopped) {
        this.retryTimer = setTimeout(() => this.sync(batch), this.retryMs);
        this.retryTimer.unref();
      }
    }
  }

  /** Returns false when the write failed for a reason worth a retry. */
  private async write(target: StatusTarget): Promise<boolean> {
    let object = target.object;
    const generation = generationOf(object);
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const desired = desiredStatus(
        target.outcome,
        object.status,
        generationOf(object),
        rfc3339(new Date(this.now())),
      );
      if (!statusDiffers(object.status, desired)) return true;
      const basedOn = resourceVersionOf(object);
      const memo = this.written.get(target.name);
      if (memo !== undefined && memo.basedOn === basedOn && !statusDiffers(memo.status, desired)) return true;
      const refused = this.refused.get(target.name);
      if (refused !== undefined && refused.basedOn === basedOn && !statusDiffers(refused.status, desired))
        return true;
      const signal = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(this.timeoutMs)]);
      try {
        await this.api.replaceClusterCustomObjectStatus(
          { ...ids, name: target.name, body: { ...object, status: desired } },
          withSignal(signal),
        );
        if (basedOn !== undefined) this.written.set(target.name, { basedOn, status: desired });
        this.refused.delete(target.name);
        this.logger.info(
          { tenant: target.name, accepted: desired.accepted, reason: desired.reason },
          capMessage(
            `Tenant "${target.name}" status: ${desired.accepted ? 'accepted' : `not accepted (${desired.reason}): ${desired.message}`}`,
          ),
        );
        return true;
      } catch (err) {
        const code = apiErrorCode(err);
        if (code === 404 || this.stopped) return true; // deleted meanwhile, or shutting down
        const refusal = contentRefusal(err);
        if (refusal !== undefined) {
          this.refused.set(target.name, { basedOn, status: desired });
          this.logger.warn(
            { tenant: target.name, code: 'ERR_TENANT_STATUS' },
            `cannot write the status of Tenant "${target.name}": ${describeApiFailure(err)}, the status is ${refusal}; not sent again until the Tenant or its verdict changes`,
          );
          return true;
        }
        if (code !== 409) {
          this.logger.warn(
            { tenant: target.name, code: 'ERR_TENANT_STATUS' },
            `cannot write the status of Tenant "${target.name}": ${describeApiFailure(err, signal.aborted)}`,
          );
          return false;
        }
      }
      const fresh = await this.read(target.name);
      if (fresh === 'gone') return true;
      if (fresh === undefined) return false;
      // The spec changed since the registry was built: the watch brings that version next.
      if (generationOf(fresh) !== generation) return true;
      object = fresh;
    }
    this.logger.warn(
      { tenant: target.name, code: 'ERR_TENANT_STATUS' },
      `cannot write the status of Tenant "${target.name}": still conflicting after ${ATTEMPTS} attempts`,
    );
    return false;
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
