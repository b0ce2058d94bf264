/**
 * Retrying one token request within the plugin's --timeout: exponential backoff with equal
 * jitter, or the broker's Retry-After; clock, sleep and randomness injected for tests.
 */
import { doublingWaitMs } from '../backoff.js';
import { TenantGuardError } from '../errors.js';
import type { AttemptResult, IssuedToken } from './broker-answer.js';
import type { Clock } from '../clock.js';

/** How attempts are spaced and bounded. Clock, sleep and randomness are injected for tests. */
export interface RetryPolicy {
  /** Budget for all attempts and pauses together, in milliseconds. */
  timeoutMs: number;
  /** Pause after the first failure, in ms, doubled after each further one. Default 200. */
  baseDelayMs?: number;
  /** Longest pause, in ms. Default 2000. */
  maxDelayMs?: number;
  /** Shortest time worth starting another attempt with, in ms. Default 100. */
  minAttemptMs?: number;
  now: Clock;
  sleep: (ms: number) => Promise<void>;
  /** A number in [0, 1). */
  random: () => number;
}

/**
 * The pause after failed attempt `n` (1-based): exponential, capped, with "equal jitter"
 * (between half and all of the step) so that many controllers' plugins do not retry in step.
 */
export function backoffDelay(n: number, random: number, baseDelayMs = 200, maxDelayMs = 2000): number {
  const step = doublingWaitMs(n, baseDelayMs, maxDelayMs);
  return Math.round(step / 2 + (step / 2) * random);
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

function gaveUp(
  last: TenantGuardError,
  attempts: number,
  timeoutMs: number,
  retryAfterMs?: number,
): TenantGuardError {
  const asked =
    retryAfterMs === undefined ? '' : `; the broker asked to retry after ${seconds(retryAfterMs)}`;
  const tail = `(gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}, --timeout ${seconds(timeoutMs)}${asked})`;
  return new TenantGuardError(last.code, `${last.message} ${tail}`, { cause: last.cause ?? last });
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the budget is spent; a retryable failure
 * with `retryAfterMs` waits that long, else an exponential backoff. Each attempt gets
 * the time left as its own timeout, so the whole run ends within `timeoutMs` (plus scheduling).
 * @param attempt one try, given the milliseconds it may take
 * @throws TenantGuardError the last attempt's error, its message saying how many attempts were made
 */
export async function withRetries(
  attempt: (timeoutMs: number) => Promise<AttemptResult>,
  policy: RetryPolicy,
): Promise<IssuedToken> {
  const { now, sleep, random, timeoutMs } = policy;
  const minAttemptMs = policy.minAttemptMs ?? 100;
  const deadline = now() + timeoutMs;
  let attempts = 0;
  for (;;) {
    attempts++;
    const result = await attempt(Math.max(1, deadline - now()));
    if (result.ok) return result.issued;
    if (!result.retryable) {
      throw attempts === 1 && result.error.code !== 'ERR_CREDENTIAL_TIMEOUT'
        ? result.error
        : gaveUp(result.error, attempts, timeoutMs);
    }
    // The broker's Retry-After (429, 503) when it gives one: retrying sooner only spends its budget.
    const pause =
      result.retryAfterMs ?? backoffDelay(attempts, random(), policy.baseDelayMs, policy.maxDelayMs);
    if (now() + pause + minAttemptMs > deadline)
      throw gaveUp(result.error, attempts, timeoutMs, result.retryAfterMs);
    await sleep(pause);
  }
}
