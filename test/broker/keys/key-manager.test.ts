import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateKeyRecord, serializeKeyRecord } from '../../../src/broker/keys/key-material.js';
import { KeyManager } from '../../../src/broker/keys/key-manager.js';
import type { RingTiming } from '../../../src/broker/keys/key-ring.js';
import { SecretKeyStore } from '../../../src/broker/keys/key-store-secret.js';
import {
  MemoryKeyStore,
  type KeyChange,
  type KeySnapshot,
  type KeyStore,
} from '../../../src/broker/keys/key-store.js';
import { TenantGuardError } from '../../../src/errors.js';
import { SECRETS, TestApiServer } from '../../support/test-api-server.js';
import { recordingLogger } from '../helpers.js';

const S = 1000;
const timing: RingTiming = {
  rotationPeriodMs: 100 * S,
  publishAheadMs: 20 * S,
  retireMarginMs: 10 * S,
  maxTokenTtlMs: 60 * S,
  spreadMs: 0,
};

/** A store that refuses the next `conflicts` saves with a conflict, or fails loads when `down`, or saves when `readOnly`. */
class FlakyStore implements KeyStore {
  readonly description = 'flaky';
  conflicts = 0;
  down = false;
  readOnly = false;
  saves = 0;
  constructor(private readonly inner: KeyStore) {}
  async load(): Promise<KeySnapshot> {
    if (this.down) throw new TenantGuardError('ERR_KEYRING_STORE', 'store down');
    return this.inner.load();
  }
  async save(change: KeyChange, version: string | undefined): Promise<string> {
    this.saves++;
    if (this.readOnly)
      throw new TenantGuardError('ERR_KEYRING_STORE', 'cannot write key directory /x: EACCES');
    if (this.conflicts > 0) {
      this.conflicts--;
      throw new TenantGuardError('ERR_KEYRING_CONFLICT', 'injected');
    }
    return this.inner.save(change, version);
  }
}

/** Holds every load until `n` loads are pending, so `n` replicas decide on the same read. */
class ReadBarrier implements KeyStore {
  readonly description = 'barrier';
  conflicts = 0;
  private waiting: Array<() => void> = [];
  constructor(
    private readonly inner: KeyStore,
    private n: number,
  ) {}
  async load(): Promise<KeySnapshot> {
    const snap = await this.inner.load();
    if (this.n > 0) {
      this.n--;
      await new Promise<void>((release) => {
        this.waiting.push(release);
        if (this.n === 0) for (const r of this.waiting) r();
      });
    }
    return snap;
  }
  async save(change: KeyChange, version: string | undefined): Promise<string> {
    try {
      return await this.inner.save(change, version);
    } catch (err) {
      if (err instanceof TenantGuardError && err.code === 'ERR_KEYRING_CONFLICT') this.conflicts++;
      throw err;
    }
  }
}

function manager(
  store: KeyStore,
  clock: { t: number },
  generated: { n: number } = { n: 0 },
  logger = recordingLogger().logger,
): KeyManager {
  return new KeyManager({
    store,
    alg: 'ES256',
    timing,
    reloadIntervalMs: 5 * S,
    logger,
    now: () => clock.t,
    manualReload: true,
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
    assert.deepEqual(
      m.view().map((v) => [v.record.kid, v.state]),
      [
        [k1, 'retired'],
        [k2, 'active'],
      ],
    );

    clock.t += 60 * S + 10 * S - 1; // retired at 100 s + max TTL 60 s + margin 10 s
    await m.reconcile();
    assert.ok(
      m.jwks().keys.some((k) => k.kid === k1),
      'still published while a token it signed may live',
    );
    clock.t += 1;
    assert.ok(!m.jwks().keys.some((k) => k.kid === k1), 'gone from the JWKS at once');
    await m.reconcile();
    assert.deepEqual(
      m.view().map((v) => v.record.kid),
      [k2],
      'and removed from the store',
    );
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
    // Both read the same ring before either writes: the race, every time, not by chance.
    const gate = new ReadBarrier(shared, 2);
    const ga = manager(gate, clock);
    const gb = manager(gate, clock);
    await Promise.all([ga.reconcile(), gb.reconcile()]);
    assert.equal(gate.conflicts, 1, 'the second writer was refused and read again');
    await Promise.all([a.reconcile(), b.reconcile()]);
    const kids = (await shared.load()).keys.map((k) => k.kid);
    assert.equal(kids.length, 2, 'exactly one new key');
    await Promise.all([a.reconcile(), b.reconcile()]);
    assert.deepEqual(
      a
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
      [...kids].sort(),
    );
    assert.deepEqual(
      b
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
      [...kids].sort(),
    );
  });

  test('when the store cannot be read for publish-ahead + retire margin, it stops signing', async () => {
    const clock = { t: 0 };
    const store = new FlakyStore(new MemoryKeyStore());
    const m = manager(store, clock);
    await m.reconcile();
    store.down = true;
    clock.t = 30 * S;
    await assert.rejects(
      m.reconcile(),
      (e: unknown) => e instanceof TenantGuardError && e.code === 'ERR_KEYRING_STORE',
    );
    assert.ok(m.signingKey().key !== undefined, 'a short outage: still signing');
    clock.t = 30 * S + 1;
    const stale = m.signingKey();
    assert.equal(stale.key, undefined);
    assert.match(stale.key === undefined ? stale.reason : '', /could not be re-read/);
  });
});

