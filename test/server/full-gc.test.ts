/** `collectGarbageNow`: a full collection on demand, with no global `gc` left behind. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectGarbageNow } from '../../src/server/full-gc.js';

test('collects what nothing references, and leaves no global gc behind', () => {
  const hadGc = typeof (globalThis as { gc?: unknown }).gc;
  let garbage: number[][] | undefined = Array.from({ length: 200 }, () => new Array<number>(50_000).fill(1));
  const withGarbage = process.memoryUsage().heapUsed;
  garbage = undefined;
  collectGarbageNow();
  const after = process.memoryUsage().heapUsed;
  assert.equal(garbage, undefined);
  // 200 arrays of 50,000 small integers: ~80 MB, all unreachable.
  assert.ok(withGarbage - after > 40e6, `heap ${withGarbage} -> ${after}: the arrays were collected`);
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, hadGc, 'no gc exposed to the process');
});
