// ADR 0011 (red-team finding "stale cluster Secret"): the broker issues a target's token only
// for the server it will be presented to, the target's registered server, compared as
// TG-CS-02 compares a cluster Secret's; a request naming no server is refused unless the
// broker was started with --allow-requests-without-server.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import request from 'supertest';
import type { Broker, TokenOutcome } from '../../src/broker/broker.js';
import { createBroker } from '../../src/broker/create-broker.js';
import { buildRegistry, staticRegistry } from '../../src/tenancy/registry.js';
import { buildWithLastAccepted } from '../../src/tenancy/registry-continuity.js';
import { parseTenant } from '../../src/tenancy/tenant.js';
import { parseAllDocuments } from 'yaml';
import {
  auditRecords,
  brokerApp,
  brokerReviewing,
  CONTROLLER,
  recordingLogger,
  testConfig,
} from './helpers.js';
import type { ReviewOutcome } from '../../src/broker/callers/token-review.js';

const TARGET = 'k8s-team-a-dev';
const SERVER = 'https://team-a-dev.example.com';
const CALLER = 'Bearer caller.token.x';

const review = (): ReviewOutcome => ({
  authenticated: true,
  username: CONTROLLER,
  groups: [],
  extra: { 'authentication.kubernetes.io/pod-name': ['argocd-application-controller-0'] },
  audiences: ['tenant-guard'],
});

function code(o: TokenOutcome): string {
  return o.ok ? 'issued' : o.code;
}

async function withBroker(
  flags: Record<string, string | boolean>,
  run: (b: Broker, lines: Array<Record<string, unknown>>) => Promise<void>,
): Promise<void> {
  const { logger, lines } = recordingLogger();
  const broker = await brokerReviewing({ review, flags, logger });
  try {
    await run(broker, lines);
  } finally {
    broker.close();
  }
}

