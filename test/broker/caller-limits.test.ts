// Issue 15 items 4, 5 and 8 and issue 10 item 4: TokenReview capacity belongs to the
// controller. Counted at the test API server: how many TokenReviews bogus tokens cost, how
// many run at once, and whether the controller still gets its token.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import request from 'supertest';
import {
  REFUSAL_LINES_BURST,
  REFUSAL_LINES_PER_SECOND,
  type Broker,
  type TokenOutcome,
} from '../../src/broker/broker.js';
import { createBroker } from '../../src/broker/create-broker.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { staticRegistry } from '../../src/tenancy/registry.js';
import { knownTokensHandler, type KnownToken } from '../support/api-token-review.js';
import { serviceAccountToken } from '../support/caller-tokens.js';
import { TestApiServer } from '../support/test-api-server.js';
import {
  auditRecords,
  brokerApp,
  brokerReviewing,
  CONTROLLER,
  recordingLogger,
  testConfig,
  testRegistry,
} from './helpers.js';

const TARGET = 'k8s-team-a-dev';
const SERVER = 'https://team-a-dev.example.com';
const ARGOCD_SERVER = 'system:serviceaccount:argocd:argocd-server';

function refused(o: TokenOutcome): { status: number; code: string; retryAfterSeconds?: number } {
  assert.equal(o.ok, false, 'expected a refusal');
  if (o.ok) throw new Error('unreachable');
  return {
    status: o.status,
    code: o.code,
    ...(o.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: o.retryAfterSeconds }),
  };
}

