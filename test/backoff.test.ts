import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { doublingWaitMs } from '../src/backoff.js';

describe('the doubling wait', () => {
  test('initialMs after the first failure, doubled after each further one, capped at maxMs', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((n) => doublingWaitMs(n, 2_000, 60_000)),
      [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000],
    );
  });

  test('no failure waits as the first; a very long run stays capped and finite', () => {
    assert.equal(doublingWaitMs(0, 500, 30_000), 500);
    assert.equal(doublingWaitMs(10_000, 500, 30_000), 30_000);
    assert.equal(doublingWaitMs(10_000, 0, 30_000), 0);
  });
});
