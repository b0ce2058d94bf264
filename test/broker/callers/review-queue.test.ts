import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReviewQueue, ReviewQueueFull } from '../../../src/broker/callers/review-queue.js';

/** A unit of work the test finishes by hand. */
function gate(): { work: () => Promise<string>; started: () => boolean; finish: (v: string) => void } {
  let started = false;
  let finish: (v: string) => void = () => undefined;
  const p = new Promise<string>((r) => {
    finish = r;
  });
  return {
    work: () => {
      started = true;
      return p;
    },
    started: () => started,
    finish,
  };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('ReviewQueue', () => {
  test('one slot is kept for tokens authenticated before; unknown tokens wait or are refused when their lane is full', async () => {
    const q = new ReviewQueue(3, 1);
    const signal = new AbortController().signal;
    const [a, b, c, d] = [gate(), gate(), gate(), gate()];
    const ra = q.run(a.work, false, signal);
    const rb = q.run(b.work, false, signal);
    const rc = q.run(c.work, false, signal);
    await tick();
    assert.deepEqual([a.started(), b.started(), c.started()], [true, true, false], 'the third slot is kept');
    await assert.rejects(
      q.run(gate().work, false, signal),
      (e: unknown) => e instanceof ReviewQueueFull && e.code === 'ERR_BROKER_BUSY',
    );
    const rd = q.run(d.work, true, signal);
    await tick();
    assert.equal(d.started(), true, 'a known token takes the kept slot at once');
    d.finish('d');
    assert.equal(await rd, 'd');
    a.finish('a');
    await ra;
    await tick();
    assert.equal(c.started(), true, 'the waiting unknown token runs when a shared slot frees');
    b.finish('b');
    c.finish('c');
    assert.deepEqual(await Promise.all([rb, rc]), ['b', 'c']);
    assert.deepEqual(q.depth, { running: 0, priority: 0, other: 0 });
  });

  test('known tokens waiting go before unknown ones', async () => {
    const q = new ReviewQueue(1, 4);
    const signal = new AbortController().signal;
    const order: string[] = [];
    const first = gate();
    const r1 = q.run(first.work, false, signal);
    const rs = [
      q.run(async () => order.push('unknown'), false, signal),
      q.run(async () => order.push('known'), true, signal),
    ];
    first.finish('x');
    await Promise.all([r1, ...rs]);
    assert.deepEqual(order, ['known', 'unknown']);
  });

  test('a waiter whose signal fires leaves the queue and never runs', async () => {
    const q = new ReviewQueue(1, 4);
    const first = gate();
    const r1 = q.run(first.work, false, new AbortController().signal);
    const ac = new AbortController();
    let ran = false;
    const waiting = q.run(
      async () => {
        ran = true;
      },
      false,
      ac.signal,
    );
    ac.abort(new Error('timed out'));
    await assert.rejects(waiting, /timed out/);
    assert.equal(q.depth.other, 0);
    first.finish('x');
    await r1;
    assert.equal(ran, false);
  });
});