describe('bounded unauthenticated work, counted at the test API server', () => {
  let api: TestApiServer;
  let clock = Date.now();
  const brokers: Broker[] = [];
  before(async () => {
    api = await TestApiServer.start();
  });
  afterEach(() => {
    for (const b of brokers.splice(0)) b.close();
    api.resetTokenReview();
  });
  after(async () => api.close());

  async function brokerWith(flags: Record<string, string>): Promise<Broker> {
    const b = await createBroker({
      config: testConfig({ reviewTimeout: '2s', ...flags }),
      issuer: 'https://broker.example.com',
      allowedCallers: [CONTROLLER],
      registry: testRegistry(),
      logger: recordingLogger().logger,
      kubeConfig: api.kubeConfig(),
      now: () => clock,
    });
    brokers.push(b);
    return b;
  }
  function controllerToken(pod = 'argocd-application-controller-0'): string {
    const t = serviceAccountToken({ pod });
    api.addToken(t.token, t.known);
    return t.token;
  }
  const bogus = (i: number): string => `bogus-${i}-${'x'.repeat(40)}`;

  test('a token longer than 8 KiB (16 KiB here) is refused before any review', async () => {
    const broker = await brokerWith({});
    const before = api.tokenReviews.length;
    for (const size of [8 * 1024 + 1, 16 * 1024]) {
      const r = refused(await broker.issue(`Bearer ${'a'.repeat(size)}`, TARGET, '10.0.0.9', SERVER));
      assert.deepEqual([r.status, r.code], [401, 'ERR_BROKER_UNAUTHENTICATED']);
    }
    const res = await request(brokerApp(broker))
      .get('/api/get-target-token')
      .query({ targetName: TARGET, server: SERVER })
      .set('Authorization', `Bearer ${'a'.repeat(9000)}`);
    assert.equal(res.status, 401);
    assert.match(res.text, /longer than 8192 characters/);
    assert.equal(api.tokenReviews.length, before, 'no TokenReview for an oversized token');
  });

  test('per source address: beyond the burst 429 with Retry-After and no review; other sources and a cached controller token unaffected', async () => {
    const broker = await brokerWith({ sourceBurst: '3', sourceRate: '1' });
    const controller = controllerToken();
    assert.equal((await broker.issue(`Bearer ${controller}`, TARGET, '10.0.0.1', SERVER)).ok, true);
    const before = api.tokenReviews.length;
    const outcomes = [];
    for (let i = 0; i < 5; i++)
      outcomes.push(await broker.issue(`Bearer ${bogus(i)}`, TARGET, '10.0.0.1', SERVER));
    // A bucket of 3: the controller's first (uncached) request took one, two bogus tokens the rest.
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? 200 : o.status)),
      [401, 401, 429, 429, 429],
    );
    const limited = refused(outcomes[2] as TokenOutcome);
    assert.deepEqual([limited.code, limited.retryAfterSeconds], ['ERR_BROKER_RATE_LIMITED', 1]);
    assert.equal(api.tokenReviews.length - before, 2, 'a limited request makes no review');
    assert.equal(
      (await broker.issue(`Bearer ${controller}`, TARGET, '10.0.0.1', SERVER)).ok,
      true,
      'a cached controller token skips the source limit',
    );
    assert.equal(
      refused(await broker.issue(`Bearer ${bogus(7)}`, TARGET, '10.0.0.2', SERVER)).status,
      401,
      'another source is reviewed',
    );
    clock += 1_000;
    assert.equal(
      refused(await broker.issue(`Bearer ${bogus(8)}`, TARGET, '10.0.0.1', SERVER)).status,
      401,
      'the bucket refills at --source-rate',
    );
  });

  test('the review queue: bounded concurrency, a full queue 503 ERR_BROKER_BUSY with Retry-After, a controller authenticated before goes first', async () => {
    const broker = await brokerWith({
      reviewConcurrency: '3',
      reviewQueue: '2',
      reviewCacheTtl: '1s',
      reviewTimeout: '20s',
    });
    const controller = controllerToken();
    assert.equal((await broker.issue(`Bearer ${controller}`, TARGET, '10.1.0.1', SERVER)).ok, true);
    clock += 1_500; // its review is no longer reused, but it is known

    const known = new Map<string, KnownToken>();
    let active = 0;
    let peak = 0;
    const release: Array<() => void> = [];
    let held = true;
    api.onTokenReview(async (req) => {
      active++;
      peak = Math.max(peak, active);
      if (req.token !== controller && held) await new Promise<void>((r) => release.push(r));
      active--;
      return req.token === controller
        ? {
            authenticated: true,
            user: {
              username: CONTROLLER,
              extra: { 'authentication.kubernetes.io/pod-name': ['argocd-application-controller-0'] },
            },
            audiences: ['tenant-guard'],
          }
        : knownTokensHandler(known, () => clock)(req);
    });
    const before = api.tokenReviews.length;
    const flood = Array.from({ length: 20 }, (_v, i) =>
      broker.issue(`Bearer ${bogus(100 + i)}`, TARGET, `10.2.${i}.1`, SERVER),
    );
    await new Promise((r) => setTimeout(r, 150));
    const early = await Promise.race([
      Promise.all(flood.slice(4)),
      new Promise((r) => setTimeout(() => r('pending'), 5_000)),
    ]);
    assert.notEqual(early, 'pending', 'the requests beyond the queue were answered at once');
    for (const o of early as TokenOutcome[]) {
      const r = refused(o);
      assert.deepEqual([r.status, r.code, r.retryAfterSeconds], [503, 'ERR_BROKER_BUSY', 1]);
    }
    assert.equal(
      api.tokenReviews.length - before,
      2,
      'one slot kept: 2 of 3 running for unknown tokens, 2 queued',
    );

    const ctl = await broker.issue(`Bearer ${controller}`, TARGET, '10.1.0.1', SERVER);
    assert.equal(
      ctl.ok,
      true,
      'the controller, authenticated before, took the kept slot while the flood waited',
    );
    assert.equal(peak, 3);
    const res = await request(brokerApp(broker))
      .get('/api/get-target-token')
      .query({ targetName: TARGET, server: SERVER })
      .set('Authorization', `Bearer ${bogus(999)}`);
    assert.deepEqual([res.status, res.headers['retry-after']], [503, '1']);
    assert.match(res.text, /too many caller tokens are being reviewed/);
    held = false;
    release.splice(0).forEach((r) => r());
    const rest = await Promise.all(flood.slice(0, 4));
    assert.deepEqual(
      rest.map((o) => refused(o).code),
      Array(4).fill('ERR_BROKER_UNAUTHENTICATED'),
    );
    assert.equal(peak <= 3, true, `at most 3 TokenReviews at once, saw ${peak}`);
  });

  test('a flood of 200 distinct bogus tokens from 200 sources makes at most 4 reviews at once, the queue holds 8, the rest are refused at once (503 ERR_BROKER_BUSY)', async () => {
    const broker = await brokerWith({
      reviewConcurrency: '4',
      reviewQueue: '8',
      reviewFailureCacheSize: '50',
    });
    let active = 0;
    let peak = 0;
    const known = new Map<string, KnownToken>();
    api.onTokenReview(async (req) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      return knownTokensHandler(known, () => clock)(req);
    });
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_v, i) =>
        broker.issue(`Bearer ${bogus(1000 + i)}`, TARGET, `10.3.${i}.1`, SERVER),
      ),
    );
    const codes = new Set(outcomes.map((o) => (o.ok ? 'ok' : o.code)));
    assert.deepEqual([...codes].sort(), ['ERR_BROKER_BUSY', 'ERR_BROKER_UNAUTHENTICATED']);
    assert.equal(peak <= 4, true, `peak ${peak}`);
    assert.equal(
      outcomes.filter((o) => !o.ok && o.code === 'ERR_BROKER_UNAUTHENTICATED').length <= 3 + 8 + 8,
      true,
    );
  });

  test('the rate bucket is per pod: one controller shard spending its burst does not starve another', async () => {
    const broker = await brokerWith({ callerBurst: '2', callerRate: '1' });
    const shard0 = controllerToken('argocd-application-controller-0');
    const shard1 = controllerToken('argocd-application-controller-1');
    const take = (t: string) => broker.issue(`Bearer ${t}`, TARGET, '10.4.0.1', SERVER);
    assert.equal((await take(shard0)).ok, true);
    assert.equal((await take(shard0)).ok, true);
    const third = refused(await take(shard0));
    assert.deepEqual([third.status, third.code], [429, 'ERR_BROKER_RATE_LIMITED']);
    assert.equal((await take(shard1)).ok, true, 'shard 1 has its own bucket');
    const rotated = controllerToken('argocd-application-controller-0');
    assert.equal(
      refused(await take(rotated)).status,
      429,
      "a rotated token of shard 0 shares shard 0's bucket",
    );
  });
});