describe('replicas follow one schedule, the stored one (injected clock)', () => {
  // The shipped timings, with a rotation every 30 minutes so that a run holds several.
  const shipped: RingTiming = {
    rotationPeriodMs: 1_800 * S,
    publishAheadMs: 60 * S,
    retireMarginMs: 60 * S,
    maxTokenTtlMs: 900 * S,
    spreadMs: 10 * S,
  };
  const lead = 70 * S;

  /**
   * Two replicas on one store, reconciling every 10 s; R2 cannot read the store from 5 s
   * before each rotation's key is stored until `outage` after. Returns what went wrong.
   */
  async function rotateWithLateReplica(outageMs: number) {
    const clock = { t: 0 };
    const shared = new MemoryKeyStore();
    const late = new FlakyStore(shared);
    const log = recordingLogger();
    const make = (store: KeyStore) =>
      new KeyManager({
        store,
        alg: 'ES256',
        timing: shipped,
        reloadIntervalMs: 10 * S,
        logger: log.logger,
        now: () => clock.t,
        manualReload: true,
      });
    const [r1, r2] = [make(shared), make(late)];
    const problems: string[] = [];
    const firstSigned = new Map<string, number>();
    for (; clock.t <= 4 * 3_600 * S; clock.t += 10 * S) {
      const sinceStored = (clock.t + lead) % shipped.rotationPeriodMs; // a key is stored at due - lead
      late.down =
        clock.t > lead && (sinceStored >= shipped.rotationPeriodMs - 5 * S || sinceStored < outageMs);
      await r1.reconcile().catch(() => undefined);
      await r2.reconcile().catch(() => undefined);
      const stored = (await shared.load()).keys;
      for (const [name, me, other] of [
        ['R1', r1, r2],
        ['R2', r2, r1],
      ] as const) {
        const key = me.signingKey().key;
        if (key === undefined || !me.readiness().ready) continue;
        if (!firstSigned.has(key.kid)) firstSigned.set(key.kid, clock.t);
        if (other.readiness().ready && !other.jwks().keys.some((k) => k.kid === key.kid))
          problems.push(
            `t=${clock.t / S}s ${name} signs with a key the other ready replica does not publish`,
          );
        const successor = stored
          .filter((k) => k.notBefore > key.notBefore)
          .sort((a, b) => a.notBefore - b.notBefore)[0];
        if (successor !== undefined && clock.t >= successor.notBefore + shipped.retireMarginMs / 2)
          problems.push(`t=${clock.t / S}s ${name} signs with a key retired at ${successor.notBefore / S}s`);
        if (!stored.some((k) => k.kid === key.kid))
          problems.push(`t=${clock.t / S}s ${name} signs with a key the store no longer holds`);
      }
    }
    const restored = log.lines.filter((l) => l.event === 'key-ring-restored').length;
    return { problems, keys: firstSigned.size, restored };
  }

  for (const outage of [85, 115, 1_200]) {
    test(`a replica that sees a new key ${outage} s late: no retired key signs again, every signing key is published by both, rotation goes on`, async () => {
      const run = await rotateWithLateReplica(outage * S);
      assert.deepEqual(run.problems.slice(0, 5), []);
      assert.equal(run.keys, 9, 'a key for each of the 8 rotations in 4 hours, plus the first');
      assert.equal(run.restored, 0, 'nothing removed on schedule was written back');
    });
  }
});

