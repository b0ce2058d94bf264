import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import {
  authorizeCaller,
  CallerAuthenticator,
  callerFromReview,
  type Caller,
} from '../../../src/broker/callers/caller-auth.js';
import { createBroker } from '../../../src/broker/create-broker.js';
import type { Broker } from '../../../src/broker/broker.js';
import { isTenantGuardError } from '../../../src/errors.js';
import { serviceAccountToken } from '../../support/caller-tokens.js';
import { TestApiServer } from '../../support/test-api-server.js';
import { brokerApp, CONTROLLER, recordingLogger, testConfig, testRegistry } from '../helpers.js';

/** `object` without `key` (absent, not present as undefined). */
function withoutKey<T extends object, K extends keyof T>(object: T, key: K): Omit<T, K> {
  const copy = { ...object };
  delete copy[key];
  return copy;
}

describe('callerFromReview and authorizeCaller (pure)', () => {
  const bound = {
    authenticated: true,
    username: CONTROLLER,
    groups: [],
    extra: {
      'authentication.kubernetes.io/pod-name': ['c-0'],
      'authentication.kubernetes.io/pod-uid': ['u-1'],
    },
    audiences: ['tenant-guard'],
  };
  const cases: Array<{
    name: string;
    review: Parameters<typeof callerFromReview>[0];
    audience: string;
    expect: string | { [K in keyof Caller]?: Caller[K] | undefined };
  }> = [
    {
      name: 'bound, audience present',
      review: bound,
      audience: 'tenant-guard',
      expect: { username: CONTROLLER, pod: { name: 'c-0', uid: 'u-1' } },
    },
    {
      name: 'not authenticated',
      review: { ...bound, authenticated: false },
      audience: 'tenant-guard',
      expect: 'ERR_BROKER_UNAUTHENTICATED',
    },
    {
      name: 'no username',
      review: withoutKey(bound, 'username'),
      audience: 'tenant-guard',
      expect: 'ERR_BROKER_UNAUTHENTICATED',
    },
    {
      name: 'audience missing from status.audiences',
      review: { ...bound, audiences: ['other'] },
      audience: 'tenant-guard',
      expect: 'ERR_BROKER_UNAUTHENTICATED',
    },
    {
      name: 'no audience asked: any audiences accepted',
      review: withoutKey(bound, 'audiences'),
      audience: '',
      expect: { username: CONTROLLER },
    },
    {
      name: 'unbound',
      review: { ...bound, extra: {} },
      audience: 'tenant-guard',
      expect: { username: CONTROLLER, pod: undefined },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      if (typeof c.expect === 'string') {
        assert.throws(
          () => callerFromReview(c.review, c.audience),
          (e: unknown) => isTenantGuardError(e, 'ERR_BROKER_UNAUTHENTICATED'),
        );
        return;
      }
      const caller = callerFromReview(c.review, c.audience);
      for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(caller[k as keyof Caller], v, k);
    });
  }

  test('authorizeCaller: unbound 401 unless allowed, other user 403', () => {
    const policy = { allowedCallers: [CONTROLLER], allowUnbound: false };
    assert.deepEqual(authorizeCaller({ username: CONTROLLER, groups: [], pod: { name: 'p' } }, 't', policy), {
      allowed: true,
    });
    const unbound = authorizeCaller({ username: CONTROLLER, groups: [] }, 't', policy);
    assert.equal(unbound.allowed ? '' : unbound.code, 'ERR_BROKER_UNAUTHENTICATED');
    assert.deepEqual(
      authorizeCaller({ username: CONTROLLER, groups: [] }, 't', { ...policy, allowUnbound: true }),
      { allowed: true },
    );
    const other = authorizeCaller(
      { username: 'system:serviceaccount:argocd:argocd-server', groups: [], pod: { name: 'p' } },
      't',
      policy,
    );
    assert.equal(other.allowed ? '' : other.code, 'ERR_BROKER_FORBIDDEN');
  });
});

