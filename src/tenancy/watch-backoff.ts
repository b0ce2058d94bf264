/**
 * How long the Tenant watch waits before it lists and watches again: an exponential backoff
 * with jitter, or longer when the API server said how long (Retry-After). Pure.
 */
import { ApiException } from '@kubernetes/client-node';
import { doublingWaitMs } from '../backoff.js';
import { isRecord } from '../json.js';
import { retryAfterHeaderMs, WatchFailure } from './bounded-watch.js';

/** How long the API server asked to wait, in ms: a watch's `Retry-After`, or a list's (ApiException headers). */
export function retryAfterMs(err: unknown): number | undefined {
  if (err instanceof WatchFailure) return err.retryAfterMs;
  if (!(err instanceof ApiException)) return undefined;
  const headers: unknown = err.headers;
  const value = isRecord(headers) ? headers['retry-after'] : undefined;
  return typeof value === 'string' ? retryAfterHeaderMs(value) : undefined;
}

/** Exponential backoff with ±20% jitter, so replicas do not retry in step. */
export function backoff(failures: number, initialMs: number, maxMs: number): number {
  const base = doublingWaitMs(failures, initialMs, maxMs);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
