/**
 * The one path from a read AdmissionRequest to an outcome, shared by the HTTP adapter
 * (`/mutate`, `/validate`) and `tenant-guard check`: pick the guarded kind, narrow the
 * request, then run the injected policy. No I/O, no logger: callers log and audit.
 */
import jsonPatch, { type Operation as PatchOperation } from 'fast-json-patch';
import {
  evaluate,
  guardedKindOf,
  mutate,
  type GroupVersionKind,
  type MutationResult,
} from '../policy/evaluate.js';
import { KIND_RULES } from '../policy/kinds.js';
import { cloneJson } from '../policy/json-clone.js';
import { checkLimits, DEFAULT_LIMITS, type AdmissionLimits } from '../policy/limits.js';
import type {
  Decision,
  GuardedKind,
  KubeObject,
  PolicyContext,
  PolicyRequest,
  Violation,
} from '../policy/types.js';
import type { Settings } from '../settings.js';
import type { EnforcementMode } from '../tenancy/tenant.js';
import type { TenantRegistry } from '../tenancy/registry.js';
import { narrowPolicyRequest, type AdmissionRequest } from './review.js';

/** The policy core's entry points, injected so tests (and the 500 path) can replace them. */
export interface AdmissionPolicy {
  guardedKindOf(gvk: GroupVersionKind, object: unknown, oldObject: unknown): GuardedKind | undefined;
  evaluate(request: PolicyRequest, context: PolicyContext): Decision;
  mutate(request: PolicyRequest, context: PolicyContext): MutationResult;
}

/** The real policy core of src/policy/evaluate.ts. */
export const defaultPolicy: AdmissionPolicy = {
  guardedKindOf,
  evaluate: (request, context) => evaluate(request, context),
  mutate: (request, context) => mutate(request, context),
};

/**
 * The policy core with every finding built (no budget per rule, finding-budget.ts): for
 * `tenant-guard check`, which lists them all, not for a webhook's event loop.
 */
export const listingPolicy: AdmissionPolicy = {
  guardedKindOf,
  evaluate: (request, context) => evaluate(request, context, KIND_RULES, Number.POSITIVE_INFINITY),
  mutate: (request, context) => mutate(request, context),
};

export type Endpoint = 'mutate' | 'validate';

/** What one admission request came to. Every variant is answered with an AdmissionReview. */
export type AdmissionOutcome =
  /** A kind the webhook leaves alone: allowed, unchanged. */
  | { readonly type: 'unhandled' }
  /** No registry yet: denied with code 503 so the API server's retry or failurePolicy applies. */
  | { readonly type: 'not-synced'; readonly kind: GuardedKind }
  /** The request or its object cannot be read: denied under TG-REQ-01. */
  | {
      readonly type: 'malformed';
      readonly kind: GuardedKind | undefined;
      readonly violations: readonly Violation[];
    }
  /** `/mutate`: the JSON Patch to apply (empty: nothing added). */
  | {
      readonly type: 'patched';
      readonly request: PolicyRequest;
      readonly patch: readonly PatchOperation[];
      readonly tenant: string | undefined;
      readonly enforcement: EnforcementMode | undefined;
    }
  /** `/validate`: the policy's verdict. */
  | { readonly type: 'decided'; readonly request: PolicyRequest; readonly decision: Decision };

/** What `admit` needs besides the request. */
export interface AdmitDeps {
  readonly policy: AdmissionPolicy;
  /** undefined while the registry is not synced. */
  readonly registry: TenantRegistry | undefined;
  readonly settings: Settings;
  /** How much of a request the webhook reads. Default `DEFAULT_LIMITS`. */
  readonly limits?: AdmissionLimits;
}

/**
 * Runs one endpoint on one request. Exceptions of the policy propagate: they are our own
 * failure, which the HTTP adapter answers with 500.
 */
export function admit(endpoint: Endpoint, request: AdmissionRequest, deps: AdmitDeps): AdmissionOutcome {
  if (request.kind === undefined) return { type: 'malformed', kind: undefined, violations: request.problems };
  const kind = deps.policy.guardedKindOf(request.kind, request.object, request.oldObject);
  if (kind === undefined) return { type: 'unhandled' };
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const overLimits = limitFindings(kind, request, limits);
  if (overLimits.violations.length > 0)
    return { type: 'malformed', kind, violations: [...request.problems, ...overLimits.violations] };
  const narrowed = narrowPolicyRequest(request, kind);
  if (!narrowed.ok) return { type: 'malformed', kind, violations: narrowed.violations };
  if (deps.registry === undefined) return { type: 'not-synced', kind };
  const context: PolicyContext = { registry: deps.registry, settings: deps.settings };
  const policyRequest = overLimits.oldObjectBeyondLimits
    ? { ...narrowed.request, oldObjectBeyondLimits: true }
    : narrowed.request;
  if (endpoint === 'validate')
    return {
      type: 'decided',
      request: policyRequest,
      decision: deps.policy.evaluate(policyRequest, context),
    };
  return mutateRequest(policyRequest, context, deps.policy);
}

