/**
 * What an UPDATE changes, measured against its old object (SPEC section 4): whether it is
 * material (else exempt from the target and project rules), whether it starts a sync,
 * whether a terminating object's UPDATE only takes away, and which violations it adds.
 * Pure: plain data in, answers out.
 */
import { sameJson } from '../json.js';
import { keepsOnly, parseJsonPath } from './json-compare.js';
import { secretDataKeepsOnly } from './cluster-secret-data.js';
import { getPath } from './object-paths.js';
import { isTerminating } from './ownership.js';
import type {
  KindRules,
  KubeObject,
  PolicyContext,
  PolicyRequest,
  RequesterRole,
  RuleScope,
  Violation,
} from './types.js';
import { WHO_MAY_RULES } from './types.js';
import { isUnbuilt, withBudget } from './finding-budget.js';

/** Where Argo CD keeps the state of a sync in flight, which it resumes and retries from. */
const OPERATION_STATE = ['status', 'operationState'] as const;

/**
 * True for an UPDATE that feeds a sync, never exempt: it sets a non-null `operation` (which
 * starts one), or, by a human, sets or changes anything of `status.operationState`.
 *
 * Why the second: while an operation is in flight (a sync retrying, `operation` still set),
 * Argo CD's application controller resumes from `status.operationState`, not `operation`:
 * its `operation` (the `manifests` and sources it syncs) and its `syncResult` (the source and
 * revisions it resumes with). A status-only UPDATE was exempt, so an owner could swap either
 * and keep syncing an Application that a registry change had put out of bounds (two red-team
 * reviews, one field after the other: the whole of it is the class). Only the application
 * controller writes it; as a trusted service account its status writes stay exempt (and
 * spared by the webhook configuration's matchConditions).
 */
export function feedsSync(request: PolicyRequest, role: RequesterRole): boolean {
  if (request.operation !== 'UPDATE' || request.object === undefined) return false;
  const sets = (next: unknown, before: unknown) =>
    next !== undefined && next !== null && !sameJson(before, next);
  return (
    sets(request.object.operation, request.oldObject?.operation) ||
    (role === 'human' &&
      sets(getPath(request.object, OPERATION_STATE), getPath(request.oldObject ?? {}, OPERATION_STATE)))
  );
}

/** The parts of every kind an UPDATE changes materially (SPEC section 4); the kinds add theirs. */
const MATERIAL_PARTS: ReadonlyArray<readonly string[]> = [
  ['spec'],
  ['metadata', 'labels'],
  ['metadata', 'ownerReferences'],
];

/**
 * True for an UPDATE that changes nothing material (SPEC section 4): neither `spec`, labels,
 * ownerReferences nor what the kind adds (a Secret's `data` or `type`), and feeds no sync
 * (`feedsSync`). It skips the target and project rules, never ownership. Judge it on the
 * request as sent.
 */
export function isExemptUpdate(
  sent: PolicyRequest,
  role: RequesterRole,
  rules: KindRules,
  context: PolicyContext,
): boolean {
  const { object, oldObject } = sent;
  if (sent.operation !== 'UPDATE' || object === undefined || oldObject === undefined || feedsSync(sent, role))
    return false;
  if (!MATERIAL_PARTS.every((keys) => sameJson(getPath(oldObject, keys), getPath(object, keys))))
    return false;
  return !rules.hasMaterialChange(oldObject, object, context);
}

/** True for an UPDATE of an object whose deletion has begun. */
export function isTerminatingUpdate(request: PolicyRequest): boolean {
  return (
    request.operation === 'UPDATE' && (isTerminating(request.oldObject) || isTerminating(request.object))
  );
}

const violationKey = (v: Violation) => `${v.rule} ${v.path} ${v.message}`;

/**
 * Most violations of the old or the new object a terminating UPDATE is compared by: each
 * comparison keeps a key of its path (up to --max-key-path-chars), and 28,000 findings of
 * 4 KB paths held ~110 MB. Past it, the UPDATE is judged as the object stands (fail closed).
 */
export const MAX_COMPARED_VIOLATIONS = 1_000;

