/**
 * The policy core's entry points: `evaluate` (the verdict of /validate) and `mutate`
 * (the object /mutate would produce). Plain data in, plain data out.
 */
import type { Decision, GuardedKind, KubeObject, PolicyContext, PolicyRequest } from './types.js';

/** Result of `mutate`: the mutated object, or undefined when nothing is added. */
export interface MutationResult {
  readonly object: KubeObject | undefined;
  readonly tenant: string | undefined;
}

/** Group/version/kind as an AdmissionRequest carries it. */
export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/**
 * Which guarded kind a request is about, or undefined for kinds the webhook leaves alone.
 * A Secret counts when `object` or `oldObject` carries `argocd.argoproj.io/secret-type: cluster`.
 */
export function guardedKindOf(gvk: GroupVersionKind, object: unknown, oldObject: unknown): GuardedKind | undefined {
  void gvk; void object; void oldObject;
  throw new Error('not implemented yet');
}

/** The verdict for a request: every failing rule, the modes and the platform-admin bypass applied. */
export function evaluate(request: PolicyRequest, context: PolicyContext): Decision {
  void request; void context;
  throw new Error('not implemented yet');
}

/** What /mutate adds to the request's object. DELETE and exempt UPDATEs get nothing. */
export function mutate(request: PolicyRequest, context: PolicyContext): MutationResult {
  void request; void context;
  throw new Error('not implemented yet');
}
