import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateKeyRecord } from '../../src/broker/key-material.js';
import { KeyManager } from '../../src/broker/key-manager.js';
import type { RingTiming } from '../../src/broker/key-ring.js';
import { MemoryKeyStore, type KeyChange, type KeySnapshot, type KeyStore } from '../../src/broker/key-store.js';
import { TenantGuardError } from '../../src/errors.js';
import { recordingLogger } from './helpers.js';

const S = 1000;
const timing: RingTiming = { rotationPeriodMs: 100 * S, publishAheadMs: 20 * S, retireMarginMs: 10 * S, maxTokenTtlMs: 60 * S, firstKeyDelayMs: 0 };

/** A store that refuses the next `conflicts` saves with a conflict, or fails loads when `down`. */
class FlakyStore implements KeyStore {
  readonly description = 'flaky';
  conflicts = 0;
  down = false;
  saves = 0;
  constructor(private readonly inner: KeyStore) {}
  async load(): Promise<KeySnapshot> {
    if (this.down) throw new TenantGuardError('ERR_KEYRING_STORE', 'store down');
    return this.inner.load();
  }
  async save(change: KeyChange, version: string | undefined): Promise<string> {
    this.saves++;
    if (this.conflicts > 0) {
      this.conflicts--;
      throw new TenantGuardError('ERR_KEYRING_CONFLICT', 'injected');
    }
    return this.inner.save(change, version);
  }
}

function manager(store: KeyStore, clock: { t: number }, generated: { n: number } = { n: 0 }): KeyManager {
  return new KeyManager({
    store, alg: 'ES256', timing, reloadIntervalMs: 60_000, logger: recordingLogger().logger, now: () => clock.t,
    generate: async (alg, c, nb) => {
      generated.n++;
      return generateKeyRecord(alg, c, nb);
    },
  });
}

describe('KeyManager over time (injected clock)', () => {
  test('first key, next key published ahead, rotation, retired key published until its tokens expired', async () => {
    const clock = { t: 1_000_000 };
    const m = manager(new MemoryKeyStore(), clock);
    await m.reconcile();
    const first = m.signingKey();
    assert.ok(first.key !== undefined, 'a single-process ring signs at once');
    const k1 = first.key.kid;

    clock.t += 79 * S;
    await m.reconcile();
    assert.equal(m.jwks().keys.length, 1, 'not due yet');

    clock.t += 1 * S; // 80 s: due in publish-ahead (20 s)
    await m.reconcile();
    const jwks = m.jwks().keys.map((k) => k.kid);
    assert.equal(jwks.length, 2);
    const k2 = jwks.find((k) => k !== k1) ?? '';
    assert.equal(m.signingKey().key?.kid, k1, 'the new key is only published');

    clock.t += 20 * S - 1; // just before 100 s
    assert.equal(m.signingKey().key?.kid, k1);
    clock.t += 1;
    assert.equal(m.signingKey().key?.kid, k2, 'the new key signs 20 s after it was published');
    assert.deepEqual(m.view().map((v) => [v.record.kid, v.state]), [[k1, 'retired'], [k2, 'active']]);

    clock.t += 60 * S + 10 * S - 1; // retired at 100 s + max TTL 60 s + margin 10 s
    await m.reconcile();
    assert.ok(m.jwks().keys.some((k) => k.kid === k1), 'still published while a token it signed may live');
    clock.t += 1;
    assert.ok(!m.jwks().keys.some((k) => k.kid === k1), 'gone from the JWKS at once');
    await m.reconcile();
    assert.deepEqual(m.view().map((v) => v.record.kid), [k2], 'and removed from the store');
  });

  test('a shared ring\'s first key waits the first-key delay', async () => {
    const clock = { t: 0 };
    const m = new KeyManager({ store: new MemoryKeyStore(), alg: 'ES256', timing: { ...timing, firstKeyDelayMs: 20 * S }, reloadIntervalMs: 60_000, logger: recordingLogger().logger, now: () => clock.t });
    await m.reconcile();
    const none = m.signingKey();
    assert.equal(none.key, undefined);
    assert.match(none.key === undefined ? none.reason : '', /signs from/);
    assert.equal(m.jwks().keys.length, 1, 'but it is published');
    clock.t = 20 * S;
    assert.ok(m.signingKey().key !== undefined);
  });

  test('on conflicts it reads again and decides again, keeping the key it made', async () => {
    const clock = { t: 0 };
    const store = new FlakyStore(new MemoryKeyStore());
    store.conflicts = 3;
    const generated = { n: 0 };
    const m = manager(store, clock, generated);
    await m.reconcile();
    assert.equal(store.saves, 4);
    assert.equal(generated.n, 1);
    assert.ok(m.signingKey().key !== undefined);
  });

  test('two replicas deciding at once make one next key, and both publish it', async () => {
    const clock = { t: 0 };
    const shared = new MemoryKeyStore();
    const a = manager(shared, clock);
    const b = manager(shared, clock);
    await a.reconcile();
    await b.reconcile();
    clock.t = 85 * S;
    await Promise.all([a.reconcile(), b.reconcile()]);
    const kids = (await shared.load()).keys.map((k) => k.kid);
    assert.equal(kids.length, 2, 'exactly one new key');
    await Promise.all([a.reconcile(), b.reconcile()]);
    assert.deepEqual(a.jwks().keys.map((k) => k.kid).sort(), [...kids].sort());
    assert.deepEqual(b.jwks().keys.map((k) => k.kid).sort(), [...kids].sort());
  });

  test('when the store cannot be read for publish-ahead + retire margin, it stops signing', async () => {
    const clock = { t: 0 };
    const store = new FlakyStore(new MemoryKeyStore());
    const m = manager(store, clock);
    await m.reconcile();
    store.down = true;
    clock.t = 30 * S;
    await assert.rejects(m.reconcile(), (e: unknown) => e instanceof TenantGuardError && e.code === 'ERR_KEYRING_STORE');
    assert.ok(m.signingKey().key !== undefined, 'a short outage: still signing');
    clock.t = 30 * S + 1;
    const stale = m.signingKey();
    assert.equal(stale.key, undefined);
    assert.match(stale.key === undefined ? stale.reason : '', /could not be re-read/);
  });
});
