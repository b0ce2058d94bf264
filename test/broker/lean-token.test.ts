/**
 * The lean `GET /api/get-target-token` (src/broker/lean-token.ts) answers exactly as the
 * express router does: the same request to an app with and one without it, compared.
 */
import assert from 'node:assert/strict';
import { IncomingMessage, type ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import request from 'supertest';
import type { Broker } from '../../src/broker/broker.js';
import { createBroker } from '../../src/broker/create-broker.js';
import { leanTokenHandler } from '../../src/broker/lean-token.js';
import { createBrokerRouter } from '../../src/broker/router.js';
import type { ReviewOutcome } from '../../src/broker/callers/token-review.js';
import { createWebhookApp, INTERNAL_ERROR_MESSAGE } from '../../src/server/webhook-app.js';
import { DEFAULT_SETTINGS } from '../../src/settings.js';
import { brokerReviewing, CONTROLLER, recordingLogger, testConfig, testRegistry } from './helpers.js';

/** The broker's routes as `serve` mounts them, with the lean token route or without it. */
function brokerOnlyApp(broker: Broker, logger: Logger, lean: boolean): ReturnType<typeof createWebhookApp> {
  return createWebhookApp({
    registry: testRegistry(),
    settings: { ...DEFAULT_SETTINGS },
    logger,
    audit: { write: () => undefined },
    metricsRegistry: new Registry(),
    admission: false,
    mounts: [
      {
        path: '/',
        router: createBrokerRouter(broker),
        ...(lean ? { lean: leanTokenHandler(broker, { logger, message: INTERNAL_ERROR_MESSAGE }) } : {}),
      },
    ],
  });
}

describe('broker: the lean token route answers as the express router', () => {
  let broker: Broker;
  let viaExpress: (req: IncomingMessage, res: ServerResponse) => void;
  let viaLean: (req: IncomingMessage, res: ServerResponse) => void;
  const leanTaken: boolean[] = [];

  before(async () => {
    const { logger } = recordingLogger();
    broker = await createBroker({
      config: testConfig({ callerRate: '1000', callerBurst: '1000' }),
      issuer: 'https://broker.example.com/tg',
      allowedCallers: [CONTROLLER],
      registry: testRegistry(),
      logger,
      kubeConfig: null,
      reviewer: {
        review: async (token: string): Promise<ReviewOutcome> =>
          token === 'good'
            ? {
                authenticated: true,
                username: CONTROLLER,
                groups: [],
                extra: { 'authentication.kubernetes.io/pod-name': ['argocd-application-controller-0'] },
                audiences: ['tenant-guard'],
              }
            : { authenticated: false, username: '', groups: [], extra: {}, audiences: [] },
      },
    });
    const app = (lean: boolean) => brokerOnlyApp(broker, logger, lean);
    const plain = app(false);
    const withLean = app(true);
    viaExpress = (req, res) => plain(req, res);
    viaLean = (req, res) => {
      res.on('finish', () => leanTaken.push(Object.getPrototypeOf(req) === IncomingMessage.prototype));
      withLean(req, res);
    };
  });
  after(() => broker.close());

  const HEADERS = ['content-type', 'content-length', 'cache-control', 'www-authenticate', 'retry-after'];
  const cases: Array<{ name: string; path: string; auth?: string; lean: boolean }> = [
    {
      name: 'a token',
      path: '/api/get-target-token?targetName=k8s-team-a-dev&server=https%3A%2F%2Fteam-a-dev.example.com',
      auth: 'Bearer good',
      lean: true,
    },
    {
      name: 'a token under the issuer path',
      path: '/tg/api/get-target-token?targetName=k8s-team-a-dev&server=https%3A%2F%2Fteam-a-dev.example.com',
      auth: 'Bearer good',
      lean: true,
    },
    {
      name: 'no Authorization',
      path: '/api/get-target-token?targetName=k8s-team-a-dev&server=https%3A%2F%2Fteam-a-dev.example.com',
      lean: true,
    },
    {
      name: 'a malformed Authorization',
      path: '/api/get-target-token?targetName=k8s-team-a-dev&server=https%3A%2F%2Fteam-a-dev.example.com',
      auth: 'Basic x',
      lean: true,
    },
    {
      name: 'a caller the review rejects',
      path: '/api/get-target-token?targetName=k8s-team-a-dev&server=https%3A%2F%2Fteam-a-dev.example.com',
      auth: 'Bearer bad',
      lean: true,
    },
    { name: 'no target', path: '/api/get-target-token', auth: 'Bearer good', lean: true },
    {
      name: 'a repeated target',
      path: '/api/get-target-token?targetName=a&targetName=b',
      auth: 'Bearer good',
      lean: true,
    },
    {
      name: 'an unknown target',
      path: '/api/get-target-token?targetName=nope&server=https%3A%2F%2Fnope.example.com',
      auth: 'Bearer good',
      lean: true,
    },
    // The server the token is presented to (ADR 0011).
    {
      name: 'no server',
      path: '/api/get-target-token?targetName=k8s-team-a-dev',
      auth: 'Bearer good',
      lean: true,
    },
    {
      name: 'a repeated server',
      path: `/api/get-target-token?targetName=k8s-team-a-dev&server=${encodeURIComponent('https://team-a-dev.example.com')}&server=x`,
      auth: 'Bearer good',
      lean: true,
    },
    {
      name: "another tenant's server",
      path: `/api/get-target-token?targetName=k8s-team-a-dev&server=${encodeURIComponent('https://team-b-dev.example.com')}`,
      auth: 'Bearer good',
      lean: true,
    },
    {
      name: 'the registered server with a trailing slash',
      path: `/api/get-target-token?targetName=k8s-team-a-dev&server=${encodeURIComponent('https://team-a-dev.example.com/')}`,
      auth: 'Bearer good',
      lean: true,
    },
    {
      name: 'a server longer than the bound',
      path: `/api/get-target-token?targetName=k8s-team-a-dev&server=https%3A%2F%2F${'a'.repeat(2100)}`,
      auth: 'Bearer good',
      lean: true,
    },
    {
      name: 'another spelling of the route (left to express)',
      path: '/API/get-target-token/?targetName=k8s-team-a-dev&server=https%3A%2F%2Fteam-a-dev.example.com',
      auth: 'Bearer good',
      lean: false,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const send = (app: typeof viaLean) => {
        const r = request(app).get(c.path);
        return c.auth === undefined ? r : r.set('Authorization', c.auth);
      };
      const expected = await send(viaExpress);
      const actual = await send(viaLean);
      assert.equal(leanTaken.at(-1), c.lean, c.lean ? 'the lean path answered' : 'express answered');
      assert.equal(actual.status, expected.status);
      for (const h of HEADERS) assert.equal(actual.headers[h], expected.headers[h], h);
      if (expected.status === 200) assert.equal(actual.text.split('.').length, 3, 'a JWT');
      else assert.equal(actual.text, expected.text);
    });
  }
});

