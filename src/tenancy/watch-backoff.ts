/**
 * How long the Tenant watch waits before it lists and watches again: an exponential backoff
 * with jitter, or longer when the API server said how long (Retry-After). Pure.
 */
import { ApiException } from '@kubernetes/client-node';
import { WatchFailure } from './bounded-watch.js';

/** How long the API server asked to wait, in ms: a watch's `Retry-After`, or a list's (ApiException headers). */
export function retryAfterMs(err: unknown): number | undefined {
  if (err instanceof WatchFailure) return err.retryAfterMs;
  if (!(err instanceof ApiException)) return undefined;
  const headers: unknown = err.headers;
  const value =
    typeof headers === 'object' && headers !== null
      ? (headers as Record<string, unknown>)['retry-after']
      : undefined;
  const seconds = Number(value);
  return typeof value === 'string' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** Exponential backoff with ±20% jitter, so replicas do not retry in step. */
export function backoff(failures: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
