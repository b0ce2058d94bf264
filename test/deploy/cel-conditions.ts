/**
 * Webhook matchConditions evaluated with a real CEL implementation (@bufbuild/cel), the way
 * the API server does (Kubernetes "Matching requests: matchConditions"):
 * - the variables are `object`, `oldObject` (null when the request has none: CREATE has no
 *   oldObject, DELETE no object) and `request` (the AdmissionRequest);
 * - any condition false: the webhook is skipped; all true: it is called; otherwise (an
 *   error and no false) the failurePolicy decides (Fail: the request is rejected).
 */
import { isCelError, parse, plan, celEnv, type CelValue } from '@bufbuild/cel';

/** JSON as CEL sees a decoded Kubernetes object: objects are maps, whole numbers ints. */
export function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel);
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (value !== null && typeof value === 'object')
    return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  return value;
}

export interface MatchCondition {
  readonly name: string;
  readonly expression: string;
}

export type ConditionResult = boolean | { readonly error: string };

export type Verdict =
  /** The API server sends the request to the webhook. */
  | 'called'
  /** It never leaves the API server for this webhook. */
  | 'skipped'
  /** A condition failed to evaluate: failurePolicy decides (Fail: rejected). */
  | 'error';

type Bindings = { readonly request: unknown; readonly object: unknown; readonly oldObject: unknown };

/** The CEL variables of an AdmissionRequest (computed once per request). */
function bindingsOf(request: Record<string, unknown>): Bindings {
  return {
    request: toCel(request),
    object: toCel(request.object ?? null),
    oldObject: toCel(request.oldObject ?? null),
  };
}

const cache = new WeakMap<Record<string, unknown>, Bindings>();
function cachedBindings(request: Record<string, unknown>): Bindings {
  let b = cache.get(request);
  if (b === undefined) cache.set(request, (b = bindingsOf(request)));
  return b;
}

/** A compiled condition; throws on a parse error, as the API server refuses the configuration. */
export function compileCondition(
  condition: MatchCondition,
): (request: Record<string, unknown>) => ConditionResult {
  const program = plan(celEnv(), parse(condition.expression));
  return (request) => {
    const result: CelValue | unknown = program(cachedBindings(request) as never);
    if (isCelError(result)) return { error: `${condition.name}: ${result.message}` };
    if (typeof result !== 'boolean') return { error: `${condition.name}: not a bool: ${String(result)}` };
    return result;
  };
}

/** The matchConditions of one webhook, compiled, and the API server's decision over them. */
export function conditionsOf(webhook: {
  matchConditions?: MatchCondition[];
}): (request: Record<string, unknown>) => { verdict: Verdict; results: ConditionResult[] } {
  const compiled = (webhook.matchConditions ?? []).map(compileCondition);
  return (request) => {
    const results = compiled.map((c) => c(request));
    const verdict: Verdict = results.some((r) => r === false)
      ? 'skipped'
      : results.every((r) => r === true)
        ? 'called'
        : 'error';
    return { verdict, results };
  };
}
