/**
 * Fault injection and request recording for the test API server.
 */

/** What the API server was asked, in the terms of its request info. */
export type Verb =
  'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'tokenreview' | 'discovery' | 'jwks';

/** One recorded request. The Authorization header is never kept, only whether it matched. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  verb: Verb;
  group?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  contentType?: string;
  /** HTTP status answered, once the answer is complete (absent while it hangs or streams). */
  status?: number;
  /** The client closed the connection before the answer was complete (it aborted or gave up). */
  clientClosed?: boolean;
}

/** Which requests a fault applies to; every given field must match. */
export interface FaultMatch {
  method?: string;
  /** HTTP status answered (only for counting recorded requests). */
  status?: number;
  verb?: Verb | Verb[];
  /** Plural resource name, e.g. `secrets`, `tokenreviews`. */
  resource?: string;
  name?: string;
  namespace?: string;
  path?: string | RegExp;
}

/**
 * What happens to a matching request:
 * - `delayMs`: answered normally after a delay;
 * - `hang`: never answered (until the client gives up or the server closes);
 * - `stall`: a 200 whose body never comes nor ends (a watch gone silent);
 * - `status`: an API error Status with that code;
 * - `conflict`: the 409 Conflict of optimistic concurrency, as if another writer had won;
 * - `dropConnection`: the socket is destroyed without an answer;
 * - `watchLines`: a watch answered 200, then these lines as sent (raw: a torn or foreign line
 *   as a broken proxy passes it), then the end when `end` is set, else silence;
 * - `status` with `retryAfterSeconds`: the `Retry-After` header API Priority and Fairness
 *   sends with a 429.
 */
export type FaultAction =
  | { delayMs: number }
  | { hang: true }
  | { stall: true }
  | { watchLines: readonly string[]; end?: boolean }
  | { status: number; reason?: string; message?: string; retryAfterSeconds?: number }
  | { conflict: true }
  | { dropConnection: true };

export interface Fault {
  match: FaultMatch;
  action: FaultAction;
  /** How many more requests it applies to; Infinity for all. */
  remaining: number;
}

export function matches(match: FaultMatch, req: RecordedRequest): boolean {
  if (match.method !== undefined && match.method.toUpperCase() !== req.method) return false;
  if (match.status !== undefined && match.status !== req.status) return false;
  if (match.verb !== undefined && !(Array.isArray(match.verb) ? match.verb : [match.verb]).includes(req.verb))
    return false;
  if (match.resource !== undefined && match.resource !== req.resource) return false;
  if (match.name !== undefined && match.name !== req.name) return false;
  if (match.namespace !== undefined && match.namespace !== req.namespace) return false;
  if (match.path !== undefined) {
    if (typeof match.path === 'string' ? match.path !== req.path : !match.path.test(req.path)) return false;
  }
  return true;
}

/** Takes the first fault that applies to `req`, consuming one of its uses. */
export function takeFault(faults: Fault[], req: RecordedRequest): FaultAction | undefined {
  for (const [i, f] of faults.entries()) {
    if (!matches(f.match, req)) continue;
    f.remaining -= 1;
    if (f.remaining <= 0) faults.splice(i, 1);
    return f.action;
  }
  return undefined;
}

/** Reason phrase of an API error code, as the API server names them. */
export function reasonFor(code: number): string {
  const reasons: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    405: 'MethodNotAllowed',
    409: 'Conflict',
    410: 'Expired',
    422: 'Invalid',
    429: 'TooManyRequests',
    500: 'InternalError',
    503: 'ServiceUnavailable',
    504: 'Timeout',
  };
  return reasons[code] ?? 'Unknown';
}
