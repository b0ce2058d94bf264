/**
 * The review lane with the cluster's service-account issuer keys (issuer-keys.ts): a token
 * claiming a served identity takes its slot only when the cluster signed it. Before, anyone
 * who knew the controller ServiceAccount's UID could forge tokens claiming it and hold its
 * claimed slot, so that a rotated controller token waited with a flood.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import type { Caller } from '../../../src/broker/callers/caller-auth.js';
import {
  createKubeIssuerKeySource,
  IssuerKeys,
  type IssuerKeySource,
  type SignatureCheck,
  type SignatureChecker,
} from '../../../src/broker/callers/issuer-keys.js';
import { readIssuerJwks } from '../../../src/broker/callers/issuer-jwks.js';
import { createBroker } from '../../../src/broker/create-broker.js';
import { isTenantGuardError, TenantGuardError } from '../../../src/errors.js';
import { makeIssuerKey, testIssuerKeys } from '../../support/caller-tokens.js';
import { knownTokensHandler } from '../../support/api-token-review.js';
import { TestApiServer } from '../../support/test-api-server.js';
import { CONTROLLER, recordingLogger, testConfig, testRegistry } from '../helpers.js';
import { CTL, harness, projectedToken, tick, type Harness } from './lane-harness.js';

const { rsa, ec, jwks } = testIssuerKeys();
const unauthenticated = (a: PromiseSettledResult<Caller>) =>
  a.status === 'rejected' && isTenantGuardError(a.reason, 'ERR_BROKER_UNAUTHENTICATED');

/** A harness whose issuer keys come from `source`, on the harness's clock, read once. */
async function harnessWithKeys(
  source: IssuerKeySource,
  o: { concurrent: number; queued: number },
): Promise<Harness> {
  const keys = new IssuerKeys({
    source,
    logger: recordingLogger().logger,
    now: () => t.clock,
    every: () => () => undefined,
  });
  const t = harness({ ...o, signedBy: rsa, issuerKeys: keys });
  await keys.start();
  return t;
}

/** Tokens claiming the controller's identity, its ServiceAccount UID and pod included, none the cluster's. */
function forgedControllerTokens(t: Harness, n: number): string[] {
  const exp = Math.floor(t.clock / 1000) + 3600;
  const impostor = makeIssuerKey('RS256');
  const none = Buffer.from(JSON.stringify({ alg: 'none', kid: rsa.kid })).toString('base64url');
  const kinds = [
    () => projectedToken(CTL, exp), // a made-up signature
    () => projectedToken(CTL, exp, { ...impostor, kid: rsa.kid }), // another key, the cluster key's kid
    () => projectedToken(CTL, exp, impostor), // another key, its own kid
    () => `${none}.${projectedToken(CTL, exp, rsa).split('.')[1] ?? ''}.`, // alg none
  ];
  return Array.from({ length: n }, (_v, i) => kinds[i % kinds.length]?.() ?? '');
}

/** The value of `name` (with `labels`) on `registry`, or undefined when it has no such series. */
async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

/** Whether `p` settled within the current turn of the event loop (its review was not held). */
async function settledNow<T>(p: Promise<T>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await tick();
  return done;
}