describe('allowed callers per target (SPEC section 3)', () => {
  const TENANTS = `
apiVersion: tenantguard.dev/v1alpha1
kind: Tenant
metadata: { name: team-a }
spec:
  owners: { groups: [team-a-admins] }
  namespaces: [team-a]
  projects: [team-a]
  allowedCallers: [${ARGOCD_SERVER}]
  clusters:
    - { name: k8s-team-a-dev, server: https://team-a-dev.example.com }
---
apiVersion: tenantguard.dev/v1alpha1
kind: Tenant
metadata: { name: team-b }
spec:
  owners: { groups: [team-b-admins] }
  namespaces: [team-b]
  projects: [team-b]
  clusters:
    - { name: k8s-team-b-dev, server: https://team-b-dev.example.com }
    - name: k8s-team-b-prod
      server: https://team-b-prod.example.com
      allowedCallers: [system:serviceaccount:argocd:image-updater]
`;
  let api: TestApiServer;
  let broker: Broker;
  before(async () => {
    api = await TestApiServer.start();
    broker = await createBroker({
      config: testConfig(),
      issuer: 'https://broker.example.com',
      allowedCallers: [CONTROLLER],
      registry: staticRegistry(parseTenantsYaml(TENANTS, 'per-target', 'argocd')),
      logger: recordingLogger().logger,
      kubeConfig: api.kubeConfig(),
    });
  });
  after(async () => {
    broker.close();
    await api.close();
  });
  function as(name: string): string {
    const t = serviceAccountToken({ name, pod: `${name}-0` });
    api.addToken(t.token, t.known);
    return t.token;
  }
  const cases: Array<{ name: string; sa: string; target: string; status: number }> = [
    {
      name: 'the global caller, every target',
      sa: 'argocd-application-controller',
      target: 'k8s-team-b-prod',
      status: 200,
    },
    {
      name: "argocd-server, named by team-a: team-a's target",
      sa: 'argocd-server',
      target: 'k8s-team-a-dev',
      status: 200,
    },
    {
      name: 'argocd-server, not named by team-b: 403',
      sa: 'argocd-server',
      target: 'k8s-team-b-dev',
      status: 403,
    },
    {
      name: "a cluster's own caller: that cluster",
      sa: 'image-updater',
      target: 'k8s-team-b-prod',
      status: 200,
    },
    {
      name: "a cluster's own caller: not its sibling",
      sa: 'image-updater',
      target: 'k8s-team-b-dev',
      status: 403,
    },
    {
      name: 'a caller allowed nowhere asking for an unknown target: 403, not 404',
      sa: 'argocd-server',
      target: 'k8s-nowhere',
      status: 403,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const res = await request(brokerApp(broker))
        .post('/v1/tokens')
        .set('Authorization', `Bearer ${as(c.sa)}`)
        .send({ target: c.target, server: `https://${c.target.replace(/^k8s-/, '')}.example.com` });
      assert.equal(res.status, c.status, JSON.stringify(res.body));
      if (c.status === 403) assert.match(res.body.message, /spec\.allowedCallers/);
    });
  }
});

