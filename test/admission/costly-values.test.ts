/**
 * A small body whose object and oldObject hold many values takes a turn of the large-request
 * gate, as a large one does: a red-team review judged ~250 KiB bodies of 14,000 values that
 * each made a finding in 31-50 ms, ~10x a benign body of that size, and none was gated.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import request from 'supertest';
import {
  DEFAULT_COSTLY_NODES,
  LargeRequestGate,
  valueCount,
} from '../../src/admission/large-request-gate.js';
import { BUSY_MESSAGE } from '../../src/server/webhook-app.js';
import { APPLICATION_SET, buildApp, reviewBody } from '../server/webhook-app-support.js';

/** An ApplicationSet review whose list generator holds one element with `values` strings. */
function valuesReview(values: number, request: Record<string, unknown> = {}): Record<string, unknown> {
  const object = structuredClone(APPLICATION_SET) as { spec: Record<string, unknown> };
  object.spec.generators = [
    { list: { elements: [{ a: Array.from({ length: values }, () => 'k8s-team-2-dev') }] } },
  ];
  return reviewBody({ object, ...request });
}

/** The same review with few values, padded to `bytes` with one annotation string. */
function paddedReview(bytes: number): string {
  const object = structuredClone(APPLICATION_SET) as { metadata: Record<string, unknown> };
  const make = (pad: number) => {
    object.metadata.annotations = { pad: 'p'.repeat(pad) };
    return JSON.stringify(reviewBody({ object }));
  };
  return make(Math.max(0, bytes - make(0).length));
}

const bytesOf = (body: unknown) => Buffer.byteLength(JSON.stringify(body));

describe('valueCount', () => {
  test('counts every object, list and scalar of its roots; undefined roots are none', () => {
    assert.equal(valueCount([{ a: [1, 'x', null, { b: true }] }], 100), 7);
    assert.equal(valueCount([{ a: 1 }, undefined, [2, 3]], 100), 5);
    assert.equal(valueCount([undefined, undefined], 100), 0);
  });

  test('stops once past stopAt, without visiting the rest', () => {
    let read = 0;
    const tail = new Proxy([] as unknown[], {
      get(target, key, receiver) {
        read += 1;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const huge = [...Array.from({ length: 50 }, () => 'v'), tail];
    assert.equal(valueCount([huge], 10), 11);
    assert.equal(read, 0, 'the list past the stop is never read');
  });
});

describe('costlyBecause: many values', () => {
  test('more values than costlyNodes in object, or in object and oldObject together', () => {
    const gate = new LargeRequestGate({ costlyNodes: 1_000 });
    const few = valuesReview(500);
    const many = valuesReview(1_500);
    assert.equal(gate.costlyBecause(few, bytesOf(few)), undefined);
    assert.equal(gate.costlyBecause(many, bytesOf(many)), 'values');
    assert.equal(gate.costlyBecause(many), 'values', 'unknown length: counted');
    const update = valuesReview(600, { operation: 'UPDATE' }) as { request: Record<string, unknown> };
    update.request.oldObject = (valuesReview(600) as { request: { object: unknown } }).request.object;
    assert.equal(gate.costlyBecause(update, bytesOf(update)), 'values');
  });

  test('a body of at most 2 × costlyNodes bytes is not counted: it cannot hold more values', () => {
    const gate = new LargeRequestGate({ costlyNodes: 1_000 });
    let counted = false;
    const body = valuesReview(10) as { request: { object: { metadata: object } } };
    Object.defineProperty(body.request.object.metadata, 'probe', {
      enumerable: true,
      get: () => {
        counted = true;
        return 'x';
      },
    });
    assert.equal(gate.costlyBecause(body, 2_000), undefined);
    assert.equal(counted, false, 'not counted');
    assert.equal(gate.costlyBecause(body, 2_001), undefined);
    assert.equal(counted, true, 'counted past 2 × costlyNodes bytes');
  });

  test('the default is above a big legitimate ApplicationSet and below the measured attack', () => {
    const gate = new LargeRequestGate();
    const big = valuesReview(3_000);
    const attack = valuesReview(14_000);
    assert.equal(gate.costlyBecause(big, bytesOf(big)), undefined);
    assert.equal(gate.costlyBecause(attack, bytesOf(attack)), 'values');
    assert.ok(DEFAULT_COSTLY_NODES > 3_000 && DEFAULT_COSTLY_NODES < 14_000);
  });
});

describe('the webhook app: a small body with many values takes a turn', () => {
  test('with the gate held and no queue, it is refused 429 on the lean path and express alike; a body as large with few values is answered', async () => {
    const gate = new LargeRequestGate({ costlyNodes: 1_000, concurrency: 1, maxQueued: 0 });
    const { app, log } = buildApp({ largeRequestGate: gate });
    const held = await gate.acquire('elsewhere');
    assert.ok(held !== undefined);
    const costly = JSON.stringify(valuesReview(3_000));
    const benign = paddedReview(Buffer.byteLength(costly));
    assert.ok(Buffer.byteLength(costly) < gate.thresholdBytes, 'not large by bytes');
    for (const type of ['application/json', 'application/json; charset=utf-8; x=y']) {
      // The lean path, and express (a Content-Type the lean path leaves to it).
      const refused = await request(app).post('/validate').set('content-type', type).send(costly);
      assert.equal(refused.status, 429, type);
      assert.equal(refused.body.message, BUSY_MESSAGE);
      const answered = await request(app).post('/validate').set('content-type', type).send(benign);
      assert.equal(answered.status, 200, type);
    }
    const warned = log.records().filter((r) => r.code === 'ERR_ADMISSION_BUSY');
    assert.equal(warned[0]?.reason, 'values');
    held.release();
  });
});