describe('TokenReview cache and single-flight, counted at the test API server', () => {
  let api: TestApiServer;
  let broker: Broker;
  let clock = Date.now();
  const get = (token: string) =>
    request(brokerApp(broker))
      .get('/api/get-target-token')
      .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
      .set('Authorization', `Bearer ${token}`);

  before(async () => {
    api = await TestApiServer.start();
    broker = await createBroker({
      config: testConfig({ reviewCacheTtl: '5s', callerBurst: '1000' }),
      issuer: 'https://broker.example.com',
      allowedCallers: [CONTROLLER],
      registry: testRegistry(),
      logger: recordingLogger().logger,
      kubeConfig: api.kubeConfig(),
      now: () => clock,
    });
  });
  after(async () => {
    broker.close();
    await api.close();
  });

  function fresh(exp?: number): string {
    const t = serviceAccountToken(exp === undefined ? {} : { exp });
    api.addToken(t.token, t.known);
    return t.token;
  }
  const reviewsOf = (token: string): number => api.tokenReviews.filter((r) => r.token === token).length;

  test('many requests, one review; after the cache TTL, a new review', async () => {
    const token = fresh();
    for (let i = 0; i < 20; i++) assert.equal((await get(token)).status, 200);
    assert.equal(reviewsOf(token), 1);
    clock += 4_900;
    assert.equal((await get(token)).status, 200);
    assert.equal(reviewsOf(token), 1, 'still cached just before the TTL');
    clock += 200;
    assert.equal((await get(token)).status, 200);
    assert.equal(reviewsOf(token), 2, 'reviewed again after the TTL');
  });

  test("never cached past the caller token's own exp", async () => {
    const token = fresh(Math.floor(clock / 1000) + 2);
    assert.equal((await get(token)).status, 200);
    clock += 1_000;
    assert.equal((await get(token)).status, 200);
    assert.equal(reviewsOf(token), 1);
    clock += 1_500;
    await get(token);
    assert.equal(reviewsOf(token), 2, 'the cached review ended with the token');
  });

  test('concurrent requests with one token share one in-flight review', async () => {
    const token = fresh();
    api.inject({ verb: 'tokenreview' }, { delayMs: 200 }, 1);
    const answers = await Promise.all(Array.from({ length: 12 }, () => get(token)));
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(12).fill(200),
    );
    assert.equal(reviewsOf(token), 1);
  });

  test('a failed review is remembered for the failure TTL (no second review); an API error is not remembered', async () => {
    assert.equal((await get('unknown-token')).status, 401);
    assert.equal((await get('unknown-token')).status, 401);
    assert.equal(reviewsOf('unknown-token'), 1, 'the second bad request made no review');
    clock += 5_100;
    assert.equal((await get('unknown-token')).status, 401);
    assert.equal(reviewsOf('unknown-token'), 2, 'reviewed again after the failure TTL');
    const token = fresh();
    api.inject({ verb: 'tokenreview' }, { status: 500 }, 1);
    assert.equal((await get(token)).status, 503);
    assert.equal((await get(token)).status, 200);
    assert.equal(
      api.count({ verb: 'tokenreview' }) - api.tokenReviews.length >= 1,
      true,
      'the 500 never reached the reviewer',
    );
  });
});