describe('the review queue goes first only for callers the broker served (found by a red-team review)', () => {
  test('a caller refused for its target is not vouched for: its next review waits with the others', async () => {
    let clock = 1_000_000;
    let hold = false;
    const held: Array<() => void> = [];
    const broker = await brokerReviewing({
      flags: { reviewConcurrency: '2', reviewQueue: '1', reviewCacheTtl: '1s' },
      now: () => clock,
      review: async (token) => {
        if (hold) await new Promise<void>((release) => held.push(release));
        return {
          authenticated: true,
          username: token.startsWith('forbidden') ? ARGOCD_SERVER : `system:serviceaccount:t:${token}`,
          groups: [],
          extra: { 'authentication.kubernetes.io/pod-name': ['p-0'] },
          audiences: ['tenant-guard'],
        };
      },
    });
    try {
      assert.equal(
        refused(await broker.issue('Bearer forbidden-1', TARGET, '10.8.0.1', SERVER)).code,
        'ERR_BROKER_FORBIDDEN',
      );
      clock += 2_000; // past the review's reuse: the next request needs a review
      hold = true;
      const running = broker.issue('Bearer other-1', TARGET, '10.8.0.2', SERVER); // the slot for others
      const waiting = broker.issue('Bearer other-2', TARGET, '10.8.0.3', SERVER); // the one place in their lane
      let answered: TokenOutcome | undefined;
      const again = broker
        .issue('Bearer forbidden-1', TARGET, '10.8.0.1', SERVER)
        .then((o) => (answered = o));
      // Only microtasks stand between the request and a full lane's answer.
      for (let i = 0; i < 3; i++) await new Promise((tick) => setImmediate(tick));
      assert.ok(answered !== undefined, 'answered at once, not waiting in the lane kept for served callers');
      assert.equal(refused(answered).code, 'ERR_BROKER_BUSY');
      hold = false;
      for (let next = held.shift(); next !== undefined; next = held.shift()) next();
      await Promise.all([running, waiting, again]);
    } finally {
      broker.close();
    }
  });
});

