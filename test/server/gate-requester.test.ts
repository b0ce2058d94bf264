/**
 * A review that takes its turn of the large-request gate once parsed (a costly small body)
 * takes its share under its requester, not the API server's address, which every tenant's
 * review comes from: a red-team review had one tenant, keeping 4 large ApplicationSets in
 * flight, get 56% of another tenant's costly reviews refused (429) at once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import request from 'supertest';
import { LargeRequestGate } from '../../src/admission/large-request-gate.js';
import { MAX_REQUESTER_CHARS, requesterSource } from '../../src/request-source.js';
import { BUSY_MESSAGE } from '../../src/server/webhook-app.js';
import { APPLICATION_SET, buildApp, reviewBody } from './webhook-app-support.js';

const user = (username: unknown) => ({ request: { userInfo: { username, groups: [] } } });

describe('requesterSource', () => {
  test("a review's username, in a key space no address shares", () => {
    assert.equal(requesterSource(user('alice'), '10.0.0.1'), 'user:alice');
    assert.notEqual(requesterSource(user('10.0.0.1'), '10.0.0.1'), '10.0.0.1');
    assert.notEqual(requesterSource(user('unknown'), 'unknown'), 'unknown');
    assert.equal(
      requesterSource(user('a'.repeat(MAX_REQUESTER_CHARS)), '::1').length,
      5 + MAX_REQUESTER_CHARS,
    );
  });

  test('a missing, empty, odd or overlong username falls back to the address', () => {
    for (const body of [
      undefined,
      'text',
      { request: 'x' },
      { request: {} },
      { request: { userInfo: 'alice' } },
      user(undefined),
      user(''),
      user(42),
      user(['alice']),
      user('a'.repeat(MAX_REQUESTER_CHARS + 1)),
      { request: Object.create({ userInfo: { username: 'inherited' } }) as object },
    ])
      assert.equal(requesterSource(body, '10.0.0.1'), '10.0.0.1', JSON.stringify(body));
  });
});

/** A small review by `username` whose list generator holds 1,500 values: costly at costlyNodes 1,000. */
function costlyBy(username: string): string {
  const object = structuredClone(APPLICATION_SET) as { spec: Record<string, unknown> };
  object.spec.generators = [{ list: { elements: [{ a: Array.from({ length: 1_500 }, () => 'x') }] } }];
  return JSON.stringify(reviewBody({ object, userInfo: { username, groups: ['team-a-admins'] } }));
}

describe('the gate shares costly small reviews by requester', () => {
  test("one requester's large bodies holding the address's share refuse no other requester's costly review; a requester still gets only its share", async () => {
    const gate = new LargeRequestGate({
      thresholdBytes: 100_000,
      costlyNodes: 1_000,
      concurrency: 1,
      maxQueued: 16,
      maxPerSource: 2,
    });
    const { app } = buildApp({ largeRequestGate: gate });
    const held = await gate.acquire('elsewhere');
    assert.ok(held !== undefined);
    const waitFor = async (waiting: number) => {
      for (let i = 0; i < 200 && gate.load.waiting < waiting; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(gate.load.waiting, waiting);
    };
    const post = (body: string, type = 'application/json') =>
      request(app).post('/validate').set('content-type', type).send(body);
    const pending: Array<PromiseLike<request.Response>> = [];
    // Mallory's two large bodies take the address's whole share (before they are read).
    const large = JSON.stringify(
      reviewBody({ padding: 'p'.repeat(120_000), userInfo: { username: 'mallory', groups: [] } }),
    );
    for (let i = 0; i < 2; i++) pending.push(post(large).then((r) => r));
    await waitFor(2);
    assert.equal((await post(large)).status, 429, "the address's share is full for large bodies");
    // Bob's costly reviews from that same address wait for their turn, on the lean path and express's.
    pending.push(post(costlyBy('bob')).then((r) => r));
    await waitFor(3);
    pending.push(post(costlyBy('bob'), 'application/json; charset=utf-8; x=y').then((r) => r));
    await waitFor(4);
    // But Bob cannot take more than his share, on either path.
    for (const type of ['application/json', 'application/json; charset=utf-8; x=y']) {
      const refused = await post(costlyBy('bob'), type);
      assert.equal(refused.status, 429, type);
      assert.equal(refused.body.message, BUSY_MESSAGE);
    }
    // Carol's share is her own.
    pending.push(post(costlyBy('carol')).then((r) => r));
    await waitFor(5);
    held.release();
    const answers = await Promise.all(pending);
    assert.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 200, 200, 200],
    );
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });
});

// A red-team review: without a client CA any pod reaching the port names whatever requester it
// likes; one naming a new user on every request filled the queue alone, and 11 of 20 costly
// reviews of others were refused.
describe('an address whose requester names nobody verified holds a share of its own too', () => {
  test('the gate: names past the address share are refused; another address, or a verified name, is not', async () => {
    const gate = new LargeRequestGate({ concurrency: 1, maxQueued: 16, maxPerSource: 4, maxPerAddress: 3 });
    const held = await gate.acquire('elsewhere');
    assert.ok(held !== undefined);
    const slots = [1, 2, 3].map((i) => gate.acquire(`user:u${i}`, '10.0.0.9'));
    assert.ok(slots.every((s) => s !== undefined));
    assert.equal(gate.acquire('user:u4', '10.0.0.9'), undefined, "past the address's share");
    assert.notEqual(gate.acquire('user:u4', '10.0.0.8'), undefined, 'another address has its own');
    assert.notEqual(gate.acquire('user:u5'), undefined, 'a verified requester is only its own share');
    assert.notEqual(
      gate.acquire('10.0.0.9', '10.0.0.9'),
      undefined,
      'a review naming no one takes one entry',
    );
    assert.equal(gate.acquire('10.0.0.9', '10.0.0.9'), undefined, 'and the address is then full');
    held.release();
    for (const s of slots) (await s)?.release();
    assert.equal(gate.acquire('user:u6', '10.0.0.9') !== undefined, true, 'released entries are given back');
  });

  test('the app without a client CA: one client naming a new user for each costly review gets at most half the queue', async () => {
    const gate = new LargeRequestGate({ costlyNodes: 1_000, concurrency: 1, maxQueued: 8, maxPerSource: 2 });
    const { app } = buildApp({ largeRequestGate: gate });
    const held = await gate.acquire('elsewhere');
    assert.ok(held !== undefined);
    const pending: Array<PromiseLike<request.Response>> = [];
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const answer = request(app)
        .post('/validate')
        .set('content-type', 'application/json')
        .send(costlyBy(`u${i}`));
      if (i < 4) {
        pending.push(answer.then((r) => r));
        for (let tries = 0; tries < 200 && gate.load.waiting < i + 1; tries++)
          await new Promise((r) => setTimeout(r, 10));
      } else statuses.push((await answer).status);
    }
    assert.equal(gate.load.waiting, 4, 'half of the queue');
    assert.deepEqual(statuses, [429, 429, 429, 429], 'the rest refused, whatever names they carry');
    held.release();
    assert.deepEqual(
      (await Promise.all(pending)).map((r) => r.status),
      [200, 200, 200, 200],
    );
  });
});
