import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TenantGuardError, isTenantGuardError } from '../../src/errors.js';
import type { AttemptResult } from '../../src/credential/broker-answer.js';
import { backoffDelay, withRetries } from '../../src/credential/retry.js';

/** A virtual clock: sleeping advances it, attempts take `attemptMs` each. */
function clock(attemptMs = 0) {
  let t = 1_000_000;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    random: () => 0.5,
    sleeps,
    spend: () => {
      t += attemptMs;
    },
  };
}

const unreachable: AttemptResult = {
  ok: false,
  retryable: true,
  error: new TenantGuardError('ERR_CREDENTIAL_UNREACHABLE', 'broker x unreachable: connect ECONNREFUSED'),
};
const fiveHundred: AttemptResult = {
  ok: false,
  retryable: true,
  error: new TenantGuardError('ERR_CREDENTIAL_BROKER', 'broker x answered 503'),
};
const forbidden: AttemptResult = {
  ok: false,
  retryable: false,
  error: new TenantGuardError('ERR_CREDENTIAL_REFUSED', 'broker x answered 403'),
};
const success: AttemptResult = { ok: true, issued: { token: 'tok', statedExpiresAt: 1 } };

describe('backoffDelay', () => {
  test('doubles from 200 ms, capped at 2 s, jittered between half and all of the step', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 0)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 0.999999)),
      [200, 400, 800, 1600, 2000, 2000],
    );
  });
});

describe('withRetries', () => {
  test('network errors and 5xx are retried with growing pauses until success', async () => {
    const c = clock(10);
    const script = [unreachable, fiveHundred, unreachable, success];
    let calls = 0;
    const issued = await withRetries(
      async () => {
        c.spend();
        return script[calls++] ?? success;
      },
      { timeoutMs: 10_000, ...c },
    );
    assert.deepEqual(issued, { token: 'tok', statedExpiresAt: 1 });
    assert.equal(calls, 4);
    assert.deepEqual(c.sleeps, [150, 300, 600]);
  });

  test('4xx is not retried and its error passes through unchanged', async () => {
    const c = clock();
    let calls = 0;
    await assert.rejects(
      withRetries(
        async () => {
          calls++;
          return forbidden;
        },
        { timeoutMs: 10_000, ...c },
      ),
      (err: unknown) =>
        isTenantGuardError(err, 'ERR_CREDENTIAL_REFUSED') && err.message === 'broker x answered 403',
    );
    assert.equal(calls, 1);
    assert.deepEqual(c.sleeps, []);
  });

  test('gives up when the budget is spent, naming the attempts, the last error code kept', async () => {
    const c = clock(100);
    let calls = 0;
    await assert.rejects(
      withRetries(
        async () => {
          c.spend();
          calls++;
          return unreachable;
        },
        { timeoutMs: 2000, ...c },
      ),
      (err: unknown) =>
        isTenantGuardError(err, 'ERR_CREDENTIAL_UNREACHABLE') &&
        /\(gave up after 4 attempts, --timeout 2s\)$/.test(err.message),
    );
    assert.equal(calls, 4);
    // every pause and attempt fits in the budget
    assert.ok(c.now() - 1_000_000 <= 2000, `spent ${c.now() - 1_000_000} ms`);
  });

  test('each attempt gets the time left as its timeout', async () => {
    const c = clock(300);
    const given: number[] = [];
    await assert.rejects(
      withRetries(
        async (ms) => {
          given.push(ms);
          c.spend();
          return unreachable;
        },
        { timeoutMs: 1000, ...c },
      ),
    );
    assert.deepEqual(given, [1000, 550]);
  });

  test('a timed-out attempt ends the run with ERR_CREDENTIAL_TIMEOUT', async () => {
    const c = clock();
    const timeout: AttemptResult = {
      ok: false,
      retryable: false,
      error: new TenantGuardError('ERR_CREDENTIAL_TIMEOUT', 'no answer from broker x in time'),
    };
    await assert.rejects(
      withRetries(async () => timeout, { timeoutMs: 1000, ...c }),
      (err: unknown) =>
        isTenantGuardError(err, 'ERR_CREDENTIAL_TIMEOUT') &&
        /in time \(gave up after 1 attempt, --timeout 1s\)$/.test(err.message),
    );
  });
});