describe('readiness means signing (injected clock)', () => {
  test('a fresh ring: the first key signs at once and the replica is ready after one read', async () => {
    const clock = { t: 1_000_000 };
    const m = manager(new MemoryKeyStore(), clock);
    assert.deepEqual(m.readiness(), { ready: false, reason: 'the key ring (memory) has not been read yet' });
    await m.reconcile();
    assert.deepEqual(m.readiness(), { ready: true });
    assert.equal(m.signingKey().key?.notBefore, 1_000_000, 'no publish-ahead wait for the very first key');
  });

  test('a store that fails from the start: never ready, never signs', async () => {
    const clock = { t: 0 };
    const store = new FlakyStore(new MemoryKeyStore());
    store.down = true;
    const m = manager(store, clock);
    await m.start();
    const r = m.readiness();
    assert.equal(r.ready, false);
    assert.match(r.ready ? '' : r.reason, /has not been read yet/);
    assert.deepEqual(m.jwks(), { keys: [] });
  });

  test('an unwritable store at start (no key can be made): not ready, so no 503 behind a ready /readyz', async () => {
    const clock = { t: 0 };
    const store = new FlakyStore(new MemoryKeyStore());
    store.readOnly = true;
    const m = manager(store, clock);
    await assert.rejects(
      m.reconcile(),
      (e: unknown) => e instanceof TenantGuardError && e.code === 'ERR_KEYRING_STORE',
    );
    assert.equal(m.signingKey().key, undefined);
    const r = m.readiness();
    assert.equal(r.ready, false);
    assert.match(r.ready ? '' : r.reason, /EACCES/);
    store.readOnly = false;
    await m.reconcile();
    assert.deepEqual(m.readiness(), { ready: true });
  });

  test('a store read but not written when a key falls due: the stored key signs on, ready, the failure logged as an error each time it changes', async () => {
    const clock = { t: 0 };
    const store = new FlakyStore(new MemoryKeyStore());
    const log = recordingLogger();
    const m = manager(store, clock, { n: 0 }, log.logger);
    await m.reconcile();
    const first = m.signingKey().key?.kid;
    assert.ok(first !== undefined);
    store.readOnly = true;
    // Past the moment the next key is due, and far past every staleness bound: each round
    // reads the ring and fails to write the key it is due.
    for (const t of [85 * S, 100 * S, 300 * S, 3_000 * S]) {
      clock.t = t;
      await assert.rejects(m.reconcile(), /EACCES/);
      assert.deepEqual(m.readiness(), { ready: true }, `ready at ${t / S} s`);
      assert.equal(m.signingKey().key?.kid, first, `signs at ${t / S} s`);
    }
    assert.equal(m.jwks().keys.length, 1, 'the key no write added is not published');
    const errors = log.lines.filter((l) => String(l.msg).startsWith('key ring read, but'));
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.level, 50);
    store.readOnly = false;
    clock.t = 3_001 * S;
    await m.reconcile();
    assert.equal(m.jwks().keys.length, 2, 'the next key, once written');
  });

  test('a replica whose store fails leaves readiness after half the publish-ahead, before a key it has not seen can sign', async () => {
    const clock = { t: 0 };
    const shared = new MemoryKeyStore();
    const healthy = manager(shared, clock);
    const sick = new FlakyStore(shared);
    const stale = manager(sick, clock);
    await healthy.reconcile();
    clock.t = 78 * S;
    await stale.reconcile(); // its last good read
    sick.down = true;
    clock.t = 80 * S; // the healthy replica stores the next key now; it signs at 100 s
    await healthy.reconcile();
    await assert.rejects(stale.reconcile());
    assert.equal(healthy.jwks().keys.length, 2);
    assert.equal(stale.jwks().keys.length, 1, 'the stale replica serves an old JWKS');
    clock.t = 88 * S; // 10 s (half of publish-ahead) after its last read: still ready
    assert.deepEqual(stale.readiness(), { ready: true });
    clock.t = 88 * S + 1;
    const r = stale.readiness();
    assert.equal(r.ready, false);
    assert.match(r.ready ? '' : r.reason, /has not been re-read since .*store down/);
    assert.ok(
      stale.signingKey().key !== undefined,
      'it could still sign its own key, but it is out of the Service',
    );
    clock.t = 100 * S;
    assert.notEqual(
      healthy.signingKey().key?.kid,
      stale.signingKey().key?.kid,
      'the healthy replica signs with the key the stale one lacks',
    );
  });
});

