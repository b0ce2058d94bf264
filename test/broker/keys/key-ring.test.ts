import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JWK } from 'jose';
import {
  activeKey,
  applyPlan,
  implausibleTimes,
  nextDecisionAt,
  planRotation,
  publishedKeys,
  viewRing,
  type KeyRecord,
  type RingTiming,
} from '../../../src/broker/keys/key-ring.js';

const S = 1000;
const timing: RingTiming = {
  rotationPeriodMs: 100 * S,
  publishAheadMs: 20 * S,
  retireMarginMs: 10 * S,
  maxTokenTtlMs: 900 * S,
};

function key(kid: string, createdAt: number, notBefore: number): KeyRecord {
  const jwk: JWK = { kty: 'EC', kid };
  return { kid, alg: 'ES256', createdAt, notBefore, privateJwk: jwk, publicJwk: jwk };
}

describe('key ring states follow from the clock', () => {
  const ring = [key('k1', 0, 0), key('k2', 80 * S, 100 * S), key('k3', 180 * S, 200 * S)];
  const cases: Array<{ at: number; states: Record<string, string> }> = [
    { at: 50 * S, states: { k1: 'active', k2: 'next', k3: 'next' } },
    { at: 100 * S, states: { k1: 'retired', k2: 'active', k3: 'next' } },
    { at: 250 * S, states: { k1: 'retired', k2: 'retired', k3: 'active' } },
    // k1 stopped signing at 100 s; its last token expired by 1000 s; plus the margin.
    { at: 1009 * S, states: { k1: 'retired', k2: 'retired', k3: 'active' } },
    { at: 1010 * S, states: { k1: 'expired', k2: 'retired', k3: 'active' } },
  ];
  for (const c of cases) {
    test(`at ${c.at / S}s`, () => {
      const states = Object.fromEntries(viewRing(ring, c.at, timing).map((v) => [v.record.kid, v.state]));
      assert.deepEqual(states, c.states);
      const active = Object.entries(c.states).find(([, s]) => s === 'active')?.[0];
      assert.equal(activeKey(ring, c.at)?.kid, active);
      assert.deepEqual(
        publishedKeys(ring, c.at, timing).map((k) => k.kid),
        Object.keys(c.states).filter((k) => c.states[k] !== 'expired'),
      );
    });
  }
  test('a key signs only from notBefore; the active key is always published', () => {
    for (let t = 0; t < 1200 * S; t += 7 * S) {
      const a = activeKey(ring, t);
      assert.ok(a !== undefined && a.notBefore <= t);
      assert.ok(publishedKeys(ring, t, timing).includes(a));
    }
  });
});

describe('planRotation', () => {
  const cases: Array<{
    name: string;
    keys: KeyRecord[];
    at: number;
    timing?: Partial<RingTiming>;
    fresh?: boolean;
    add?: number;
    remove?: string[];
  }> = [
    {
      name: 'fresh ring (never held a key): the first key signs at once',
      keys: [],
      at: 5 * S,
      fresh: true,
      add: 5 * S,
    },
    {
      name: 'empty ring that held keys before (a lost store): the new key waits the lead',
      keys: [],
      at: 5 * S,
      add: 25 * S,
    },
    {
      name: 'the lead includes the spread (replicas re-reading)',
      keys: [],
      at: 5 * S,
      timing: { spreadMs: 5 * S },
      add: 30 * S,
    },
    { name: 'active key young: nothing', keys: [key('k1', 0, 0)], at: 50 * S },
    {
      name: 'due in publish-ahead: next key at the due time',
      keys: [key('k1', 0, 0)],
      at: 80 * S,
      add: 100 * S,
    },
    {
      name: 'due in publish-ahead plus spread: decided a spread earlier',
      keys: [key('k1', 0, 0)],
      at: 75 * S,
      timing: { spreadMs: 5 * S },
      add: 100 * S,
    },
    {
      name: 'a late decision: next key still a full publish-ahead after now',
      keys: [key('k1', 0, 0)],
      at: 85 * S,
      add: 105 * S,
    },
    { name: 'overdue: next key publish-ahead from now', keys: [key('k1', 0, 0)], at: 150 * S, add: 170 * S },
    {
      name: 'a next key waits already: nothing',
      keys: [key('k1', 0, 0), key('k2', 85 * S, 105 * S)],
      at: 95 * S,
    },
    {
      name: 'retired past its tokens: removed',
      keys: [key('k1', 0, 0), key('k2', 80 * S, 100 * S)],
      at: 1011 * S,
      add: 1031 * S,
      remove: ['k1'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const plan = planRotation(c.keys, c.at, { ...timing, ...c.timing }, c.fresh);
      assert.equal(plan.addNotBefore, c.add);
      assert.deepEqual(plan.remove, c.remove ?? []);
    });
  }
  test('applyPlan and nextDecisionAt', () => {
    const ring = [key('k1', 0, 0), key('k2', 80 * S, 100 * S)];
    assert.deepEqual(
      applyPlan(ring, { remove: ['k1'] }, key('k3', 1, 2)).map((k) => k.kid),
      ['k2', 'k3'],
    );
    assert.equal(nextDecisionAt(ring, 50 * S, timing), 100 * S, 'k2 becomes active');
    assert.equal(
      nextDecisionAt(ring, 150 * S, timing),
      180 * S,
      'next key due (k2 from 100 s + 100 s - 20 s)',
    );
  });
});

describe('implausibleTimes: stored timestamps checked, not believed', () => {
  const now = 1_000 * S;
  const cases: Array<{ name: string; k: KeyRecord; refused?: RegExp }> = [
    { name: 'a key published ahead', k: key('k', now, now + 20 * S) },
    { name: 'a key signing one rotation period ahead', k: key('k', now, now + 100 * S) },
    {
      name: 'notBefore ten years ahead (would stop rotation)',
      k: key('k', now, now + 10 * 365 * 86_400 * S),
      refused: /more than one rotation period/,
    },
    {
      name: 'notBefore just past one rotation period',
      k: key('k', now, now + 100 * S + 1),
      refused: /more than one rotation period/,
    },
    { name: 'createdAt in the future', k: key('k', now + 90 * S, now + 90 * S), refused: /in the future/ },
    { name: 'signs before it was created', k: key('k', now, now - 1), refused: /before it was created/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const why = implausibleTimes(c.k, now, timing);
      if (c.refused === undefined) assert.equal(why, undefined);
      else assert.match(why ?? '', c.refused);
    });
  }
});