describe('the priority lane by signature, with the cluster’s issuer keys read', () => {
  test('a flood of forged controller tokens takes no slot: the rotated, signed controller token is reviewed first', async () => {
    const t = await harnessWithKeys({ fetch: async () => jwks }, { concurrent: 2, queued: 64 });
    await t.serve(t.mint(CTL));
    t.clock += 6_000;
    t.holding = (token) => !t.genuine.has(token); // every review but the genuine ones' waits
    const blocker = t.authenticator.authenticate('bogus-blocker', '10.1.0.1');
    const forged = forgedControllerTokens(t, 40).map((token, i) =>
      t.authenticator.authenticate(token, `10.2.0.${i}`),
    );
    const answers = Promise.allSettled([blocker, ...forged]);
    try {
      await tick();
      assert.deepEqual(
        t.authenticator.queueDepth,
        { running: 1, priority: 0, other: 40 },
        'no forged token took the controller’s claimed slot: the kept review slot is free',
      );
      const rotated = t.authenticator.authenticate(t.mint(CTL), '10.0.0.1');
      assert.equal(await settledNow(rotated), true, 'reviewed at once, not behind the flood');
      assert.equal((await rotated).username, CONTROLLER);
      const restarted = t.authenticator.authenticate(
        t.mint({ ...CTL, pod: 'argocd-application-controller-7d9f-x2v', podUid: 'p-2' }),
        '10.0.0.1',
      );
      assert.equal(await settledNow(restarted), true, 'a restarted pod’s signed token too');
    } finally {
      t.release();
    }
    assert.ok(
      (await answers).every(unauthenticated),
      'the review still decides: every forged token is refused',
    );
  });

  test('a signed token whose verified slot is taken takes the claimed one', async () => {
    const t = await harnessWithKeys({ fetch: async () => jwks }, { concurrent: 3, queued: 64 });
    const current = t.mint(CTL);
    await t.serve(current);
    t.clock += 6_000;
    t.holding = (token) => token === current || !t.genuine.has(token);
    const flooded = Promise.allSettled(
      Array.from({ length: 10 }, (_v, i) => t.authenticator.authenticate(`bogus-${i}`, `10.1.0.${i}`)),
    );
    const again = t.authenticator.authenticate(current, '10.0.0.1'); // its cached review: the verified slot
    try {
      await tick();
      assert.deepEqual(t.authenticator.queueDepth, { running: 3, priority: 0, other: 8 });
      const rotated = t.authenticator.authenticate(t.mint(CTL), '10.0.0.1');
      await tick();
      assert.deepEqual(t.authenticator.queueDepth, { running: 3, priority: 1, other: 8 });
      t.holding = (token) => !t.genuine.has(token);
      t.held.shift()?.(); // the first held review ends: the rotated token's goes next
      assert.equal(await settledNow(rotated), true, 'reviewed before the flood waiting in the other lane');
      assert.equal((await rotated).username, CONTROLLER);
    } finally {
      t.release();
    }
    assert.equal((await again).username, CONTROLLER);
    await flooded;
  });

  test('a signature is checked only for claims that could have a slot', async () => {
    const checked: string[] = [];
    const inner = new IssuerKeys({ source: { fetch: async () => jwks }, logger: recordingLogger().logger });
    await inner.refresh();
    const counting: SignatureChecker = {
      check: (token): SignatureCheck => {
        checked.push(token);
        return inner.check(token);
      },
    };
    const t = harness({ concurrent: 2, queued: 8, issuerKeys: counting, clock: Date.now(), signedBy: rsa });
    const current = t.mint(CTL);
    await t.serve(current);
    assert.equal(checked.length, 0, 'not served yet: no signature checked');
    await t.authenticator.authenticate(current, '10.0.0.1');
    await t.authenticator.authenticate('opaque-token', '10.0.0.2').catch(() => undefined);
    await t.authenticator.authenticate(t.mint({ ...CTL, saUid: 'another' }), '10.0.0.3');
    await t.authenticator.authenticate(t.mint({ ...CTL, sub: `${CONTROLLER}-x` }), '10.0.0.4');
    assert.equal(checked.length, 0, 'cached, not a JWT, another UID, another user: none checked');
    await t.authenticator.authenticate(t.mint(CTL), '10.0.0.1');
    assert.equal(checked.length, 1, 'a new token of the served identity: one check');
  });
});

describe('without the issuer keys, the lane is chosen as before', () => {
  test('keys that cannot be read: forged claims of the controller take its claimed slot, one place', async () => {
    const denied: IssuerKeySource = {
      fetch: async () => {
        throw new TenantGuardError('ERR_ISSUER_KEYS', 'the API server answered 403 Forbidden');
      },
    };
    const t = await harnessWithKeys(denied, { concurrent: 2, queued: 64 });
    await t.serve(t.mint(CTL));
    t.clock += 6_000;
    t.holding = () => true;
    const blocker = t.authenticator.authenticate('bogus-blocker', '10.1.0.1');
    const forged = forgedControllerTokens(t, 20).map((token, i) =>
      t.authenticator.authenticate(token, `10.2.0.${i}`),
    );
    await tick();
    assert.deepEqual(
      t.authenticator.queueDepth,
      { running: 2, priority: 0, other: 19 },
      'one forged token holds the claimed slot, as before the keys',
    );
    t.release();
    assert.ok((await Promise.allSettled([blocker, ...forged])).every(unauthenticated));
  });
});

