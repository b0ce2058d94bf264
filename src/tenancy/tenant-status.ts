/**
 * What a watched Tenant's status should say, and whether what it says now differs: pure
 * functions, no I/O. The writer is in tenant-status-writer.ts.
 */
import type { TenantRejection } from './registry.js';
import { isRecord, sameJson } from '../json.js';
import { capMessage } from './verdict-message.js';

/** Why a Tenant is or is not in the registry. */
export type TenantOutcome =
  | { readonly accepted: true; readonly clusterCount: number }
  | {
      readonly accepted: false;
      /** `Invalid`, or the registry's conflict reason (`ClusterNameConflict`, `NamespaceConflict`, ...). */
      readonly reason: string;
      readonly message: string;
      readonly clusterCount: number;
    };

/**
 * The verdict on one Tenant: invalid (its parse error), rejected (a claim held by an older
 * Tenant), or accepted. The message is held to MAX_VERDICT_MESSAGE_CHARS whoever made it: the
 * status, its condition, the log line and the Event all carry this one.
 */
export function outcomeOf(
  clusterCount: number,
  invalid: string | undefined,
  rejection: TenantRejection | undefined,
): TenantOutcome {
  if (invalid !== undefined)
    return { accepted: false, reason: 'Invalid', message: capMessage(invalid), clusterCount };
  if (rejection !== undefined)
    return {
      accepted: false,
      reason: rejection.reason,
      message: capMessage(rejection.message),
      clusterCount,
    };
  return { accepted: true, clusterCount };
}

/** The condition type that mirrors `status.accepted`. */
export const ACCEPTED_CONDITION = 'Accepted';

/** One condition as written, in the Kubernetes `metav1.Condition` shape. */
export interface TenantCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/**
 * `status.inForce`: the generation of the Tenant the registry serves, and the claims that
 * version holds (its clusters' name, normalised server, audience and subject; its namespaces
 * and projects), so that a replica started later holds the same (registry-in-force.ts).
 * Absent: the Tenant holds nothing.
 */
export interface InForceRecord {
  generation: number;
  clusters: Array<{ name: string; server: string; audience: string; subject: string }>;
  namespaces: string[];
  projects: string[];
}

/** `status` of a Tenant, as the CRD schema describes it. */
export interface TenantStatus {
  accepted: boolean;
  reason: string;
  message: string;
  clusterCount: number;
  observedGeneration?: number;
  inForce?: InForceRecord;
  conditions: TenantCondition[];
}

const ACCEPTED_REASON = 'Accepted';

/**
 * The status a Tenant should carry. `lastTransitionTime` of the Accepted condition is kept
 * from `current` while the condition's status stays the same (as metav1.Condition asks),
 * and conditions of other types are kept untouched.
 * @param current the object's `status` as read (untrusted)
 * @param generation the object's `metadata.generation`, when known
 * @param now ISO 8601 time for a new transition
 * @param inForce the version in force, when the Tenant is in the registry
 */
export function desiredStatus(
  outcome: TenantOutcome,
  current: unknown,
  generation: number | undefined,
  now: string,
  inForce?: InForceRecord,
): TenantStatus {
  const reason = outcome.accepted ? ACCEPTED_REASON : outcome.reason;
  const message = outcome.accepted
    ? `in the registry with ${outcome.clusterCount} cluster${outcome.clusterCount === 1 ? '' : 's'}`
    : outcome.message;
  const conditionStatus = outcome.accepted ? 'True' : 'False';
  const existing = readConditions(current);
  const previous = existing.find((c) => c.type === ACCEPTED_CONDITION);
  const lastTransitionTime =
    previous !== undefined && previous.status === conditionStatus && previous.lastTransitionTime !== ''
      ? previous.lastTransitionTime
      : now;
  const accepted: TenantCondition = {
    type: ACCEPTED_CONDITION,
    status: conditionStatus,
    reason,
    message,
    lastTransitionTime,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  return {
    accepted: outcome.accepted,
    reason,
    message,
    clusterCount: outcome.clusterCount,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    ...(inForce === undefined ? {} : { inForce }),
    conditions: [...existing.filter((c) => c.type !== ACCEPTED_CONDITION), accepted],
  };
}

/** True when `current` says something other than `desired` (transition times aside). */
export function statusDiffers(current: unknown, desired: TenantStatus): boolean {
  if (!isRecord(current)) return true;
  if (
    current.accepted !== desired.accepted ||
    current.reason !== desired.reason ||
    current.message !== desired.message
  )
    return true;
  if (
    current.clusterCount !== desired.clusterCount ||
    current.observedGeneration !== desired.observedGeneration
  )
    return true;
  // Key order aside: the API server hands custom objects back with their keys sorted.
  if (!sameJson(current.inForce, desired.inForce)) return true;
  const have = readConditions(current);
  if (have.length !== desired.conditions.length) return true;
  return desired.conditions.some((want) => {
    const got = have.find((c) => c.type === want.type);
    return (
      got === undefined ||
      got.status !== want.status ||
      got.reason !== want.reason ||
      got.message !== want.message ||
      got.observedGeneration !== want.observedGeneration
    );
  });
}

/** The well-formed conditions of a status read from the API (others are dropped). */
function readConditions(status: unknown): TenantCondition[] {
  if (!isRecord(status) || !Array.isArray(status.conditions)) return [];
  const out: TenantCondition[] = [];
  for (const c of status.conditions) {
    if (!isRecord(c) || typeof c.type !== 'string') continue;
    const s = c.status === 'True' || c.status === 'False' || c.status === 'Unknown' ? c.status : 'Unknown';
    out.push({
      type: c.type,
      status: s,
      reason: typeof c.reason === 'string' ? c.reason : '',
      message: typeof c.message === 'string' ? c.message : '',
      lastTransitionTime: typeof c.lastTransitionTime === 'string' ? c.lastTransitionTime : '',
      ...(typeof c.observedGeneration === 'number' ? { observedGeneration: c.observedGeneration } : {}),
    });
  }
  return out;
}
