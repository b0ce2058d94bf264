/**
 * What changed between two views of the Tenants, for the log and for Kubernetes Events
 * (issue 10 item 7): pure functions, no I/O. The watched and the file registry both build a
 * `TenantView` per Tenant after each rebuild and report `diffViews(before, after)`.
 */
import type { Logger } from 'pino';
import { isRecord } from '../json.js';
import { capMessage } from './verdict-message.js';

/** The registry's verdict on one Tenant. */
export type Verdict =
  | { readonly accepted: true }
  | {
      readonly accepted: false;
      /** `Invalid`, or the registry's conflict reason (`AudienceConflict`, ...). */
      readonly reason: string;
      readonly message: string;
    };

/** One Tenant as a registry source last saw it. */
export interface TenantView {
  readonly name: string;
  readonly verdict: Verdict;
  /** Changes when the Tenant's spec changes (its generation, or the spec as text). */
  readonly fingerprint: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly clusterCount?: number;
}

export type ChangeKind = 'accepted' | 'rejected' | 'changed' | 'removed';

/** One change worth a log line and an Event. */
export interface RegistryChange {
  readonly kind: ChangeKind;
  readonly tenant: string;
  /** The view after the change (before it, for `removed`). */
  readonly view: TenantView;
  /** The verdict before, when the Tenant was known. */
  readonly previous?: Verdict;
}

/**
 * The changes from `before` to `after`: a Tenant new or newly accepted is `accepted` (also a
 * rejected one whose conflicting Tenant went away), newly refused or refused for a new
 * reason is `rejected`, an accepted Tenant whose spec changed is `changed`, one gone is
 * `removed`. Sorted by Tenant name, removals last.
 */
export function diffViews(
  before: ReadonlyMap<string, TenantView>,
  after: ReadonlyMap<string, TenantView>,
): RegistryChange[] {
  const changes: RegistryChange[] = [];
  for (const name of [...after.keys()].sort()) {
    const now = after.get(name) as TenantView;
    const was = before.get(name);
    const previous = was === undefined ? {} : { previous: was.verdict };
    if (now.verdict.accepted) {
      if (was === undefined || !was.verdict.accepted)
        changes.push({ kind: 'accepted', tenant: name, view: now, ...previous });
      else if (was.fingerprint !== now.fingerprint)
        changes.push({ kind: 'changed', tenant: name, view: now, ...previous });
    } else if (
      was === undefined ||
      was.verdict.accepted ||
      was.verdict.reason !== now.verdict.reason ||
      was.verdict.message !== now.verdict.message
    ) {
      changes.push({ kind: 'rejected', tenant: name, view: now, ...previous });
    }
  }
  for (const name of [...before.keys()].sort()) {
    const was = before.get(name) as TenantView;
    if (!after.has(name)) changes.push({ kind: 'removed', tenant: name, view: was, previous: was.verdict });
  }
  return changes;
}

/**
 * The sentence of a change, for the log line and the Event message: at most
 * MAX_VERDICT_MESSAGE_CHARS characters, the bound of the status message it quotes.
 */
export function describeChange(change: RegistryChange): string {
  return capMessage(changeSentence(change));
}

function changeSentence(change: RegistryChange): string {
  const { view, previous } = change;
  const clusters =
    view.clusterCount === undefined
      ? ''
      : ` with ${view.clusterCount} cluster${view.clusterCount === 1 ? '' : 's'}`;
  switch (change.kind) {
    case 'accepted':
      if (previous !== undefined && !previous.accepted)
        return `Tenant "${change.tenant}" accepted${clusters}; it was refused before (${previous.reason}: ${previous.message})`;
      return `Tenant "${change.tenant}" accepted${clusters}`;
    case 'changed':
      return `Tenant "${change.tenant}" changed; accepted${clusters}`;
    case 'rejected': {
      const verdict = view.verdict.accepted ? undefined : view.verdict;
      const was =
        previous?.accepted === true ? '; it was accepted before and is no longer in the registry' : '';
      return `Tenant "${change.tenant}" refused (${verdict?.reason ?? ''}): ${verdict?.message ?? ''}${was}`;
    }
    case 'removed':
      return `Tenant "${change.tenant}" removed${previous?.accepted === true ? '; its clusters, namespaces and projects are no longer in the registry' : ' (it was not in the registry)'}`;
  }
}

/** The Event reason of a change (CamelCase, as Kubernetes reasons are). */
export function eventReason(change: RegistryChange): string {
  if (change.kind === 'rejected' && !change.view.verdict.accepted) return change.view.verdict.reason;
  return { accepted: 'Accepted', changed: 'Changed', rejected: 'Rejected', removed: 'Removed' }[change.kind];
}

/** Logs each change: refusals at warn, the rest at info. */
export function logChanges(logger: Logger, changes: readonly RegistryChange[], source: string): void {
  for (const change of changes) {
    const fields = {
      tenant: change.tenant,
      change: change.kind,
      source,
      ...(change.view.verdict.accepted ? {} : { reason: change.view.verdict.reason }),
    };
    if (change.kind === 'rejected')
      logger.warn({ ...fields, code: 'ERR_TENANT_REJECTED' }, describeChange(change));
    else logger.info(fields, describeChange(change));
  }
}

/**
 * The view a Tenant's stored status implies, so that a restarted process neither repeats
 * Events for verdicts already recorded nor misses the ones it has not: undefined when the
 * status is absent or was written for another generation.
 */
export function viewFromStatus(
  name: string,
  object: Readonly<Record<string, unknown>>,
  fingerprint: string,
): TenantView | undefined {
  const status = object.status;
  const meta = isRecord(object.metadata) ? object.metadata : {};
  if (!isRecord(status) || typeof status.accepted !== 'boolean') return undefined;
  if (typeof meta.generation === 'number' && status.observedGeneration !== meta.generation) return undefined;
  const verdict: Verdict = status.accepted
    ? { accepted: true }
    : {
        accepted: false,
        reason: typeof status.reason === 'string' ? status.reason : '',
        message: typeof status.message === 'string' ? status.message : '',
      };
  return { name, verdict, fingerprint };
}