describe('through the test API server and client-node', () => {
  test('the source reads /openid/v1/jwks as the API server serves it; a Status error is an ERR_ISSUER_KEYS', async () => {
    const api = await TestApiServer.start();
    try {
      const source = createKubeIssuerKeySource(api.kubeConfig());
      const signal = new AbortController().signal;
      await assert.rejects(source.fetch(signal), (e: unknown) => isTenantGuardError(e, 'ERR_ISSUER_KEYS'));
      api.setIssuerJwks(jwks);
      const answer = await source.fetch(signal);
      assert.deepEqual(answer, jwks, 'application/jwk-set+json, parsed by client-node');
      assert.equal(readIssuerJwks(answer).ok, true);
      api.setIssuerJwks(JSON.stringify({ keys: [ec.jwk] }));
      assert.deepEqual(await source.fetch(signal), { keys: [ec.jwk] });
      api.inject({ verb: 'jwks' }, { status: 403 }, 1);
      await assert.rejects(
        source.fetch(signal),
        (e: unknown) =>
          isTenantGuardError(e, 'ERR_ISSUER_KEYS') && /answered 403 Forbidden$/.test((e as Error).message),
      );
      assert.deepEqual(
        api.requests.filter((r) => r.verb === 'jwks').map((r) => [r.path, r.status]),
        [
          ['/openid/v1/jwks', 404],
          ['/openid/v1/jwks', 200],
          ['/openid/v1/jwks', 200],
          ['/openid/v1/jwks', 403],
        ],
      );
      const slash = await fetch(`${api.url}/openid/v1/jwks/`, { headers: { Authorization: 'Bearer test' } });
      assert.equal(slash.headers.get('content-type'), 'application/jwk-set+json');
    } finally {
      await api.close();
    }
  });

  test('the broker reads the keys and a flood of forged controller tokens does not delay its rotated token', async () => {
    const api = await TestApiServer.start();
    api.setIssuerJwks(jwks);
    const metrics = new Registry();
    const broker = await createBroker({
      config: testConfig({ reviewConcurrency: '2', reviewQueue: '64', reviewTimeout: '5s' }),
      issuer: 'https://broker.example.com',
      allowedCallers: [CONTROLLER],
      registry: testRegistry(),
      logger: recordingLogger().logger,
      kubeConfig: api.kubeConfig(),
      metricsRegistry: metrics,
    });
    const held: Array<() => void> = [];
    let holding = true;
    const release = (): void => {
      holding = false;
      for (const go of held.splice(0)) go();
    };
    try {
      assert.equal(api.count({ verb: 'jwks', status: 200 }), 1, 'read once at start');
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const user = {
        username: CONTROLLER,
        uid: CTL.saUid ?? '',
        groups: ['system:serviceaccounts'],
        extra: {
          'authentication.kubernetes.io/pod-name': [CTL.pod ?? ''],
          'authentication.kubernetes.io/pod-uid': [CTL.podUid ?? ''],
        },
      };
      const genuine = (): string => {
        const token = projectedToken(CTL, exp, rsa);
        api.addToken(token, { ...user, tokenAudiences: ['tenant-guard'], expiresAt: exp * 1000 });
        return token;
      };
      const ask = (token: string, source: string) =>
        broker.issue(`Bearer ${token}`, 'k8s-team-a-dev', source, 'https://team-a-dev.example.com');
      assert.equal((await ask(genuine(), '10.0.0.5')).ok, true);
      const defaultHandler = knownTokensHandler(api.knownTokens, Date.now);
      api.onTokenReview(async (r) => {
        if (holding && !api.knownTokens.has(r.token)) await new Promise<void>((go) => held.push(go));
        return defaultHandler(r);
      });
      const forged = new Set(Array.from({ length: 30 }, () => projectedToken(CTL, exp)));
      const flood = [
        ask('bogus-blocker', '10.1.0.1'),
        ...[...forged].map((token, i) => ask(token, `10.2.0.${i}`)),
      ];
      // Before the keys, one forged token held the claimed slot and this one timed out behind the flood.
      const rotated = await ask(genuine(), '10.0.0.5');
      assert.equal(rotated.ok ? 'issued' : rotated.code, 'issued');
      assert.equal(
        api.tokenReviews.filter((r) => forged.has(r.token)).length,
        0,
        'no forged token reviewed yet',
      );
      release();
      assert.ok((await Promise.all(flood)).every((o) => !o.ok && o.code === 'ERR_BROKER_UNAUTHENTICATED'));
      // Operators see it: the keys held, and what the signature said of each token claiming a
      // served identity (the first genuine token's identity was not served yet: no check).
      assert.equal(await metricValue(metrics, 'tenant_guard_broker_issuer_keys'), jwks.keys.length);
      const checks = 'tenant_guard_broker_lane_signature_checks_total';
      assert.equal(await metricValue(metrics, checks, { result: 'signed' }), 1);
      assert.equal(await metricValue(metrics, checks, { result: 'forged' }), forged.size);
      assert.equal(await metricValue(metrics, checks, { result: 'unknown' }), 0);
    } finally {
      release();
      broker.close();
      await api.close();
    }
  });
});

describe('createBroker wires the issuer keys', () => {
  test('read once before it returns (an injected source, as tests give one); a failure logged with its code', async () => {
    let fetches = 0;
    const log = recordingLogger();
    const metrics = new Registry();
    const broker = await createBroker({
      metricsRegistry: metrics,
      config: testConfig(),
      issuer: 'https://broker.example.com',
      allowedCallers: [CONTROLLER],
      registry: testRegistry(),
      logger: log.logger,
      kubeConfig: null,
      reviewer: { review: async () => ({ authenticated: false, groups: [], extra: {} }) },
      issuerKeySource: {
        fetch: async () => {
          fetches++;
          throw new TenantGuardError(
            'ERR_ISSUER_KEYS',
            'GET /openid/v1/jwks: the API server answered 403 Forbidden',
          );
        },
      },
    });
    broker.close();
    assert.equal(fetches, 1);
    // The gauge says the check is off: no key could be read.
    assert.equal(await metricValue(metrics, 'tenant_guard_broker_issuer_keys'), 0);
    assert.match(
      String(log.lines.find((l) => l.code === 'ERR_ISSUER_KEYS')?.msg),
      /403 Forbidden; caller tokens choose their review lane by their unverified claims/,
    );
  });
});
