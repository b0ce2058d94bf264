import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import request from 'supertest';
import type { Broker } from '../../src/broker/broker.js';
import { createBroker } from '../../src/broker/create-broker.js';
import { serviceAccountToken } from '../support/caller-tokens.js';
import { TestApiServer } from '../support/test-api-server.js';
import { auditRecords, brokerApp, CONTROLLER, recordingLogger, testConfig, testRegistry } from './helpers.js';

const ISSUER = 'https://broker.example.com';

describe('broker over HTTP, TokenReview through client-node against the test API server', () => {
  let api: TestApiServer;
  let broker: Broker;
  let app: ReturnType<typeof brokerApp>;
  let log: ReturnType<typeof recordingLogger>;
  const controller = serviceAccountToken();

  before(async () => {
    api = await TestApiServer.start();
    log = recordingLogger();
    broker = await createBroker({
      config: testConfig({ callerRate: '5', callerBurst: '40' }),
      issuer: ISSUER,
      allowedCallers: [CONTROLLER],
      registry: testRegistry(),
      logger: log.logger,
      kubeConfig: api.kubeConfig(),
    });
    app = brokerApp(broker);
  });
  after(async () => {
    broker.close();
    await api.close();
  });
  beforeEach(() => {
    api.knownTokens.clear();
    api.clearFaults();
    api.addToken(controller.token, controller.known);
  });

  test('issues a token for a known target: claims of SPEC section 7, verified against the JWKS', async () => {
    const res = await request(app)
      .get('/api/get-target-token')
      .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
      .set('Authorization', `Bearer ${controller.token}`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.equal(res.headers['cache-control'], 'no-store');
    const token = res.text;
    const jwks = await request(app).get('/openid/v1/jwks');
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks.body), {
      issuer: ISSUER,
      audience: 'k8s-team-a-dev',
      algorithms: ['RS256'],
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(protectedHeader.typ, 'JWT');
    assert.equal(typeof protectedHeader.kid, 'string');
    assert.equal(payload.sub, 'argocd-team-a-dev');
    assert.equal(payload.aud, 'k8s-team-a-dev');
    assert.deepEqual(payload.groups, ['tenant-admins']);
    assert.deepEqual(payload.act, { sub: CONTROLLER });
    assert.equal(payload.exp, (payload.iat ?? 0) + 60, 'exp = iat + the default TTL');
    assert.ok(
      (payload.nbf ?? 0) < (payload.iat ?? 0) && (payload.iat ?? 0) - (payload.nbf ?? 0) <= 60,
      'nbf back-dated at most a minute',
    );
    assert.match(String(payload.jti), /^[A-Za-z0-9_-]{16,}$/);

    const issued = auditRecords(log.lines).find((r) => r.event === 'issued' && r.jti === payload.jti);
    assert.ok(issued, 'an audit record for the issue');
    assert.equal(issued.target, 'k8s-team-a-dev');
    assert.equal(issued.caller, CONTROLLER);
    assert.equal(issued.pod, 'argocd/argocd-application-controller-0');
    assert.equal(issued.tenant, 'team-a');
    assert.equal(issued.exp, payload.exp);
  });

  test('POST /v1/tokens answers {token, expirationTimestamp, audience}; TTL and audience from the registry', async () => {
    const res = await request(app)
      .post('/v1/tokens')
      .set('Authorization', `Bearer ${controller.token}`)
      .send({ target: 'k8s-team-a-prod', server: 'https://team-a-prod.example.com' });
    assert.equal(res.status, 200);
    const { token, expirationTimestamp } = res.body as { token: string; expirationTimestamp: string };
    assert.match(expirationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const jwks = await request(app).get('/openid/v1/jwks');
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.body), {
      issuer: ISSUER,
      audience: 'k8s-team-a-prod',
    });
    assert.equal(payload.exp, (payload.iat ?? 0) + 120);
    assert.equal(Date.parse(expirationTimestamp) / 1000, payload.exp);
    assert.equal(payload.sub, 'tenantguard:k8s-team-a-prod', 'default subject');
    assert.equal(payload.groups, undefined, 'no groups claim when none are set');
    const other = await request(app)
      .post('/v1/tokens')
      .set('Authorization', `Bearer ${controller.token}`)
      .send({ target: 'k8s-team-b-dev', server: 'https://team-b-dev.example.com' });
    const b = await jwtVerify((other.body as { token: string }).token, createLocalJWKSet(jwks.body), {
      issuer: ISSUER,
      audience: 'team-b-dev-audience',
    });
    assert.equal(b.payload.aud, 'team-b-dev-audience');
    assert.equal(
      (other.body as { audience: string }).audience,
      'team-b-dev-audience',
      'the answer states the audience for the exec plugin to check',
    );
  });

  test('discovery and JWKS: no authentication, issuer byte for byte, short Cache-Control', async () => {
    const d = await request(app).get('/.well-known/openid-configuration');
    assert.equal(d.status, 200);
    assert.equal(d.body.issuer, ISSUER);
    assert.equal(d.body.jwks_uri, `${ISSUER}/openid/v1/jwks`);
    assert.deepEqual(d.body.response_types_supported, ['id_token']);
    assert.deepEqual(d.body.subject_types_supported, ['public']);
    assert.deepEqual(d.body.id_token_signing_alg_values_supported, ['RS256']);
    assert.equal(d.headers['cache-control'], 'public, max-age=1');
    const j = await request(app).get('/openid/v1/jwks');
    assert.equal(j.headers['cache-control'], 'public, max-age=1');
    const keys = (j.body as { keys: Array<Record<string, unknown>> }).keys;
    assert.ok(keys.length >= 1);
    for (const k of keys) {
      assert.deepEqual(Object.keys(k).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use'], 'public members only');
    }
  });

  const refusals: Array<{
    name: string;
    setup?: () => void;
    auth?: (t: string) => string | undefined;
    target?: string;
    status: number;
    code: string;
    message: RegExp;
  }> = [
    {
      name: 'no Authorization header',
      auth: () => undefined,
      status: 401,
      code: 'ERR_BROKER_UNAUTHENTICATED',
      message: /no bearer token/,
    },
    {
      name: 'malformed Authorization header',
      auth: () => 'Basic dXNlcjpwYXNz',
      status: 401,
      code: 'ERR_BROKER_UNAUTHENTICATED',
      message: /malformed/,
    },
    {
      name: 'a token the review does not authenticate',
      auth: () => 'Bearer not-a-known-token',
      status: 401,
      code: 'ERR_BROKER_UNAUTHENTICATED',
      message: /not authenticated/,
    },
    {
      name: 'unknown target',
      target: 'k8s-team-z',
      status: 404,
      code: 'ERR_BROKER_UNKNOWN_TARGET',
      message: /unknown target "k8s-team-z"/,
    },
    {
      name: 'TokenReview answers 500',
      setup: () => void api.inject({ verb: 'tokenreview' }, { status: 500 }),
      status: 503,
      code: 'ERR_BROKER_REVIEW_UNAVAILABLE',
      message: /answered 500/,
    },
    {
      name: 'TokenReview answers 403 (broker not allowed to review)',
      setup: () => void api.inject({ verb: 'tokenreview' }, { status: 403 }),
      status: 503,
      code: 'ERR_BROKER_REVIEW_UNAVAILABLE',
      message: /answered 403 Forbidden/,
    },
    {
      name: 'TokenReview connection dropped',
      setup: () => void api.inject({ verb: 'tokenreview' }, { dropConnection: true }),
      status: 503,
      code: 'ERR_BROKER_REVIEW_UNAVAILABLE',
      message: /unreachable/,
    },
  ];
  for (const c of refusals) {
    test(`refuses: ${c.name} -> ${c.status} ${c.code}`, async () => {
      c.setup?.();
      // A fresh caller token, so no cached review answers for it.
      const fresh = serviceAccountToken();
      api.addToken(fresh.token, fresh.known);
      const auth = c.auth === undefined ? `Bearer ${fresh.token}` : c.auth(fresh.token);
      const req = request(app)
        .get('/api/get-target-token')
        .query({ targetName: c.target ?? 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' });
      const res = auth === undefined ? await req : await req.set('Authorization', auth);
      assert.equal(res.status, c.status);
      assert.match(res.text, c.message);
      assert.equal(res.text.trim().split('\n').length, 1, 'one line');
      assert.ok(!res.text.includes('eyJ'), 'never a token in the body');
      const json = await request(app)
        .post('/v1/tokens')
        .set(auth === undefined ? {} : { Authorization: auth })
        .send({ target: c.target ?? 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' });
      assert.equal(json.status, c.status);
      assert.equal(json.body.error, c.code);
      const refused = auditRecords(log.lines).filter((r) => r.event === 'refused' && r.code === c.code);
      assert.ok(refused.length >= 2, 'each refusal is audited');
    });
  }

  test('a caller token of another service account gets 403 and is audited with the caller', async () => {
    const server = serviceAccountToken({ name: 'argocd-server' });
    api.addToken(server.token, server.known);
    const res = await request(app)
      .get('/api/get-target-token')
      .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
      .set('Authorization', `Bearer ${server.token}`);
    assert.equal(res.status, 403);
    assert.match(res.text, /caller "system:serviceaccount:argocd:argocd-server" may not obtain tokens/);
    const rec = auditRecords(log.lines).findLast((r) => r.event === 'refused');
    assert.equal(rec?.caller, 'system:serviceaccount:argocd:argocd-server');
    assert.equal(rec?.code, 'ERR_BROKER_FORBIDDEN');
  });

  test('an unbound caller token (no pod in user.extra) gets 401', async () => {
    const unbound = serviceAccountToken({ pod: null });
    api.addToken(unbound.token, unbound.known);
    const res = await request(app)
      .get('/api/get-target-token')
      .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
      .set('Authorization', `Bearer ${unbound.token}`);
    assert.equal(res.status, 401);
    assert.match(res.text, /not bound to a pod/);
  });

  test('a token for another audience (a default API server token) gets 401; the review asked for the broker audience', async () => {
    const wrong = serviceAccountToken({ audiences: ['https://kubernetes.default.svc.cluster.local'] });
    api.addToken(wrong.token, wrong.known);
    const before = api.tokenReviews.length;
    const res = await request(app)
      .get('/api/get-target-token')
      .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
      .set('Authorization', `Bearer ${wrong.token}`);
    assert.equal(res.status, 401);
    assert.deepEqual(
      api.tokenReviews.slice(before).map((r) => r.audiences),
      [['tenant-guard']],
    );
  });

  test('a review that says authenticated but omits the audience in status.audiences gets 401', async () => {
    const t = serviceAccountToken();
    api.onTokenReview(() => ({
      authenticated: true,
      user: { username: CONTROLLER, extra: { 'authentication.kubernetes.io/pod-name': ['p'] } },
    }));
    try {
      const res = await request(app)
        .get('/api/get-target-token')
        .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
        .set('Authorization', `Bearer ${t.token}`);
      assert.equal(res.status, 401);
      assert.match(res.text, /not valid for audience "tenant-guard"/);
    } finally {
      api.resetTokenReview();
    }
  });

  test('a hanging TokenReview answers 503 within the review timeout (500 ms), never a token', async () => {
    const t = serviceAccountToken();
    api.addToken(t.token, t.known);
    api.inject({ verb: 'tokenreview' }, { hang: true }, 1);
    const started = Date.now();
    const res = await request(app)
      .post('/v1/tokens')
      .set('Authorization', `Bearer ${t.token}`)
      .send({ target: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' });
    const took = Date.now() - started;
    assert.equal(res.status, 503);
    assert.equal(res.body.error, 'ERR_BROKER_REVIEW_UNAVAILABLE');
    assert.equal(res.body.token, undefined);
    assert.ok(took >= 450 && took < 1500, `answered after ${took} ms`);
    // A failure is not cached: the next request reviews again and succeeds.
    const again = await request(app)
      .post('/v1/tokens')
      .set('Authorization', `Bearer ${t.token}`)
      .send({ target: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' });
    assert.equal(again.status, 200);
  });

  test('bad bodies of POST /v1/tokens get 400', async () => {
    const notJson = await request(app)
      .post('/v1/tokens')
      .set('Authorization', `Bearer ${controller.token}`)
      .set('Content-Type', 'application/json')
      .send('{nope');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error, 'ERR_BROKER_BAD_REQUEST');
    const wrongType = await request(app)
      .post('/v1/tokens')
      .set('Authorization', `Bearer ${controller.token}`)
      .send({ target: 42 });
    assert.equal(wrongType.status, 400);
    const none = await request(app)
      .post('/v1/tokens')
      .set('Authorization', `Bearer ${controller.token}`)
      .send({});
    assert.equal(none.status, 400);
    assert.match(none.body.message, /no target/);
  });

  test('per-caller rate limit: 429 with Retry-After once the burst is spent', async () => {
    const t = serviceAccountToken({ name: 'rate-limited-sa' });
    api.addToken(t.token, t.known);
    const limited = await createBroker({
      config: testConfig({ callerRate: '1', callerBurst: '3' }),
      issuer: ISSUER,
      allowedCallers: [t.username],
      registry: testRegistry(),
      logger: recordingLogger().logger,
      kubeConfig: api.kubeConfig(),
    });
    try {
      const a = brokerApp(limited);
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      for (let i = 0; i < 5; i++) {
        const res = await request(a)
          .get('/api/get-target-token')
          .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
          .set('Authorization', `Bearer ${t.token}`);
        statuses.push(res.status);
        if (res.status === 429) retryAfter = res.headers['retry-after'];
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      assert.equal(retryAfter, '1');
    } finally {
      limited.close();
    }
  });

  test('no secrets in the log: neither caller tokens nor issued tokens nor key material', () => {
    const text = log.text();
    assert.ok(!text.includes(controller.token), 'caller token');
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.eyJ/.test(text), 'a JWT');
    assert.ok(!text.includes('"d":'), 'a private JWK member');
  });
});
