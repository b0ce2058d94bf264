/**
 * Small helpers for calls through @kubernetes/client-node: an abort signal per call, and a
 * one-line description of a failure that never includes a response body (a TokenReview
 * echoes the token it reviewed).
 */
import { errnoCode } from '../errors.js';
import { isRecord } from '../json.js';
import {
  ApiException,
  Observable,
  type ConfigurationOptions,
  type ObservableMiddleware,
} from '@kubernetes/client-node';

/**
 * Per-call options that abort the request when `signal` fires. The object-parameter APIs
 * take observable middleware (client-node's own minimal Observable).
 */
export function withSignal(signal: AbortSignal): ConfigurationOptions<ObservableMiddleware> {
  const middleware: ObservableMiddleware = {
    pre: (ctx) => {
      ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (ctx) => new Observable(Promise.resolve(ctx)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

/** The HTTP code of an API error, if it is one. */
export function apiErrorCode(err: unknown): number | undefined {
  return err instanceof ApiException ? Number(err.code) : undefined;
}

/** `the API server answered 409 Conflict`, `no answer in time`, `the API server is unreachable (ECONNREFUSED)`. */
export function describeApiFailure(err: unknown, aborted = false): string {
  if (aborted || (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')))
    return 'no answer in time';
  if (err instanceof ApiException) {
    let reason = '';
    const body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        const parsed: unknown = JSON.parse(body);
        if (isRecord(parsed) && typeof parsed.reason === 'string') reason = ` ${parsed.reason}`;
      } catch {
        // not a Status
      }
    }
    return `the API server answered ${String(err.code)}${reason}`;
  }
  const code = errnoCode(err);
  return `the API server is unreachable${code !== undefined ? ` (${code})` : ''}`;
}

/**
 * Why the API server refused a write for what it carries, when it did: `too large` (413, or
 * the 500 etcd's limit gives, `etcdserver: request is too large`, or gRPC's `message larger
 * than max`) or `invalid` (422: the schema refuses it). The same body sent again gets the
 * same answer, so such a write is not retried as it is.
 */
export function contentRefusal(err: unknown): 'too large' | 'invalid' | undefined {
  if (!(err instanceof ApiException)) return undefined;
  const code = Number(err.code);
  if (code === 413) return 'too large';
  if (code === 422) return 'invalid';
  if (code !== 500 || typeof err.body !== 'string') return undefined;
  try {
    const status: unknown = JSON.parse(err.body);
    const message = isRecord(status) && typeof status.message === 'string' ? status.message : '';
    return /request is too large|message larger than max/i.test(message) ? 'too large' : undefined;
  } catch {
    return undefined;
  }
}