describe('refusal audit lines are bounded per source', () => {
  // Found by a red-team review: a client with no token at all got 36,000 401s in 3 s, each
  // with a ~500-byte audit line (6 MB/s), as refusals before authentication cost no review.
  test(`a source gets ${REFUSAL_LINES_BURST} refusal lines at once, then ${REFUSAL_LINES_PER_SECOND} a second; the rest are counted on its next line`, async () => {
    let clock = 1_000_000;
    const { logger, lines } = recordingLogger();
    const broker = await brokerReviewing({
      review: () => ({ authenticated: false, username: '', groups: [], extra: {}, audiences: [] }),
      now: () => clock,
      logger,
    });
    try {
      const refusals = () => auditRecords(lines).filter((r) => r.event === 'refused');
      const statuses: number[] = [];
      for (let i = 0; i < 100; i++) {
        const o = await broker.issue(undefined, TARGET, '10.9.0.1', SERVER);
        statuses.push(o.ok ? 200 : o.status);
      }
      assert.ok(
        statuses.every((s) => s === 401),
        'every request is still answered',
      );
      assert.equal(refusals().length, REFUSAL_LINES_BURST);
      assert.equal(refusals()[0]?.source, '10.9.0.1');
      // Another source has its own budget.
      await broker.issue(undefined, TARGET, '10.9.0.2', SERVER);
      assert.equal(refusals().length, REFUSAL_LINES_BURST + 1);
      clock += 3_000;
      for (let i = 0; i < 5; i++) await broker.issue('Bearer', TARGET, '10.9.0.1', SERVER);
      const after = refusals().slice(REFUSAL_LINES_BURST + 1);
      assert.equal(after.length, 3 * REFUSAL_LINES_PER_SECOND, 'the budget refills at its rate');
      assert.equal(
        after[0]?.suppressed,
        100 - REFUSAL_LINES_BURST,
        'the first line after says how many were not written',
      );
      assert.equal(after[1]?.suppressed, undefined);
      assert.equal(after[2]?.suppressed, undefined);
    } finally {
      broker.close();
    }
  });

  test("one identified caller's refusals do not spend another's budget", async () => {
    const { logger, lines } = recordingLogger();
    const broker = await brokerReviewing({
      logger,
      review: (token) => ({
        authenticated: true,
        username: `system:serviceaccount:team-a:${token}`,
        groups: [],
        extra: { 'authentication.kubernetes.io/pod-name': [`${token}-0`] },
        audiences: ['tenant-guard'],
      }),
    });
    try {
      for (let i = 0; i < REFUSAL_LINES_BURST + 2; i++)
        await broker.issue('Bearer noisy', TARGET, '10.9.2.1', SERVER);
      await broker.issue('Bearer quiet', TARGET, '10.9.2.2', SERVER);
      const named = (who: string) =>
        auditRecords(lines).filter(
          (r) => r.event === 'refused' && r.caller === `system:serviceaccount:team-a:${who}`,
        );
      assert.equal(named('noisy').length, REFUSAL_LINES_BURST);
      assert.equal(named('quiet').length, 1, "the quiet caller's refusal is on record");
    } finally {
      broker.close();
    }
  });

  test("an identified caller's refusals have their own budget: requests without a token from its address do not hide them", async () => {
    // Found by a red-team review: 20 token-less requests spent the address's budget, and a
    // tenant account's 12 forbidden requests for every target left no line naming it.
    const clock = 1_000_000;
    const { logger, lines } = recordingLogger();
    const broker = await brokerReviewing({
      review: () => ({
        authenticated: true,
        username: ARGOCD_SERVER,
        groups: [],
        extra: { 'authentication.kubernetes.io/pod-name': ['argocd-server-0'] },
        audiences: ['tenant-guard'],
      }),
      now: () => clock,
      logger,
    });
    try {
      const source = '10.9.1.1';
      for (let i = 0; i < REFUSAL_LINES_BURST + 5; i++) await broker.issue(undefined, TARGET, source, SERVER);
      const forbidden = await broker.issue(`Bearer ${serviceAccountToken().token}`, TARGET, source, SERVER);
      assert.equal(refused(forbidden).code, 'ERR_BROKER_FORBIDDEN');
      const named = auditRecords(lines).filter((r) => r.event === 'refused' && r.caller === ARGOCD_SERVER);
      assert.equal(named.length, 1, 'the forbidden request is on record, with its caller');
      assert.equal(named[0]?.code, 'ERR_BROKER_FORBIDDEN');
      assert.equal(named[0]?.source, source);
    } finally {
      broker.close();
    }
  });
});
