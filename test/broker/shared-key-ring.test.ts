/**
 * Two broker replicas sharing one Secret-backed key ring on the test API server, on an
 * injected clock: they start at once on an empty Secret, re-read it at their own reload
 * moments (out of phase), get extra 409s at fixed steps, and rotate three times. No key is
 * lost, and every key that signs was in both replicas' JWKS before its first token.
 * Deterministic: no wall-clock timer decides anything (the wall-clock soak of the same run is
 * test/stress/shared-key-ring.stress.ts, `npm run stress`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import request from 'supertest';
import type { Broker } from '../../src/broker/broker.js';
import { createBroker } from '../../src/broker/create-broker.js';
import { SecretKeyStore } from '../../src/broker/keys/key-store-secret.js';
import type { KeyChange, KeySnapshot, KeyStore } from '../../src/broker/keys/key-store.js';
import { serviceAccountToken } from '../support/caller-tokens.js';
import { SECRETS, TestApiServer } from '../support/test-api-server.js';
import { brokerApp, CONTROLLER, recordingLogger, testConfig, testRegistry } from './helpers.js';

const ISSUER = 'https://broker.example.com';
const S = 1000;

/** Holds the first load of each replica until both are pending: both decide on the same (empty) read. */
class StartTogether implements KeyStore {
  readonly description: string;
  constructor(
    private readonly inner: KeyStore,
    private readonly gate: { pending: number; release: Array<() => void> },
  ) {
    this.description = inner.description;
  }
  private first = true;
  async load(): Promise<KeySnapshot> {
    const snap = await this.inner.load();
    if (this.first) {
      this.first = false;
      await new Promise<void>((go) => {
        this.gate.release.push(go);
        this.gate.pending--;
        if (this.gate.pending === 0) for (const r of this.gate.release) r();
      });
    }
    return snap;
  }
  save(change: KeyChange, version: string | undefined): Promise<string> {
    return this.inner.save(change, version);
  }
}

