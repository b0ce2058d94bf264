/**
 * Audit records (SPEC section 8) and request logs of the webhook, with the real policy core.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import request from 'supertest';
import { defaultPolicy } from '../../src/admission/admit.js';
import { MAX_LINE_CHARS } from '../../src/policy/answer-limits.js';
import { APPLICATION_SET, buildApp, decodePatch, reviewBody } from './webhook-app-support.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** Secret values that must never reach a log line, in clear or base64. */
const BEARER = 'eyJhbGciOiJSUzI1NiJ9.very-secret-bearer-token';
const PASSWORD = 'hunter2-cluster-password';
const CONFIG = JSON.stringify({
  bearerToken: BEARER,
  password: PASSWORD,
  tlsClientConfig: { insecure: false },
});

function clusterSecret(): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'k8s-team-a-dev',
      namespace: 'argocd',
      labels: { 'argocd.argoproj.io/secret-type': 'cluster' },
    },
    type: 'Opaque',
    data: { name: b64('k8s-team-a-dev'), server: b64('https://team-a-dev.example.com'), config: b64(CONFIG) },
  };
}

function secretReview(extra: Record<string, unknown> = {}) {
  return reviewBody({
    kind: { group: '', version: 'v1', kind: 'Secret' },
    resource: { group: '', version: 'v1', resource: 'secrets' },
    namespace: 'argocd',
    name: 'k8s-team-a-dev',
    object: clusterSecret(),
    ...extra,
  });
}

