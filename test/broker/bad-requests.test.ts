/**
 * What the broker answers a request it cannot serve as asked, on the app `serve` builds (the
 * lean token route included): `POST /v1/tokens` refusals are JSON `{error, message}`, with a
 * message that names the actual mistake; a request that names no target is a bad request
 * (400) on both token routes, and only a name that could be a cluster's is looked up (404
 * when no tenant has it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import request from 'supertest';
import type { Broker } from '../../src/broker/broker.js';
import { leanTokenHandler } from '../../src/broker/lean-token.js';
import { createBrokerRouter } from '../../src/broker/router.js';
import { createWebhookApp, INTERNAL_ERROR_MESSAGE } from '../../src/server/webhook-app.js';
import { DEFAULT_SETTINGS } from '../../src/settings.js';
import { brokerReviewing, CONTROLLER, recordingLogger, testRegistry } from './helpers.js';

describe('broker: bad requests to POST /v1/tokens', () => {
  let broker: Broker;
  let app: ReturnType<typeof createWebhookApp>;

  before(async () => {
    const { logger } = recordingLogger();
    broker = await brokerReviewing({
      flags: { callerRate: '1000', callerBurst: '1000' },
      review: () => ({
        authenticated: true,
        username: CONTROLLER,
        groups: [],
        extra: { 'authentication.kubernetes.io/pod-name': ['argocd-application-controller-0'] },
        audiences: ['tenant-guard'],
      }),
    });
    app = createWebhookApp({
      registry: testRegistry(),
      settings: { ...DEFAULT_SETTINGS },
      logger,
      audit: { write: () => undefined },
      metricsRegistry: new Registry(),
      mounts: [
        {
          path: '/',
          router: createBrokerRouter(broker),
          lean: leanTokenHandler(broker, { logger, message: INTERNAL_ERROR_MESSAGE }),
        },
      ],
    });
  });
  after(() => broker.close());

  const post = (body: string, headers: Record<string, string> = {}) => {
    const req = request(app).post('/v1/tokens').set('Authorization', 'Bearer good');
    for (const [name, value] of Object.entries({ 'Content-Type': 'application/json', ...headers }))
      req.set(name, value);
    return req.send(body);
  };

  const bodies: Array<{ name: string; body: string; headers?: Record<string, string>; message: RegExp }> = [
    {
      name: 'valid JSON past the 4 KiB bound',
      body: JSON.stringify({ target: 'k8s-team-a-dev', pad: 'x'.repeat(5000) }),
      message:
        /^the body is larger than 4096 bytes; send \{"target": "<cluster name>", "server": "<server URL>"\}$/,
    },
    {
      name: 'a Content-Encoding the parser does not read',
      body: '{"target": "k8s-team-a-dev"}',
      headers: { 'Content-Encoding': 'compress' },
      message:
        /^unsupported Content-Encoding; send \{"target": "<cluster name>", "server": "<server URL>"\} uncompressed$/,
    },
    {
      name: 'a charset other than UTF-8',
      body: '{"target": "k8s-team-a-dev"}',
      headers: { 'Content-Type': 'application/json; charset=latin1' },
      message:
        /^unsupported charset; send \{"target": "<cluster name>", "server": "<server URL>"\} in UTF-8$/,
    },
    {
      name: 'not JSON',
      body: '{nope',
      message: /^the body must be JSON: \{"target": "<cluster name>", "server": "<server URL>"\}$/,
    },
  ];
  for (const c of bodies) {
    test(`${c.name}: 400 ERR_BROKER_BAD_REQUEST, JSON, saying so`, async () => {
      const res = await post(c.body, c.headers);
      assert.equal(res.status, 400);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.deepEqual(Object.keys(res.body as object), ['error', 'message']);
      assert.equal(res.body.error, 'ERR_BROKER_BAD_REQUEST');
      assert.match(res.body.message, c.message);
    });
  }

  const NO_TARGET = /^no target named; give the target cluster name$/;
  const targets: Array<{ name: string; target: string | undefined; status: number; message: RegExp }> = [
    { name: 'absent', target: undefined, status: 400, message: NO_TARGET },
    { name: 'empty', target: '', status: 400, message: NO_TARGET },
    { name: 'blank', target: '  ', status: 400, message: NO_TARGET },
    { name: 'a tab', target: '\t', status: 400, message: NO_TARGET },
    {
      name: 'longer than any name',
      target: 'k'.repeat(254),
      status: 400,
      message: /^the target name has 254 characters; a target name has at most 253$/,
    },
    {
      name: 'well-formed but unknown',
      target: 'k8s-team-z',
      status: 404,
      message: /^unknown target "k8s-team-z"/,
    },
  ];
  for (const c of targets) {
    test(`target ${c.name}: ${c.status} on both token routes`, async () => {
      const code = c.status === 400 ? 'ERR_BROKER_BAD_REQUEST' : 'ERR_BROKER_UNKNOWN_TARGET';
      const server = 'https://team-z.example.com';
      const posted = await post(
        JSON.stringify(c.target === undefined ? { server } : { target: c.target, server }),
      );
      assert.equal(posted.status, c.status);
      assert.equal(posted.body.error, code);
      assert.match(posted.body.message, c.message);
      const path = `/api/get-target-token?server=${encodeURIComponent(server)}${c.target === undefined ? '' : `&targetName=${encodeURIComponent(c.target)}`}`;
      const got = await request(app).get(path).set('Authorization', 'Bearer good');
      assert.equal(got.status, c.status);
      assert.match(got.text, /\n$/, 'one line');
      assert.match(got.text.slice(0, -1), c.message);
    });
  }
});