/**
 * The limits, checked iteratively before anything else reads the objects (the rules,
 * the copy `/mutate` edits, the patch diff and `JSON.stringify` all recurse). `object` is held to
 * every limit; `oldObject`, already stored, only to the depth and the key-path length that
 * keep those walkers and the paths of findings bounded, so that an object stored under
 * higher limits can still be fixed or deleted. Past a size limit, an UPDATE's `oldObject` is
 * marked (`oldObjectBeyondLimits`) and the policy reads nothing of it that costs its size.
 */
function limitFindings(
  kind: GuardedKind,
  request: AdmissionRequest,
  limits: AdmissionLimits,
): { violations: Violation[]; oldObjectBeyondLimits: boolean } {
  const object = checkLimits(kind, request.object, 'object', limits);
  const old = request.oldObject;
  if (request.operation !== 'UPDATE' || old === undefined)
    return {
      violations: [...object, ...checkLimits(kind, old, 'oldObject', limits, 'walkable')],
      oldObjectBeyondLimits: false,
    };
  // An UPDATE's oldObject within every limit is within the walkable ones (a subset) too: one
  // pass over it serves both questions; the second runs only for one past some limit.
  const pastSome = checkLimits(kind, old, 'oldObject', limits).length > 0;
  return {
    violations: [...object, ...(pastSome ? checkLimits(kind, old, 'oldObject', limits, 'walkable') : [])],
    oldObjectBeyondLimits: pastSome,
  };
}

function mutateRequest(
  request: PolicyRequest,
  context: PolicyContext,
  policy: AdmissionPolicy,
): AdmissionOutcome {
  // DELETE gets no patch (SPEC section 5); CONNECT has no object to patch.
  if (request.operation === 'DELETE' || request.operation === 'CONNECT' || request.object === undefined) {
    return { type: 'patched', request, patch: [], tenant: undefined, enforcement: undefined };
  }
  const result = policy.mutate(request, context);
  const patch = result.object === undefined ? [] : buildPatch(request.object, result.object);
  const enforcement =
    result.tenant === undefined ? undefined : context.registry.tenant(result.tenant)?.enforcement;
  return { type: 'patched', request, patch, tenant: result.tenant, enforcement };
}

/** What `mutateThenValidate` found: the patch `/mutate` gives and the outcome of `/validate` on the patched object. */
export interface CheckOutcome {
  readonly patch: readonly PatchOperation[];
  /** The object after the patch (undefined on DELETE). */
  readonly object: KubeObject | undefined;
  /** `decided`, or why the request never reached the policy (`unhandled`, `malformed`, `not-synced`). */
  readonly outcome: AdmissionOutcome;
}

/**
 * What the API server would make of a request: `/mutate`, the patch applied, then
 * `/validate` on the patched object (`tenant-guard check`).
 */
export function mutateThenValidate(request: AdmissionRequest, deps: AdmitDeps): CheckOutcome {
  const mutation = admit('mutate', request, deps);
  if (mutation.type !== 'patched') return { patch: [], object: undefined, outcome: mutation };
  const object =
    mutation.request.object === undefined ? undefined : applyPatch(mutation.request.object, mutation.patch);
  const outcome = admit('validate', { ...request, object }, deps);
  return { patch: mutation.patch, object, outcome };
}

/** The RFC 6902 JSON Patch that turns `original` into `edited`. */
export function buildPatch(original: KubeObject, edited: KubeObject): PatchOperation[] {
  return jsonPatch.compare(original, edited);
}

/** Applies a JSON Patch to a copy of `object`, as the API server does after `/mutate`. */
export function applyPatch(object: KubeObject, patch: readonly PatchOperation[]): KubeObject {
  if (patch.length === 0) return object;
  const { newDocument } = jsonPatch.applyPatch(cloneJson(object), [...patch], true, false);
  return newDocument;
}

export type { PatchOperation };