describe('audit records of the webhook', () => {
  test('a denied cluster Secret is audited without any of its data', async () => {
    const { app, log } = buildApp({ policy: defaultPolicy });
    const res = await request(app)
      .post('/validate')
      .send(secretReview({ dryRun: true }));
    assert.equal(res.body.response.allowed, false);
    assert.match(res.body.response.status.message, /\[TG-CS-03\]/);
    const audits = log.audits();
    assert.equal(audits.length, 1);
    const record = audits[0] ?? {};
    assert.equal(record.event, 'denied');
    assert.equal(record.endpoint, 'validate');
    assert.equal(record.kind, 'ClusterSecret');
    assert.equal(record.namespace, 'argocd');
    assert.equal(record.name, 'k8s-team-a-dev');
    assert.equal(record.operation, 'CREATE');
    assert.equal(record.user, 'alice');
    assert.deepEqual(record.groups, ['team-a-admins', 'system:authenticated']);
    assert.equal(record.tenant, 'team-a');
    assert.equal(record.dryRun, true);
    assert.equal(record.enforcement, 'enforce');
    assert.ok(Array.isArray(record.rules));
    const ids = (record.rules as Array<{ id: string; path: string; message: string }>).map((r) => r.id);
    assert.ok(ids.includes('TG-CS-03'), `rules: ${ids.join(', ')}`);
    for (const r of record.rules as Array<Record<string, unknown>>) {
      assert.equal(typeof r.path, 'string');
      assert.equal(typeof r.message, 'string');
    }
    const text = log.text() + res.text;
    for (const secret of [
      BEARER,
      PASSWORD,
      b64(CONFIG),
      b64(BEARER),
      b64(PASSWORD),
      'very-secret',
      'hunter2',
    ]) {
      assert.ok(!text.includes(secret), `log or response contains secret material ${secret.slice(0, 12)}...`);
    }
  });

  test('a cluster Secret with stringData and unreadable data is audited without its values', async () => {
    const { app, log } = buildApp({ policy: defaultPolicy });
    const object = { ...clusterSecret(), data: { name: 42 }, stringData: { config: CONFIG } };
    const res = await request(app).post('/validate').send(secretReview({ object }));
    assert.equal(res.body.response.allowed, false);
    assert.match(
      res.body.response.status.message,
      /^\[TG-REQ-01\] object\.data has values that are not strings \(keys: name\)/,
    );
    assert.equal(log.audits().length, 1);
    assert.ok(!(log.text() + res.text).includes('hunter2'));
  });

  test('a mutation is audited with the paths it added, never their values', async () => {
    const { app, log } = buildApp({ policy: defaultPolicy });
    const res = await request(app).post('/mutate').send(reviewBody());
    const patch = decodePatch(res.body.response.patch);
    assert.ok(Array.isArray(patch) && patch.length > 0);
    const [record] = log.audits();
    assert.equal(record?.event, 'mutated');
    assert.equal(record?.endpoint, 'mutate');
    assert.equal(record?.tenant, 'team-a');
    assert.equal(record?.enforcement, 'enforce');
    assert.deepEqual(record?.rules, []);
    assert.deepEqual(
      record?.changes,
      (patch as Array<{ path: string }>).map((op) => op.path),
    );
    assert.ok((record?.changes as string[]).includes('/spec/generators/0/clusters/selector'));
  });

  test('a warn-mode tenant gets warnings and a "warned" record', async () => {
    const { app, log } = buildApp({ policy: defaultPolicy });
    const object = structuredClone(APPLICATION_SET);
    object.metadata.namespace = 'team-b';
    object.spec.generators = [
      { clusters: { selector: { matchLabels: { 'tenantguard.dev/tenant': 'team-b' } } } } as never,
    ];
    object.spec.template.spec.project = '{{.project}}'; // TG-AS-01, templated: relaxed by warn
    (object.metadata as Record<string, unknown>).labels = { 'tenantguard.dev/tenant': 'team-b' };
    (object.spec.template.metadata as Record<string, unknown>).labels = {
      'tenantguard.dev/tenant': 'team-b',
    };
    const body = reviewBody({
      namespace: 'team-b',
      object,
      userInfo: { username: 'bob', groups: ['team-b-admins'] },
    });
    const res = await request(app).post('/validate').send(body);
    assert.equal(res.body.response.allowed, true, res.body.response.status?.message);
    assert.ok(res.body.response.warnings.some((w: string) => w.startsWith('[TG-AS-01]')));
    const [record] = log.audits();
    assert.equal(record?.event, 'warned');
    assert.equal(record?.tenant, 'team-b');
    assert.equal(record?.enforcement, 'warn');
    assert.deepEqual(
      (record?.rules as Array<{ id: string }>).map((r) => r.id),
      ['TG-AS-01'],
    );
  });

  test('a platform admin\'s bypass is audited as "audited"', async () => {
    const { app, log } = buildApp({ policy: defaultPolicy });
    const object = structuredClone(APPLICATION_SET);
    object.spec.template.spec.project = 'team-b';
    const body = reviewBody({ object, userInfo: { username: 'root', groups: ['platform-admins'] } });
    const res = await request(app).post('/validate').send(body);
    assert.equal(res.body.response.allowed, true);
    const [record] = log.audits();
    assert.equal(record?.event, 'audited');
    assert.equal(record?.user, 'root');
    assert.ok((record?.rules as Array<{ id: string }>).some((r) => r.id === 'TG-AS-01'));
  });

  test('an allowed request with nothing to report writes no audit record', async () => {
    const { app, log } = buildApp({ policy: defaultPolicy });
    const mutated = await request(app).post('/mutate').send(reviewBody());
    const { applyPatch } = await import('../../src/admission/admit.js');
    const object = applyPatch(
      structuredClone(APPLICATION_SET),
      decodePatch(mutated.body.response.patch) as never,
    );
    const before = log.audits().length;
    const res = await request(app).post('/validate').send(reviewBody({ object }));
    assert.equal(res.body.response.allowed, true, res.body.response.status?.message);
    assert.equal(log.audits().length, before);
  });

  test('each request logs through a child with uid, kind, namespace, name, operation and user', async () => {
    const { app, log } = buildApp({ policy: defaultPolicy });
    await request(app).post('/validate').send(secretReview());
    const line = log.records().find((r) => r.msg === 'admission denied');
    assert.ok(line, 'a decision line is logged');
    assert.equal(line.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
    assert.equal(line.kind, 'Secret');
    assert.equal(line.namespace, 'argocd');
    assert.equal(line.name, 'k8s-team-a-dev');
    assert.equal(line.operation, 'CREATE');
    assert.equal(line.user, 'alice');
  });

  test("the decision line cuts the request's own words to a line each", async () => {
    // A red-team review: a denial of a 240 KB name logged a 240 KB line, which container
    // runtimes split into fragments that do not parse.
    const { app, log } = buildApp({ policy: defaultPolicy });
    const long = (c: string) => c.repeat(200_000);
    await request(app)
      .post('/validate')
      .send(
        secretReview({
          uid: long('u'),
          name: long('n'),
          namespace: long('s'),
          operation: long('o'),
          kind: { group: '', version: 'v1', kind: long('k') },
          userInfo: { username: long('a'), groups: [] },
        }),
      );
    const line = log.records().find((r) => typeof r.msg === 'string' && r.msg.startsWith('admission '));
    assert.ok(line, 'a decision line is logged');
    // An operation of none of the four is read as none.
    assert.equal(line.operation, undefined);
    for (const field of ['uid', 'kind', 'namespace', 'name', 'user']) {
      const value = line[field];
      assert.ok(
        typeof value === 'string' && value.length <= MAX_LINE_CHARS + 40,
        `${field}: ${String(value).length}`,
      );
    }
    assert.ok(Buffer.byteLength(JSON.stringify(line)) < 16 * 1024, 'under the 16 KiB a runtime splits at');
  });

  test('the not-synced denial is audited with its reason', async () => {
    const { app, log } = buildApp({ policy: defaultPolicy, unsynced: true });
    await request(app).post('/validate').send(reviewBody());
    const [record] = log.audits();
    assert.equal(record?.event, 'denied');
    assert.equal(record?.reason, 'tenant registry not synced');
    assert.equal(record?.tenant, null);
  });
});

describe('the logger redacts', () => {
  test('data, stringData, token and authorization, at the top level and one level down', async () => {
    const { capturedLogger } = await import('./webhook-app-support.js');
    const { logger, log } = capturedLogger();
    logger.info(
      {
        data: { a: 'x1' },
        stringData: 'x2',
        token: 'x3',
        authorization: 'Bearer x4',
        nested: { data: 'x5', token: 'x6' },
      },
      'probe',
    );
    const text = log.text();
    for (const s of ['x1', 'x2', 'x3', 'x4', 'x5', 'x6']) assert.ok(!text.includes(s), `${s} leaked`);
    assert.match(text, /\[redacted\]/);
  });
});