/**
 * Findings of one rule built whole when a terminating UPDATE is compared (finding-budget.ts):
 * one past the most compared, so a finding not built always means more than can be compared.
 */
export const COMPARED_FINDINGS_PER_RULE = MAX_COMPARED_VIOLATIONS + 1;

/** The value at `keys`; a Secret's `data` and `data.<key>` are also found in `stringData`. */
function valueAt(object: KubeObject, keys: ReadonlyArray<string | number>): unknown {
  const value = getPath(object, keys);
  if (value === undefined && keys[0] === 'data' && keys.length <= 2)
    return getPath(object, ['stringData', ...keys.slice(1)]);
  return value;
}

/**
 * True when a violation of the new object is about something the UPDATE removed: its path,
 * or a part of the path leading to it (`data.config` of `data.config.execProviderConfig`),
 * is present in the old object and absent in the new. Removing never counts as adding a
 * violation (SPEC section 4). A path that cannot be read back counts as added.
 */
function isAboutRemoval(v: Violation, oldObject: KubeObject, object: KubeObject): boolean {
  const keys = parseJsonPath(v.path);
  if (keys === undefined) return false;
  for (let end = 1; end <= keys.length; end += 1) {
    const prefix = keys.slice(0, end);
    if (valueAt(oldObject, prefix) !== undefined && valueAt(object, prefix) === undefined) return true;
  }
  return false;
}

/**
 * True when the old object had this violation already: the same rule, path and message,
 * about a value the UPDATE at most took from. A message names a path, not what is there,
 * so a value under a violation the object already had that grows or changes (a
 * case-variant `Destination` that gains another tenant's cluster) is a violation added. A
 * path that cannot be read back counts as changed.
 */
function hadBefore(
  v: Violation,
  known: ReadonlySet<string>,
  oldObject: KubeObject,
  object: KubeObject,
): boolean {
  if (!known.has(violationKey(v))) return false;
  const keys = parseJsonPath(v.path);
  return keys !== undefined && keepsOnly(valueAt(oldObject, keys), valueAt(object, keys));
}

/**
 * True for an UPDATE that only takes away from the material parts of the object: the
 * garbage collector's ownerReferences, the finalizers' cleanups. Only then do the old
 * object's violations show what the new one's could hide: a rule stops at a field's first
 * failure (a cluster Secret's unregistered `name` leaves its `server` unread), so a value
 * added or changed beside a violation that stands would pass unjudged.
 */
export function onlyTakesAway(sent: PolicyRequest): boolean {
  const { oldObject, object } = sent;
  if (oldObject === undefined || object === undefined) return false;
  // A Secret's `type` and effective data are what the cluster Secret kind adds.
  return (
    [...MATERIAL_PARTS, ['type']].every((keys) =>
      keepsOnly(getPath(oldObject, keys), getPath(object, keys)),
    ) && secretDataKeepsOnly(oldObject, object)
  );
}

/**
 * The target and project violations an UPDATE of a terminating object adds: those of the new
 * object that the old one (judged for the same requester) did not have about the same value,
 * less those about what the UPDATE removed.
 */
export function addedViolations(found: Violation[], scope: RuleScope, rules: KindRules): Violation[] {
  const { request } = scope;
  const { oldObject, object } = request;
  // A finding not built (or a line counting them) means more than can be compared.
  const tooMany = (vs: Violation[]) =>
    vs.length > MAX_COMPARED_VIOLATIONS || vs.some((v) => isUnbuilt(v) || v.unlisted !== undefined);
  if (oldObject === undefined || object === undefined || tooMany(found)) return found;
  const before = withBudget(COMPARED_FINDINGS_PER_RULE, () =>
    rules.validate({ ...scope, request: { ...request, object: oldObject } }),
  ).violations;
  if (tooMany(before)) return found;
  const known = new Set(before.filter((v) => !WHO_MAY_RULES.has(v.rule)).map(violationKey));
  return found.filter(
    (v) => !hadBefore(v, known, oldObject, object) && !isAboutRemoval(v, oldObject, object),
  );
}