describe('caller audience and unbound tokens as configured', () => {
  let api: TestApiServer;
  before(async () => {
    api = await TestApiServer.start();
  });
  after(async () => api.close());

  async function brokerWith(flags: Record<string, string | boolean>): Promise<Broker> {
    return createBroker({
      config: testConfig(flags),
      issuer: 'https://broker.example.com',
      allowedCallers: [CONTROLLER],
      registry: testRegistry(),
      logger: recordingLogger().logger,
      kubeConfig: api.kubeConfig(),
    });
  }

  test('--caller-audience - sends no audiences and accepts a default API server token', async () => {
    const broker = await brokerWith({ callerAudience: '-' });
    try {
      const t = serviceAccountToken({ audiences: ['https://kubernetes.default.svc.cluster.local'] });
      api.addToken(t.token, t.known);
      const res = await request(brokerApp(broker))
        .get('/api/get-target-token')
        .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
        .set('Authorization', `Bearer ${t.token}`);
      assert.equal(res.status, 200);
      assert.deepEqual(api.tokenReviews.at(-1)?.audiences, []);
    } finally {
      broker.close();
    }
  });

  test('--allow-unbound-callers accepts a token without a pod; without it, 401', async () => {
    const t = serviceAccountToken({ pod: null });
    api.addToken(t.token, t.known);
    const strict = await brokerWith({});
    const lax = await brokerWith({ allowUnboundCallers: true });
    try {
      const ask = (b: Broker) =>
        request(brokerApp(b))
          .post('/v1/tokens')
          .set('Authorization', `Bearer ${t.token}`)
          .send({ target: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' });
      const refused = await ask(strict);
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error, 'ERR_BROKER_UNAUTHENTICATED');
      assert.equal((await ask(lax)).status, 200);
    } finally {
      strict.close();
      lax.close();
    }
  });

  test('without a Kubernetes API: token endpoints 503 saying so; discovery and JWKS still served', async () => {
    const broker = await createBroker({
      config: testConfig(),
      issuer: 'https://broker.example.com',
      allowedCallers: [CONTROLLER],
      registry: testRegistry(),
      logger: recordingLogger().logger,
      kubeConfig: null,
    });
    try {
      const app = brokerApp(broker);
      const res = await request(app)
        .get('/api/get-target-token')
        .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
        .set('Authorization', 'Bearer x');
      assert.equal(res.status, 503);
      assert.match(res.text, /caller authentication needs a Kubernetes API/);
      const json = await request(app)
        .post('/v1/tokens')
        .send({ target: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' });
      assert.equal(json.body.error, 'ERR_BROKER_NO_API');
      assert.equal((await request(app).get('/.well-known/openid-configuration')).status, 200);
      assert.equal((await request(app).get('/openid/v1/jwks')).body.keys.length, 1);
    } finally {
      broker.close();
    }
  });
});

describe('the review queue goes first only for tokens whose caller the broker served (found by a red-team review)', () => {
  // Any pod can hold a token the review accepts. Re-reviews of such tokens once took the
  // priority lane and its kept slot although their caller was allowed no target: 700 of
  // them left the Argo CD controller 503s.
  test('authenticated is not enough: only a vouched token is reviewed in the priority lane', async () => {
    let clock = 1_000_000;
    const held: Array<() => void> = [];
    const outcome = (username: string) => ({
      authenticated: true,
      username,
      groups: [],
      extra: { 'authentication.kubernetes.io/pod-name': ['p'] },
      audiences: ['tenant-guard'],
    });
    let hold = false;
    const authenticator = new CallerAuthenticator({
      reviewer: {
        review: async (token: string) => {
          if (hold) await new Promise<void>((release) => held.push(release));
          return outcome(
            token.startsWith('served') ? 'system:serviceaccount:argocd:ctl' : 'system:serviceaccount:t:x',
          );
        },
      },
      audience: 'tenant-guard',
      timeoutMs: 60_000,
      cacheTtlMs: 1_000,
      cacheSize: 100,
      maxConcurrentReviews: 1,
      now: () => clock,
    });
    const served = 'served-token';
    const forbidden = 'forbidden-token';
    const servedCaller = await authenticator.authenticate(served, '10.0.0.1');
    await authenticator.authenticate(forbidden, '10.0.0.2');
    authenticator.vouch(servedCaller); // the broker minted for it; not for the other
    clock += 2_000; // both reviews are past reuse: each needs a new one
    hold = true;
    const blocker = authenticator.authenticate('unknown-token', '10.0.0.3');
    const again = [
      authenticator.authenticate(forbidden, '10.0.0.2'),
      authenticator.authenticate(served, '10.0.0.1'),
    ];
    assert.deepEqual(authenticator.queueDepth, { running: 1, priority: 1, other: 1 });
    hold = false;
    while (held.length > 0) held.shift()?.();
    await Promise.all([blocker, ...again]);
  });
});
