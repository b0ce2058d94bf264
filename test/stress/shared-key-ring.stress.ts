/**
 * Soak (`npm run stress`, not part of `npm test`): two broker replicas sharing one
 * Secret-backed key ring on the test API server, on the wall clock with their own reload
 * timers, rotating at the same pace and at the same moments, with extra 409s injected: no key
 * is lost, and every key that signs was in both replicas' JWKS before its first token. Its
 * timings depend on how busy the machine is; the deterministic run of the same scenario, on
 * an injected clock, is test/broker/shared-key-ring.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import request from 'supertest';
import { pino } from 'pino';
import type { Broker } from '../../src/broker/broker.js';
import { createBroker } from '../../src/broker/create-broker.js';
import { serviceAccountToken } from '../support/caller-tokens.js';
import { SECRETS, TestApiServer } from '../support/test-api-server.js';
import { brokerApp, CONTROLLER, recordingLogger, testConfig, testRegistry } from '../broker/helpers.js';

const ISSUER = 'https://broker.example.com';

describe('two brokers, one Secret-backed key ring', { timeout: 60_000 }, () => {
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

  test('rotating concurrently with injected conflicts: no key lost, every signing key published by both before first use', async () => {
    const flags = {
      keySecret: 'tenant-guard/broker-keys',
      rotationPeriod: '1200ms',
      publishAhead: '800ms',
      reloadInterval: '150ms',
      jwksMaxAge: '0s',
      callerBurst: '10000',
      callerRate: '10000',
    };
    // Both start at once on an empty Secret: one creates it, the other gets AlreadyExists and re-reads.
    api.failNextUpdate({ resource: 'secrets', name: 'broker-keys' }, 2);
    const started = await Promise.all(
      [0, 1].map(() =>
        createBroker({
          config: testConfig(flags),
          issuer: ISSUER,
          allowedCallers: [CONTROLLER],
          registry: testRegistry(),
          logger: process.env.TG_DEBUG
            ? pino({ level: 'debug' }, pino.destination(2))
            : recordingLogger().logger,
          kubeConfig: api.kubeConfig(),
        }),
      ),
    );
    brokers.push(...started);
    const apps = started.map((b) => brokerApp(b));
    const app = (i: number): ReturnType<typeof brokerApp> => {
      const found = apps[i];
      assert.ok(found !== undefined);
      return found;
    };

    const firstSeen: Array<Map<string, number>> = [new Map(), new Map()];
    const firstUse = new Map<string, number>();
    const everSeen = new Set<string>();
    let polling = true;
    const poll = async (i: number): Promise<void> => {
      while (polling) {
        const res = await request(app(i)).get('/openid/v1/jwks');
        const at = Date.now();
        for (const k of (res.body as { keys: Array<{ kid: string }> }).keys) {
          everSeen.add(k.kid);
          if (!firstSeen[i]?.has(k.kid)) firstSeen[i]?.set(k.kid, at);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const pollers = [poll(0), poll(1)];
    // Extra conflicts while they rotate: every 250 ms the next write to the Secret gets 409.
    const injector = setInterval(() => api.failNextUpdate({ resource: 'secrets', name: 'broker-keys' }), 250);

    const deadline = Date.now() + 20_000;
    let n = 0;
    let crossVerified = 0;
    try {
      while (firstUse.size < 4 && Date.now() < deadline) {
        const i = n++ % 2;
        const asked = Date.now();
        const res = await request(app(i))
          .get('/api/get-target-token')
          .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
          .set('Authorization', `Bearer ${caller.token}`);
        if (res.status === 503) {
          assert.match(res.text, /signs from|not been read/, 'only before the first key signs');
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        assert.equal(res.status, 200, res.text);
        const kid = String(decodeProtectedHeader(res.text).kid);
        if (!firstUse.has(kid)) firstUse.set(kid, asked);
        // A verifier that fetched the other replica's JWKS right now accepts the token.
        const otherJwks = await request(app(1 - i)).get('/openid/v1/jwks');
        await jwtVerify(res.text, createLocalJWKSet(otherJwks.body), {
          issuer: ISSUER,
          audience: 'k8s-team-a-dev',
        });
        crossVerified++;
        await new Promise((r) => setTimeout(r, 30));
      }
    } finally {
      clearInterval(injector);
      polling = false;
      await Promise.all(pollers);
    }

    assert.ok(firstUse.size >= 4, `only ${firstUse.size} signing keys used (${firstUse.size - 1} rotations)`);
    assert.ok(crossVerified > 20);
    // The first key of a fresh ring signs at once (no verifier can have cached a JWKS without
    // it; a replica that has not read it yet is not ready): every later key is checked.
    for (const [kid, used] of [...firstUse].slice(1)) {
      for (const i of [0, 1]) {
        const seen = firstSeen[i]?.get(kid);
        assert.ok(
          seen !== undefined && seen < used,
          `key ${kid} was in broker ${i}'s JWKS at ${String(seen)} before its first use at ${used}`,
        );
      }
    }
    // No key lost: every key either replica ever published is still in the shared Secret.
    const secret = api.store.get(SECRETS, 'tenant-guard', 'broker-keys');
    const stored = Object.keys(secret.data as Record<string, string>).map((k) => k.replace(/\.json$/, ''));
    for (const kid of everSeen) assert.ok(stored.includes(kid), `key ${kid} lost from the Secret`);
    // There were conflicts (injected and natural), resolved by reading again.
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
});