describe('keys the store holds are checked, not believed (injected clock)', () => {
  test('a key that would sign sooner than publish-ahead after its creation is refused, unless it is the oldest (a fresh ring)', async () => {
    const clock = { t: 0 };
    const shared = new MemoryKeyStore();
    const log = recordingLogger();
    const m = manager(shared, clock, { n: 0 }, log.logger);
    await m.reconcile();
    const own = m.signingKey().key?.kid;
    clock.t = 30 * S;
    const planted = await generateKeyRecord('ES256', 0, 1);
    await shared.save({ add: [planted], remove: [] }, (await shared.load()).version);
    await m.reconcile();
    assert.ok(!m.jwks().keys.some((k) => k.kid === planted.kid), 'never published');
    assert.equal(m.signingKey().key?.kid, own, 'the own key signs on');
    assert.ok(
      (await shared.load()).keys.some((k) => k.kid === own),
      'and stays in the store',
    );
    const line = log.lines.find((l) => typeof l.msg === 'string' && l.msg.includes(planted.kid));
    assert.equal(line?.level, 50);
    assert.match(String(line?.msg), /less than the publish-ahead time/);
  });

  test('a key seen late here (stored with publish-ahead, its notBefore passed) signs only publish-ahead after this replica saw it; the key before it fills in for half the retire margin', async () => {
    const clock = { t: 0 };
    const shared = new MemoryKeyStore();
    const m = manager(shared, clock);
    await m.reconcile();
    const own = m.signingKey().key?.kid;
    clock.t = 22 * S;
    const late = await generateKeyRecord('ES256', 0, 20 * S);
    await shared.save({ add: [late], remove: [] }, (await shared.load()).version);
    await m.reconcile();
    assert.ok(
      m.jwks().keys.some((k) => k.kid === late.kid),
      'published at once',
    );
    assert.equal(
      m.signingKey().key?.kid,
      own,
      'within half the margin (5 s) of its notBefore: the key before it',
    );
    clock.t = 25 * S;
    const gap = m.signingKey();
    assert.equal(
      gap.key,
      undefined,
      'then neither: the own key is retired, the new one not yet published long enough',
    );
    assert.match(gap.key === undefined ? gap.reason : '', /first saw it late .*the key before it is retired/);
    assert.equal(m.readiness().ready, false, 'out of the Service meanwhile');
    clock.t = 42 * S - 1;
    assert.equal(m.signingKey().key, undefined);
    clock.t = 42 * S;
    assert.equal(m.signingKey().key?.kid, late.kid, 'published here for publish-ahead (20 s): now it signs');
    await m.reconcile();
    assert.deepEqual(m.readiness(), { ready: true });
  });

  test('a key whose notBefore is ten years ahead is refused (logged as an error) and does not stop rotation', async () => {
    const clock = { t: 0 };
    const shared = new MemoryKeyStore();
    const log = recordingLogger();
    const m = manager(shared, clock, { n: 0 }, log.logger);
    await m.reconcile();
    const far = await generateKeyRecord('ES256', 0, 10 * 365 * 86_400 * S);
    await shared.save({ add: [far], remove: [] }, (await shared.load()).version);
    clock.t = 80 * S;
    await m.reconcile();
    assert.ok(!m.jwks().keys.some((k) => k.kid === far.kid), 'never published');
    assert.equal(m.view().length, 2, 'the next key was made all the same');
    const line = log.lines.find((l) => typeof l.msg === 'string' && l.msg.includes(far.kid));
    assert.equal(line?.level, 50);
    assert.match(String(line?.msg), /more than one rotation period/);
    assert.ok(
      (await shared.load()).keys.some((k) => k.kid === far.kid),
      'left in the store untouched',
    );
  });
});