describe('broker: the per-source limit holds on the lean token route as on the router', () => {
  // Found by review: the lean route called `issue` without the caller's address, so one
  // source could spend the whole TokenReview queue there with fresh bogus tokens.
  async function statusesOf(
    lean: boolean,
  ): Promise<{ statuses: number[]; reviews: number; taken: boolean[] }> {
    const { logger } = recordingLogger();
    let reviews = 0;
    const broker = await brokerReviewing({
      flags: { sourceBurst: '3', sourceRate: '1' },
      issuer: 'https://broker.example.com/tg',
      logger,
      review: () => {
        reviews += 1;
        return { authenticated: false, username: '', groups: [], extra: {}, audiences: [] };
      },
    });
    try {
      const app = brokerOnlyApp(broker, logger, lean);
      const taken: boolean[] = [];
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await request((req: IncomingMessage, out: ServerResponse) => {
          out.on('finish', () => taken.push(Object.getPrototypeOf(req) === IncomingMessage.prototype));
          app(req, out);
        })
          .get('/api/get-target-token?targetName=k8s-team-a-dev&server=https%3A%2F%2Fteam-a-dev.example.com')
          .set('Authorization', `Bearer bogus-${i}`);
        statuses.push(res.status);
      }
      return { statuses, reviews, taken };
    } finally {
      broker.close();
    }
  }

  test('six fresh bogus tokens from one address: three reviews, then 429 on both routes', async () => {
    const router = await statusesOf(false);
    const lean = await statusesOf(true);
    assert.deepEqual(
      lean.taken,
      [true, true, true, true, true, true],
      'the lean path answered every request',
    );
    assert.deepEqual(router.statuses, [401, 401, 401, 429, 429, 429]);
    assert.deepEqual(lean.statuses, router.statuses);
    assert.equal(lean.reviews, 3, 'a limited request makes no TokenReview');
    assert.equal(router.reviews, 3);
  });
});

describe('broker: the lean token route issues at the end of the turn, in order', () => {
  test("no token is issued inside the poll that read its request; a turn's answers follow its issues", async () => {
    const events: string[] = [];
    const broker = {
      issuerPath: '',
      issue: async (_authorization: string | undefined, target: string | undefined) => {
        events.push(`issue ${target}`);
        return { ok: true, token: `token-${target}`, jti: 'j', kid: 'k', expiresAt: 0, audience: 'a' };
      },
    } as unknown as Broker;
    const turns: Array<() => void> = [];
    const { logger } = recordingLogger();
    // The turn's clock stands still: both tasks run in the one turn, however busy the machine.
    const handle = leanTokenHandler(
      broker,
      { logger, message: INTERNAL_ERROR_MESSAGE },
      { schedule: (run) => turns.push(run), now: () => 0 },
    );
    const exchange = (target: string) => {
      const req = {
        method: 'GET',
        url: `/api/get-target-token?targetName=${target}`,
        headers: { authorization: 'Bearer good' },
        socket: { remoteAddress: '10.0.0.9' },
        resume: () => undefined,
      } as unknown as IncomingMessage;
      const res = {
        writeHead: (status: number) => events.push(`answer ${target} ${status}`),
        end: (body: string) => events.push(`body ${body}`),
      } as unknown as ServerResponse;
      assert.equal(handle(req, res), true);
    };
    exchange('one');
    exchange('two');
    assert.deepEqual(events, [], 'nothing issued or answered inside the poll');
    assert.equal(turns.length, 1, 'one turn scheduled for both');
    turns[0]!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events, [
      'issue one',
      'issue two',
      'answer one 200',
      'body token-one',
      'answer two 200',
      'body token-two',
    ]);
  });
});
