/**
 * Kubernetes Events (core/v1) on Tenants for each registry change, so `kubectl describe
 * tenant` and `kubectl get events` show why a Tenant was accepted, refused or removed.
 * Best effort, like client-go's event recorder: one attempt per Event with a timeout, a
 * failure is logged (never retried, never blocking the registry), and `stop()` aborts
 * what is in flight. Tenants are cluster-scoped: their Events go to the `default`
 * namespace, as client-go's recorder puts them (tools/record/event.go, makeEvent).
 */
import { randomBytes } from 'node:crypto';
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeApiFailure, withSignal } from '../kube/kube-call.js';
import { describeChange, eventReason, type RegistryChange } from './registry-changes.js';
import { TENANT_API_VERSION, TENANT_KIND } from './tenant-schema.js';
import type { Clock } from '../clock.js';

/** Where Events of cluster-scoped objects go. */
export const EVENT_NAMESPACE = 'default';

/** The `source.component` / `reportingComponent` of our Events. */
export const EVENT_COMPONENT = 'tenant-guard';

/** Options of `TenantEventRecorder`. */
export interface TenantEventRecorderOptions {
  /** Clock for the Event times. Default `Date.now`. */
  now?: Clock;
  /** Timeout of each create, in ms. Default 10000. */
  timeoutMs?: number;
  /** `reportingInstance` (the pod name). Default: HOSTNAME or `tenant-guard`. */
  instance?: string;
}

/** Builds the Event of a change (exported for tests). */
export function tenantEvent(change: RegistryChange, now: Date, instance: string): CoreV1Event {
  const { view } = change;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${change.tenant}.${randomBytes(8).toString('hex')}`, namespace: EVENT_NAMESPACE },
    involvedObject: {
      apiVersion: TENANT_API_VERSION,
      kind: TENANT_KIND,
      name: change.tenant,
      ...(view.uid === undefined ? {} : { uid: view.uid }),
      ...(view.resourceVersion === undefined ? {} : { resourceVersion: view.resourceVersion }),
    },
    reason: eventReason(change),
    // Held to MAX_VERDICT_MESSAGE_CHARS (the Event API's bound) by describeChange; ours name
    // fields and Tenants, never a secret.
    message: describeChange(change),
    type: change.kind === 'rejected' ? 'Warning' : 'Normal',
    source: { component: EVENT_COMPONENT },
    reportingComponent: EVENT_COMPONENT,
    reportingInstance: instance,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

/** See the file comment. */
export class TenantEventRecorder {
  private readonly controller = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly now: Clock;
  private readonly timeoutMs: number;
  private readonly instance: string;

  constructor(
    private readonly api: CoreV1Api,
    private readonly logger: Logger,
    options: TenantEventRecorderOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.instance = options.instance ?? process.env.HOSTNAME ?? EVENT_COMPONENT;
  }

  /** Emits one Event per change, in the background. */
  record(changes: readonly RegistryChange[]): void {
    for (const change of changes) {
      if (this.controller.signal.aborted) return;
      const done = this.create(change).finally(() => this.inFlight.delete(done));
      this.inFlight.add(done);
    }
  }

  /** Resolves when no Event is being written (tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Aborts the Events in flight; records nothing more. */
  stop(): void {
    this.controller.abort();
  }

  private async create(change: RegistryChange): Promise<void> {
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(this.timeoutMs)]);
    try {
      await this.api.createNamespacedEvent(
        { namespace: EVENT_NAMESPACE, body: tenantEvent(change, new Date(this.now()), this.instance) },
        withSignal(signal),
      );
    } catch (err) {
      if (this.controller.signal.aborted) return;
      this.logger.warn(
        { tenant: change.tenant, code: 'ERR_TENANT_EVENT' },
        `cannot record the ${eventReason(change)} Event of Tenant "${change.tenant}": ${describeApiFailure(err, signal.aborted)}`,
      );
    }
  }
}