describe('a lost store is a fault, not a fresh start (injected clock)', () => {
  test('store emptied: the keys in memory keep serving and signing, the loss is logged, the ring is written back', async () => {
    const clock = { t: 0 };
    const shared = new MemoryKeyStore();
    const log = recordingLogger();
    const m = manager(shared, clock, { n: 0 }, log.logger);
    await m.reconcile();
    clock.t = 80 * S;
    await m.reconcile(); // next key published, signs at 100 s
    clock.t = 100 * S;
    const [k1, k2] = m.view().map((v) => v.record.kid);
    assert.equal(m.signingKey().key?.kid, k2);
    clock.t = 110 * S; // a token signed by k1 at 99 s lives until 159 s
    shared.clear();
    await m.reconcile();
    assert.deepEqual(
      m
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
      [k1, k2].sort(),
      'the retired key stays published',
    );
    assert.equal(m.signingKey().key?.kid, k2, 'the active key keeps signing: no new key signs at once');
    assert.deepEqual((await shared.load()).keys.map((k) => k.kid).sort(), [k1, k2].sort(), 'written back');
    const lost = log.lines.find((l) => l.event === 'key-ring-lost');
    assert.equal(lost?.level, 50);
    assert.equal(lost?.storeEmpty, true);
    for (const k of (await shared.load()).keys)
      assert.ok(!log.text().includes(String(k.privateJwk.d)), 'no key material in the log');
  });

  test('a key withdrawn as docs/upgrade.md says (every replica stopped, store emptied): the next replica signs with a new key at once', async () => {
    // A running replica writes back keys its store lost (above), so the docs' procedure stops
    // every replica first; a red-team review found the docs promising that deleting the
    // Secret alone discarded the keys.
    const clock = { t: 0 };
    const shared = new MemoryKeyStore();
    const before = manager(shared, clock);
    await before.reconcile();
    const leaked = before.signingKey().key?.kid;
    assert.ok(leaked !== undefined);
    before.close();
    clock.t = 30 * S;
    shared.clear();
    const after = manager(shared, clock);
    await after.reconcile();
    const fresh = after.signingKey().key;
    assert.ok(fresh !== undefined && fresh.kid !== leaked, 'a new key');
    assert.equal(fresh.notBefore, 30 * S, 'it signs at once');
    assert.deepEqual(
      after.jwks().keys.map((k) => k.kid),
      [fresh.kid],
      'the withdrawn key is neither published nor stored',
    );
    assert.deepEqual(
      (await shared.load()).keys.map((k) => k.kid),
      [fresh.kid],
    );
  });

  test('store emptied while no key would remain: the new key is published for the lead before it signs', async () => {
    const clock = { t: 0 };
    const shared = new MemoryKeyStore();
    const m = manager(shared, clock);
    await m.reconcile();
    const k1 = m.signingKey().key?.kid;
    clock.t = 100 * S; // k1 is due; the store is lost at the same moment
    shared.clear();
    await m.reconcile();
    const view = m.view();
    assert.equal(view.length, 2);
    assert.equal(
      m.signingKey().key?.kid,
      k1,
      'the old key signs until the new one was published long enough',
    );
    const next = view.find((v) => v.record.kid !== k1)?.record;
    assert.ok(next !== undefined && next.notBefore >= 100 * S + timing.publishAheadMs);
    assert.equal((await shared.load()).keys.length, 2);
  });
});

describe('the Secret store gets the same checks (test API server, injected clock)', () => {
  let api: TestApiServer;
  before(async () => {
    api = await TestApiServer.start();
  });
  after(async () => api.close());
  const secretStore = (name: string): SecretKeyStore =>
    new SecretKeyStore(api.kubeConfig(), { namespace: 'tenant-guard', name });
  const plant = async (name: string, k: Awaited<ReturnType<typeof generateKeyRecord>>): Promise<void> => {
    const s = api.store.get(SECRETS, 'tenant-guard', name);
    api.store.update(SECRETS, 'tenant-guard', name, {
      ...s,
      data: {
        ...(s.data as Record<string, string>),
        [`${k.kid}.json`]: Buffer.from(serializeKeyRecord(k)).toString('base64'),
      },
    });
  };

  test('an entry with notBefore ten years ahead, or one that would sign sooner than publish-ahead after its creation, is refused', async () => {
    const clock = { t: 0 };
    const m = manager(secretStore('checked-keys'), clock);
    await m.reconcile();
    const own = m.signingKey().key?.kid;
    clock.t = 10 * S;
    const far = await generateKeyRecord('ES256', clock.t, clock.t + 10 * 365 * 86_400 * S);
    const past = await generateKeyRecord('ES256', 1, 5 * S);
    await plant('checked-keys', far);
    await plant('checked-keys', past);
    await m.reconcile();
    const published = m.jwks().keys.map((k) => k.kid);
    assert.ok(
      !published.includes(far.kid) && !published.includes(past.kid) && published.includes(String(own)),
    );
    assert.equal(m.signingKey().key?.kid, own);
    clock.t = 30 * S;
    assert.equal(m.signingKey().key?.kid, own);
  });

  test('the Secret deleted: the keys in memory keep serving, the loss is logged, the Secret is written back', async () => {
    const clock = { t: 0 };
    const log = recordingLogger();
    const m = manager(secretStore('deleted-keys'), clock, { n: 0 }, log.logger);
    await m.reconcile();
    const k1 = m.signingKey().key?.kid;
    clock.t = 5 * S;
    api.store.delete(SECRETS, 'tenant-guard', 'deleted-keys');
    await m.reconcile();
    assert.equal(m.signingKey().key?.kid, k1, 'no fresh start: the same key signs');
    assert.deepEqual(m.readiness(), { ready: true });
    const back = api.store.get(SECRETS, 'tenant-guard', 'deleted-keys');
    assert.deepEqual(Object.keys(back.data as object), [`${String(k1)}.json`]);
    assert.ok(log.lines.some((l) => l.event === 'key-ring-lost' && l.level === 50));
  });
});