describe('broker: a token is bound to the server it is presented to (ADR 0011)', () => {
  test('the registered server is issued for, also with trailing slashes (as TG-CS-02 reads it)', async () => {
    await withBroker({}, async (b) => {
      assert.equal(code(await b.issue(CALLER, TARGET, '10.0.0.1', SERVER)), 'issued');
      assert.equal(code(await b.issue(CALLER, TARGET, '10.0.0.1', `${SERVER}//`)), 'issued');
    });
  });

  test('another server is refused with ERR_BROKER_SERVER_MISMATCH (403), audited, naming the fix', async () => {
    await withBroker({}, async (b, lines) => {
      for (const other of [
        'https://team-b-dev.example.com',
        'https://team-a-dev.example.com:8443',
        'https://TEAM-A-DEV.example.com',
      ]) {
        const o = await b.issue(CALLER, TARGET, '10.0.0.1', other);
        assert.equal(code(o), 'ERR_BROKER_SERVER_MISMATCH', other);
        if (o.ok) return;
        assert.equal(o.status, 403);
        assert.match(o.message, /target "k8s-team-a-dev"/);
        assert.match(o.message, /not the server registered .*re-apply/);
      }
      const refused = auditRecords(lines).filter((r) => r.code === 'ERR_BROKER_SERVER_MISMATCH');
      assert.equal(refused.length, 3);
      assert.equal(refused[0]?.tenant, 'team-a');
    });
  });

  test('no server is refused by default (ERR_BROKER_SERVER_UNBOUND, 400), issued with the flag', async () => {
    await withBroker({}, async (b) => {
      const o = await b.issue(CALLER, TARGET, '10.0.0.1');
      assert.equal(code(o), 'ERR_BROKER_SERVER_UNBOUND');
      assert.equal(o.ok ? 0 : o.status, 400);
      assert.match(o.ok ? '' : o.message, /provideClusterInfo: true.*--allow-requests-without-server/);
    });
    await withBroker({ allowRequestsWithoutServer: 'true' }, async (b) => {
      assert.equal(code(await b.issue(CALLER, TARGET, '10.0.0.1')), 'issued');
      // The flag lets a request name no server; one that names a wrong one is still refused.
      assert.equal(
        code(await b.issue(CALLER, TARGET, '10.0.0.1', 'https://x.example.com')),
        'ERR_BROKER_SERVER_MISMATCH',
      );
    });
  });

  test('a repeated, blank or too long server is a bad request', async () => {
    await withBroker({ allowRequestsWithoutServer: 'true' }, async (b) => {
      for (const server of [[SERVER, SERVER], '', ' ', `https://${'a'.repeat(2049)}`])
        assert.equal(code(await b.issue(CALLER, TARGET, '10.0.0.1', server)), 'ERR_BROKER_BAD_REQUEST');
      const app = brokerApp(b);
      const repeated = await request(app)
        .get('/api/get-target-token')
        .query(
          `targetName=${TARGET}&server=${encodeURIComponent(SERVER)}&server=${encodeURIComponent(SERVER)}`,
        )
        .set('Authorization', CALLER);
      assert.equal(repeated.status, 400);
      const notString = await request(app)
        .post('/v1/tokens')
        .set('Authorization', CALLER)
        .send({ target: TARGET, server: 42 });
      assert.equal(notString.status, 400);
      assert.match(notString.body.message, /server must be a string/);
      const posted = await request(app)
        .post('/v1/tokens')
        .set('Authorization', CALLER)
        .send({ target: TARGET, server: SERVER });
      assert.equal(posted.status, 200);
      const wrong = await request(app)
        .post('/v1/tokens')
        .set('Authorization', CALLER)
        .send({ target: TARGET, server: 'https://team-b-dev.example.com' });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.error, 'ERR_BROKER_SERVER_MISMATCH');
    });
  });

  test('the stale Secret of the red-team probe: team-a moved, team-c took the old URL; its token is refused there', async () => {
    const T = (name: string, day: number, clusters: string) => `apiVersion: tenantguard.dev/v1alpha1
kind: Tenant
metadata: { name: ${name}, creationTimestamp: "2024-01-0${day}T00:00:00Z" }
spec: { owners: { groups: [${name}-admins] }, namespaces: [${name}], projects: [${name}], clusters: [${clusters}] }
`;
    const tenants = (yaml: string) =>
      parseAllDocuments(yaml).map((d, i) =>
        parseTenant(d.toJS(), { source: `doc ${i}`, argocdNamespace: 'argocd' }),
      );
    const v1 = tenants(
      `${T('team-a', 1, '{ name: k8s-team-a-dev, server: "https://team-a-dev.example.com" }')}---\n${T('team-c', 2, '{ name: k8s-team-c-dev, server: "https://team-c-dev.example.com" }')}`,
    );
    const v2 = tenants(
      `${T('team-a', 1, '{ name: k8s-team-a-dev, server: "https://team-a-dev-v2.example.com" }')}---\n${T('team-c', 2, '{ name: k8s-team-c-dev, server: "https://team-c-dev.example.com" }, { name: k8s-team-c-old, server: "https://team-a-dev.example.com" }')}`,
    );
    const r2 = buildWithLastAccepted(v2, new Map(), buildRegistry(v1).registry);
    assert.equal(r2.registry.clusterByServer('https://team-a-dev.example.com')?.tenant.name, 'team-c');
    const broker = await createBroker({
      config: testConfig(),
      issuer: 'https://broker.example.com',
      allowedCallers: [CONTROLLER],
      registry: staticRegistry(r2.registry),
      logger: recordingLogger().logger,
      kubeConfig: null,
      reviewer: { review: async () => review() },
    });
    try {
      // What the plugin of the stale Secret asks: k8s-team-a-dev, for the old (now team-c's) URL.
      assert.equal(
        code(await broker.issue(CALLER, TARGET, '10.0.0.1', 'https://team-a-dev.example.com')),
        'ERR_BROKER_SERVER_MISMATCH',
      );
      // A Secret without cluster info (admitted before provideClusterInfo): refused too.
      assert.equal(code(await broker.issue(CALLER, TARGET, '10.0.0.1')), 'ERR_BROKER_SERVER_UNBOUND');
      assert.equal(
        code(await broker.issue(CALLER, TARGET, '10.0.0.1', 'https://team-a-dev-v2.example.com')),
        'issued',
      );
    } finally {
      broker.close();
    }
  });
});
