/**
 * Large AdmissionReviews take turns (issue 10 item 2): the gate itself, and through the app
 * that a small request never waits for a large one, a large one waits for its turn, and a
 * large one past the queue bound is refused with 429 at once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import request from 'supertest';
import { LargeRequestGate } from '../../src/admission/large-request-gate.js';
import { BUSY_MESSAGE } from '../../src/server/webhook-app.js';
import { buildApp, reviewBody } from '../server/webhook-app-support.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('LargeRequestGate', () => {
  test('only bodies over the threshold (or of unknown length) are large', () => {
    const gate = new LargeRequestGate({ thresholdBytes: 100 });
    assert.deepEqual(
      [gate.isLarge(100), gate.isLarge(101), gate.isLarge(undefined), gate.isLarge(Number.NaN)],
      [false, true, true, true],
    );
  });

  test('one at a time; the next gets its slot on a later turn once the first is released; past maxQueued, none', async () => {
    const gate = new LargeRequestGate({ concurrency: 1, maxQueued: 1 });
    const first = await gate.acquire();
    assert.ok(first !== undefined);
    const granted: Array<{ release(): void }> = [];
    void gate.acquire()?.then((slot) => {
      granted.push(slot);
    });
    assert.equal(gate.acquire(), undefined, 'the queue holds one');
    assert.deepEqual(gate.load, { running: 1, waiting: 1 });
    first.release();
    first.release(); // idempotent
    assert.equal(granted.length, 0, 'not in the same turn');
    await turn();
    await turn();
    assert.equal(granted.length, 1);
    assert.deepEqual(gate.load, { running: 1, waiting: 0 });
    granted[0]?.release();
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });
});

describe('the webhook app with a gate', () => {
  const padded = (bytes: number) => JSON.stringify(reviewBody({ padding: 'p'.repeat(bytes) }));

  test('while a large request holds the only turn, a small one is answered and a large one waits for it', async () => {
    const gate = new LargeRequestGate({ thresholdBytes: 10_000, concurrency: 1, maxQueued: 4 });
    const { app } = buildApp({ largeRequestGate: gate });
    const held = await gate.acquire();
    assert.ok(held !== undefined);
    const small = await request(app)
      .post('/validate')
      .set('content-type', 'application/json')
      .send(padded(10));
    assert.equal(small.status, 200);
    let largeAnswered = false;
    const large = request(app)
      .post('/validate')
      .set('content-type', 'application/json')
      .send(padded(20_000))
      .then((res) => {
        largeAnswered = true;
        return res;
      });
    for (let i = 0; i < 20 && gate.load.waiting === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(gate.load.waiting, 1, 'the large request waits');
    assert.equal(largeAnswered, false);
    held.release();
    const res = await large;
    assert.equal(res.status, 200);
    assert.equal(res.body.response.allowed, true);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 }, 'its turn is given back once answered');
  });

  test('past the queue bound a large request is refused at once with 429 and Retry-After', async () => {
    const gate = new LargeRequestGate({ thresholdBytes: 10_000, concurrency: 1, maxQueued: 0 });
    const { app, log } = buildApp({ largeRequestGate: gate });
    const held = await gate.acquire();
    assert.ok(held !== undefined);
    const res = await request(app)
      .post('/mutate')
      .set('content-type', 'application/json')
      .send(padded(20_000));
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(res.body.message, BUSY_MESSAGE);
    assert.ok(log.records().some((r) => r.code === 'ERR_ADMISSION_BUSY'));
    held.release();
  });
});