describe('two brokers, one Secret-backed key ring (injected clock)', () => {
  let api: TestApiServer;
  const brokers: Broker[] = [];
  const caller = serviceAccountToken();

  before(async () => {
    api = await TestApiServer.start();
    api.addToken(caller.token, caller.known);
  });
  after(async () => {
    for (const b of brokers) b.close();
    await api.close();
  });

  test('rotating with injected conflicts: no key lost, every signing key published by both before first use', async () => {
    const clock = { t: Date.now() };
    const flags = {
      keySecret: 'tenant-guard/broker-keys',
      rotationPeriod: '60s',
      publishAhead: '20s',
      reloadInterval: '5s',
      jwksMaxAge: '0s',
      signingAlg: 'ES256',
      callerBurst: '100000',
      callerRate: '100000',
    };
    // Both start at once on an empty Secret: one creates it, the other gets AlreadyExists and re-reads.
    api.failNextUpdate({ resource: 'secrets', name: 'broker-keys' }, 2);
    const gate = { pending: 2, release: [] as Array<() => void> };
    const started = await Promise.all(
      [0, 1].map(() =>
        createBroker({
          config: testConfig(flags),
          issuer: ISSUER,
          allowedCallers: [CONTROLLER],
          registry: testRegistry(),
          logger: recordingLogger().logger,
          kubeConfig: api.kubeConfig(),
          keyStore: new StartTogether(
            new SecretKeyStore(api.kubeConfig(), { namespace: 'tenant-guard', name: 'broker-keys' }),
            gate,
          ),
          now: () => clock.t,
          manualReload: true,
        }),
      ),
    );
    brokers.push(...started);
    const replicas = started.map((broker) => ({
      broker,
      app: brokerApp(broker),
      firstSeen: new Map<string, number>(),
    }));
    const firstUse = new Map<string, number>();
    const everSeen = new Set<string>();

    let crossVerified = 0;
    for (let step = 0; step < 200 && firstUse.size < 4; step++) {
      clock.t += 2.5 * S;
      // Each replica re-reads every 5 s (its reload interval), out of phase; every 7th step the
      // next write to the Secret gets a 409.
      if (step % 7 === 3) api.failNextUpdate({ resource: 'secrets', name: 'broker-keys' });
      for (const [i, r] of replicas.entries())
        if (step % 2 === i) await r.broker.keyManager.reconcile().catch(() => undefined);
      const jwks: JSONWebKeySet[] = [];
      for (const r of replicas) {
        const res = await request(r.app).get('/openid/v1/jwks');
        const body = res.body as JSONWebKeySet;
        jwks.push(body);
        for (const k of body.keys) {
          everSeen.add(String(k.kid));
          if (!r.firstSeen.has(String(k.kid))) r.firstSeen.set(String(k.kid), clock.t);
        }
      }
      const i = step % 2;
      const app = replicas[i]?.app;
      assert.ok(app !== undefined);
      const res = await request(app)
        .get('/api/get-target-token')
        .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
        .set('Authorization', `Bearer ${caller.token}`);
      assert.equal(res.status, 200, `step ${step}: ${res.text}`);
      const kid = String(decodeProtectedHeader(res.text).kid);
      if (!firstUse.has(kid)) firstUse.set(kid, clock.t);
      // A verifier that fetched the other replica's JWKS at this moment accepts the token.
      await jwtVerify(res.text, createLocalJWKSet(jwks[1 - i] ?? { keys: [] }), {
        issuer: ISSUER,
        audience: 'k8s-team-a-dev',
        currentDate: new Date(clock.t),
      });
      crossVerified++;
    }

    assert.equal(firstUse.size, 4, `${firstUse.size} signing keys used (${firstUse.size - 1} rotations)`);
    assert.ok(crossVerified > 60, `${crossVerified} tokens verified against the other replica's JWKS`);
    for (const [kid, used] of firstUse) {
      for (const [i, r] of replicas.entries()) {
        const seen = r.firstSeen.get(kid);
        // The first key signs at once on a fresh ring: it was published by both when first used.
        assert.ok(
          seen !== undefined && seen <= used,
          `key ${kid} was in broker ${i}'s JWKS at ${String(seen)} before its first use at ${used}`,
        );
      }
    }
    // No key lost: every key either replica ever published is still in the shared Secret.
    const secret = api.store.get(SECRETS, 'tenant-guard', 'broker-keys');
    const stored = Object.keys(secret.data as Record<string, string>).map((k) => k.replace(/\.json$/, ''));
    for (const kid of everSeen) assert.ok(stored.includes(kid), `key ${kid} lost from the Secret`);
    assert.equal(
      api.count({ verb: 'create', resource: 'secrets' }),
      2,
      'both replicas tried to create the Secret',
    );
    assert.equal(
      api.count({ verb: 'create', resource: 'secrets', status: 409 }),
      1,
      'one got AlreadyExists and re-read',
    );
    const refused = api.count({ verb: 'update', name: 'broker-keys', status: 409 });
    assert.ok(refused >= 3, `updates refused with 409: ${refused}`);
  });

  test('a fresh ring (empty Secret): the first token request right after start is served, and verifies', async () => {
    const started = Date.now();
    const clock = { t: started };
    const broker = await createBroker({
      config: testConfig({ keySecret: 'tenant-guard/fresh-keys' }),
      issuer: ISSUER,
      allowedCallers: [CONTROLLER],
      registry: testRegistry(),
      logger: recordingLogger().logger,
      kubeConfig: api.kubeConfig(),
      manualReload: true,
      now: () => clock.t,
    });
    brokers.push(broker);
    assert.deepEqual(broker.keyManager.readiness(), { ready: true });
    const res = await request(brokerApp(broker))
      .get('/api/get-target-token')
      .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
      .set('Authorization', `Bearer ${caller.token}`);
    assert.equal(res.status, 200, res.text);
    const jwks = await request(brokerApp(broker)).get('/openid/v1/jwks');
    await jwtVerify(res.text, createLocalJWKSet(jwks.body as JSONWebKeySet), {
      issuer: ISSUER,
      audience: 'k8s-team-a-dev',
    });
    // Not a timing assertion: the figure for the closing note (publish-ahead is 2 s here, 60 s by default).
    process.stderr.write(`fresh ring to first token: ${Date.now() - started} ms\n`);
  });
});
