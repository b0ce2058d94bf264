import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import request from 'supertest';
import type { Counter } from 'prom-client';
import { defaultPolicy } from '../../src/admission/admit.js';
import { violation } from '../../src/policy/types.js';
import { INTERNAL_ERROR_MESSAGE } from '../../src/server/webhook-app.js';
import {
  allowed,
  APPLICATION_SET,
  buildApp,
  decodePatch,
  denied,
  fakePolicy,
  reviewBody,
} from './webhook-app-support.js';

const UID = '705ab4f5-6393-11e8-b7cc-42010a800002';

describe('webhook app: bodies that are not an AdmissionReview get HTTP 400', () => {
  const cases: Array<{ name: string; body: string; message: RegExp }> = [
    { name: 'malformed JSON', body: '{"apiVersion": "admission.k8s.io/v1", ', message: /not valid JSON/ },
    { name: 'a JSON string', body: '"AdmissionReview"', message: /not valid JSON/ },
    {
      name: 'wrong apiVersion',
      body: JSON.stringify({ ...reviewBody(), apiVersion: 'admission.k8s.io/v1beta1' }),
      message: /apiVersion "admission.k8s.io\/v1beta1" is not admission.k8s.io\/v1/,
    },
    {
      name: 'wrong kind',
      body: JSON.stringify({ ...reviewBody(), kind: 'TokenReview' }),
      message: /kind "TokenReview" is not AdmissionReview/,
    },
    {
      name: 'no request',
      body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
      message: /request is missing/,
    },
    {
      name: 'request is an array',
      body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: [] }),
      message: /request is missing or not an object/,
    },
    {
      name: 'missing uid',
      body: JSON.stringify(reviewBody({ uid: undefined })),
      message: /request\.uid is missing/,
    },
    {
      name: 'uid not a string',
      body: JSON.stringify(reviewBody({ uid: 42 })),
      message: /request\.uid is missing or not a non-empty string/,
    },
    { name: 'empty JSON object', body: '{}', message: /apiVersion \(missing\)/ },
  ];
  for (const c of cases) {
    for (const endpoint of ['/validate', '/mutate']) {
      test(`${c.name} on ${endpoint}`, async () => {
        let policyCalled = false;
        const { app } = buildApp({
          policy: fakePolicy({
            evaluate: () => {
              policyCalled = true;
              return allowed();
            },
          }),
        });
        const res = await request(app).post(endpoint).set('Content-Type', 'application/json').send(c.body);
        assert.equal(res.status, 400);
        assert.match(String(res.body.message), c.message);
        assert.equal(res.body.response, undefined);
        assert.equal(policyCalled, false, 'no policy code runs on a bad body');
      });
    }
  }

  test('no body at all is 400', async () => {
    const { app } = buildApp();
    const res = await request(app).post('/validate');
    assert.equal(res.status, 400);
    assert.match(String(res.body.message), /empty body/);
  });

  test('a body that is not JSON by Content-Type is 415', async () => {
    const { app } = buildApp();
    const res = await request(app)
      .post('/validate')
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify(reviewBody()));
    assert.equal(res.status, 415);
    assert.match(String(res.body.message), /Content-Type must be application\/json/);
  });
});

describe('webhook app: limits and our own failures', () => {
  test('a body over 3 MiB is 413', async () => {
    const { app } = buildApp();
    const big = reviewBody({ object: { ...APPLICATION_SET, padding: 'x'.repeat(3 * 1024 * 1024) } });
    const res = await request(app)
      .post('/validate')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(big));
    assert.equal(res.status, 413);
    assert.match(String(res.body.message), /larger than the limit/);
  });

  test('a body just under 3 MiB is answered', async () => {
    const { app } = buildApp();
    const body = JSON.stringify(
      reviewBody({ object: { ...APPLICATION_SET, padding: 'x'.repeat(3 * 1024 * 1024 - 2000) } }),
    );
    assert.ok(body.length < 3 * 1024 * 1024);
    const res = await request(app).post('/validate').set('Content-Type', 'application/json').send(body);
    assert.equal(res.status, 200);
    assert.equal(res.body.response.allowed, true);
  });

  for (const endpoint of ['/validate', '/mutate']) {
    test(`a policy that throws is a 500 with a generic message and the detail in the log (${endpoint})`, async () => {
      const boom = () => {
        throw new Error('secret detail: token abc');
      };
      const { app, log } = buildApp({ policy: fakePolicy({ evaluate: boom, mutate: boom }) });
      const res = await request(app).post(endpoint).send(reviewBody());
      assert.equal(res.status, 500);
      assert.deepEqual(res.body, { message: INTERNAL_ERROR_MESSAGE });
      assert.doesNotMatch(res.text, /secret detail|stack|at /);
      const errorLine = log.records().find((r) => r.code === 'ERR_ADMISSION_INTERNAL');
      assert.ok(errorLine, 'the failure is logged under ERR_ADMISSION_INTERNAL');
      assert.equal(errorLine.uid, UID);
      assert.equal(errorLine.user, 'alice');
    });
  }
});

describe('webhook app: /validate', () => {
  test('echoes the uid in an admission.k8s.io/v1 AdmissionReview', async () => {
    const { app } = buildApp();
    const res = await request(app)
      .post('/validate')
      .send(reviewBody({ uid: 'abc-123' }));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'abc-123', allowed: true },
    });
  });

  test('a denial has code 403 and every violation line, in order, joined by newlines', async () => {
    const violations = [
      violation(
        'TG-AS-01',
        'spec.template.spec.project',
        '"team-b" is not a project of tenant "team-a"; use one of: team-a',
      ),
      violation(
        'TG-AS-03',
        'spec.template.spec.destination.name',
        '"k8s-team-b-dev" is not a cluster of tenant "team-a"; use one of: k8s-team-a-dev',
      ),
    ];
    const { app } = buildApp({ policy: fakePolicy({ evaluate: () => denied(violations, ['a warning']) }) });
    const res = await request(app).post('/validate').send(reviewBody());
    assert.equal(res.status, 200);
    const r = res.body.response;
    assert.equal(r.uid, UID);
    assert.equal(r.allowed, false);
    assert.equal(r.status.code, 403);
    assert.equal(
      r.status.message,
      [
        '[TG-AS-01] spec.template.spec.project "team-b" is not a project of tenant "team-a"; use one of: team-a',
        '[TG-AS-03] spec.template.spec.destination.name "k8s-team-b-dev" is not a cluster of tenant "team-a"; use one of: k8s-team-a-dev',
        'how to fix: docs/rules.md#tg-as-01, #tg-as-03',
      ].join('\n'),
    );
    assert.deepEqual(r.warnings, ['a warning']);
    assert.equal(r.patch, undefined);
  });

  test('warnings of an allowed verdict go to response.warnings', async () => {
    const { app } = buildApp({
      policy: fakePolicy({ evaluate: () => allowed({ warnings: ['[TG-AS-03] computed destination'] }) }),
    });
    const res = await request(app).post('/validate').send(reviewBody());
    assert.equal(res.body.response.allowed, true);
    assert.deepEqual(res.body.response.warnings, ['[TG-AS-03] computed destination']);
  });

  test('a kind the webhook does not handle is allowed unchanged without calling the rules', async () => {
    let called = false;
    const { app } = buildApp({
      policy: fakePolicy({
        evaluate: () => {
          called = true;
          return denied([]);
        },
      }),
    });
    const body = reviewBody({
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      object: { apiVersion: 'apps/v1', kind: 'Deployment', spec: 'anything' },
    });
    const res = await request(app).post('/validate').send(body);
    assert.deepEqual(res.body.response, { uid: UID, allowed: true });
    assert.equal(called, false);
  });

  test("request.dryRun passes through to the policy, and a dry run's denial is answered as a denial", async () => {
    const seen: boolean[] = [];
    const v = [violation('TG-APP-01', 'spec.project', '"x" is not a project of tenant "team-a"')];
    const { app } = buildApp({
      policy: fakePolicy({
        evaluate: (req) => {
          seen.push(req.dryRun);
          return denied(v);
        },
      }),
    });
    await request(app)
      .post('/validate')
      .send(reviewBody({ dryRun: false }));
    const dry = await request(app)
      .post('/validate')
      .send(reviewBody({ dryRun: true }));
    assert.deepEqual(seen, [false, true]);
    // The webhook does not soften a dry run: the full 403 with the rule line, not an allow or a warning.
    assert.deepEqual(dry.body.response, {
      uid: UID,
      allowed: false,
      status: {
        code: 403,
        message:
          '[TG-APP-01] spec.project "x" is not a project of tenant "team-a"\nhow to fix: docs/rules.md#tg-app-01',
      },
    });
  });

  test('the policy gets a narrowed PolicyRequest', async () => {
    let got: unknown;
    const { app } = buildApp({
      policy: fakePolicy({
        evaluate: (req) => {
          got = req;
          return allowed();
        },
      }),
    });
    await request(app)
      .post('/validate')
      .send(reviewBody({ operation: 'UPDATE', oldObject: structuredClone(APPLICATION_SET) }));
    assert.deepEqual(got, {
      uid: UID,
      kind: 'ApplicationSet',
      operation: 'UPDATE',
      namespace: 'team-a',
      name: 'guestbook',
      object: APPLICATION_SET,
      oldObject: APPLICATION_SET,
      user: { username: 'alice', groups: ['team-a-admins', 'system:authenticated'] },
      dryRun: false,
    });
  });
});

describe('webhook app: malformed objects are denied under TG-REQ-01', () => {
  const cases: Array<{ name: string; request: Record<string, unknown>; lines: RegExp[] }> = [
    {
      name: 'metadata not an object',
      request: { object: { ...APPLICATION_SET, metadata: 'guestbook' } },
      lines: [/^\[TG-REQ-01\] object\.metadata is a string; expected an object$/],
    },
    {
      name: 'spec a string',
      request: { object: { ...APPLICATION_SET, spec: 'clusters: {}' } },
      lines: [/^\[TG-REQ-01\] object\.spec is a string; expected an object$/],
    },
    {
      name: 'labels not strings',
      request: { object: { ...APPLICATION_SET, metadata: { name: 'g', labels: { a: 1 } } } },
      lines: [/^\[TG-REQ-01\] object\.metadata\.labels has values that are not strings \(keys: a\)/],
    },
    {
      name: 'object an array',
      request: { object: [] },
      lines: [/^\[TG-REQ-01\] object is an array; expected a Kubernetes object$/],
    },
    {
      name: 'object missing on CREATE',
      request: { object: undefined },
      lines: [/^\[TG-REQ-01\] object is missing from the CREATE request/],
    },
    {
      name: 'oldObject missing on UPDATE',
      request: { operation: 'UPDATE' },
      lines: [/^\[TG-REQ-01\] oldObject is missing from the UPDATE request/],
    },
    {
      name: 'unknown operation',
      request: { operation: 'PATCH' },
      lines: [/^\[TG-REQ-01\] request\.operation "PATCH" is not one of CREATE, UPDATE, DELETE, CONNECT$/],
    },
    {
      name: 'userInfo missing',
      request: { userInfo: undefined },
      lines: [/^\[TG-REQ-01\] request\.userInfo is missing; expected an object with username and groups$/],
    },
    {
      name: 'request.kind missing',
      request: { kind: undefined },
      lines: [/^\[TG-REQ-01\] request\.kind is not a \{group, version, kind\} object$/],
    },
    {
      name: 'two problems at once, both listed',
      request: {
        operation: 'UPDATE',
        object: { ...APPLICATION_SET, spec: 7 },
        oldObject: { ...APPLICATION_SET, metadata: [] },
      },
      lines: [
        /^\[TG-REQ-01\] object\.spec is a number; expected an object$/,
        /^\[TG-REQ-01\] oldObject\.metadata is an array; expected an object$/,
      ],
    },
  ];
  for (const c of cases) {
    for (const endpoint of ['/validate', '/mutate']) {
      test(`${c.name} (${endpoint})`, async () => {
        let called = false;
        const mark = () => {
          called = true;
          return allowed();
        };
        const { app } = buildApp({
          policy: fakePolicy({
            evaluate: mark,
            mutate: () => {
              called = true;
              return { object: undefined, tenant: undefined };
            },
          }),
        });
        const res = await request(app).post(endpoint).send(reviewBody(c.request));
        assert.equal(res.status, 200, 'a well-formed AdmissionReview answer, not an HTTP error');
        assert.equal(res.body.response.uid, UID);
        assert.equal(res.body.response.allowed, false);
        assert.equal(res.body.response.status.code, 403);
        const lines = String(res.body.response.status.message).split('\n');
        assert.equal(lines.pop(), 'how to fix: docs/rules.md#tg-req-01');
        assert.equal(lines.length, c.lines.length, res.body.response.status.message);
        c.lines.forEach((re, i) => assert.match(lines[i] ?? '', re));
        assert.equal(called, false, 'the rules never see an unreadable object');
      });
    }
  }
});

describe('webhook app: /mutate', () => {
  test('the patch is base64 JSONPatch of what the policy added', async () => {
    const policy = fakePolicy({
      mutate: (req) => {
        const edited = structuredClone(req.object ?? {});
        const labels = { 'tenantguard.dev/tenant': 'team-a' };
        edited.metadata = { ...(edited.metadata as object), labels };
        return { object: edited, tenant: 'team-a' };
      },
    });
    const { app } = buildApp({ policy });
    const res = await request(app).post('/mutate').send(reviewBody());
    const r = res.body.response;
    assert.equal(r.uid, UID);
    assert.equal(r.allowed, true);
    assert.equal(r.patchType, 'JSONPatch');
    assert.deepEqual(decodePatch(r.patch), [
      { op: 'add', path: '/metadata/labels', value: { 'tenantguard.dev/tenant': 'team-a' } },
    ]);
  });

  test('nothing added: no patch and no patchType', async () => {
    const { app } = buildApp({
      policy: fakePolicy({ mutate: (req) => ({ object: structuredClone(req.object), tenant: 'team-a' }) }),
    });
    const res = await request(app).post('/mutate').send(reviewBody());
    assert.deepEqual(res.body.response, { uid: UID, allowed: true });
  });

  test('/mutate never denies on policy, even when /validate would: it does not evaluate', async () => {
    const evaluated: string[] = [];
    const evaluate = () => {
      evaluated.push('evaluate');
      return denied([violation('TG-APP-01', 'spec.project', 'no')]);
    };
    const { app } = buildApp({ policy: fakePolicy({ evaluate }) });
    const res = await request(app).post('/mutate').send(reviewBody());
    assert.equal(res.body.response.allowed, true);
    assert.deepEqual(evaluated, [], "/mutate called the policy's evaluate");
    // The same policy denies on /validate, so the allow above is /mutate's own doing.
    const validated = await request(app).post('/validate').send(reviewBody());
    assert.equal(validated.body.response.allowed, false);
    assert.deepEqual(evaluated, ['evaluate']);
  });

  test('DELETE gets no patch and the policy mutate is not called', async () => {
    let called = false;
    const { app } = buildApp({
      policy: fakePolicy({
        mutate: () => {
          called = true;
          return { object: {}, tenant: 'team-a' };
        },
      }),
    });
    const res = await request(app)
      .post('/mutate')
      .send(
        reviewBody({ operation: 'DELETE', object: undefined, oldObject: structuredClone(APPLICATION_SET) }),
      );
    assert.deepEqual(res.body.response, { uid: UID, allowed: true });
    assert.equal(called, false);
  });
});

describe('webhook app: registry not synced', () => {
  for (const endpoint of ['/validate', '/mutate']) {
    test(`${endpoint} denies with code 503 and says why`, async () => {
      const { app } = buildApp({ unsynced: true });
      const res = await request(app).post(endpoint).send(reviewBody());
      assert.equal(res.status, 200);
      assert.equal(res.body.response.uid, UID);
      assert.equal(res.body.response.allowed, false);
      assert.equal(res.body.response.status.code, 503);
      // The text itself, not the constant the code uses: a changed message must fail here.
      assert.equal(
        res.body.response.status.message,
        'tenant-guard: tenant registry not synced yet; retry in a few seconds',
      );
      assert.match(res.body.response.status.message, /tenant registry not synced yet/);
    });
  }

  test('a kind the webhook does not handle is still allowed', async () => {
    const { app } = buildApp({ unsynced: true });
    const res = await request(app)
      .post('/validate')
      .send(reviewBody({ kind: { group: '', version: 'v1', kind: 'ConfigMap' } }));
    assert.equal(res.body.response.allowed, true);
  });

  test('/readyz is 503 naming the registry, /healthz is 200', async () => {
    const { app } = buildApp({ unsynced: true });
    const ready = await request(app).get('/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body.waitingFor, ['tenant-registry']);
    const health = await request(app).get('/healthz');
    assert.equal(health.status, 200);
  });

  test('/readyz turns 200 once the registry is there, and honours extra checks', async () => {
    let synced = false;
    let keysLoaded = false;
    const { tenants } = await import('./webhook-app-support.js');
    const registry = tenants();
    const { app } = buildApp({
      registry: { current: () => (synced ? registry : undefined) },
      readiness: [{ name: 'key-ring', ready: () => keysLoaded }],
    });
    assert.deepEqual((await request(app).get('/readyz')).body.waitingFor, ['tenant-registry', 'key-ring']);
    synced = true;
    assert.deepEqual((await request(app).get('/readyz')).body.waitingFor, ['key-ring']);
    keysLoaded = true;
    assert.equal((await request(app).get('/readyz')).status, 200);
  });
});

describe('webhook app: metrics, mounts and unknown paths', () => {
  test('/metrics counts requests by endpoint, kind, decision and tenant, and rule findings by tenant and rule', async () => {
    const audited = violation('TG-AS-03', 'spec.template.spec.destination.name', 'relaxed');
    const { app } = buildApp({
      policy: fakePolicy({
        evaluate: () => ({
          ...denied([violation('TG-APP-01', 'spec.project', 'no')]),
          audited: [audited],
          summary: { tenant: 'team-b', enforcement: 'warn', role: 'human' },
        }),
      }),
    });
    await request(app).post('/validate').send(reviewBody());
    await request(app).post('/validate').send(reviewBody());
    await request(app).post('/mutate').send(reviewBody());
    await request(app).post('/validate').set('Content-Type', 'application/json').send('{');
    const res = await request(app).get('/metrics');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.match(
      res.text,
      /tenant_guard_admission_requests_total\{endpoint="validate",kind="ApplicationSet",decision="denied",tenant="team-b"\} 2/,
    );
    assert.match(
      res.text,
      /tenant_guard_admission_requests_total\{endpoint="mutate",kind="ApplicationSet",decision="unchanged",tenant="none"\} 1/,
    );
    assert.match(
      res.text,
      /tenant_guard_admission_requests_total\{endpoint="validate",kind="unknown",decision="bad_request",tenant="none"\} 1/,
    );
    assert.match(
      res.text,
      /tenant_guard_admission_duration_seconds_count\{endpoint="validate",kind="ApplicationSet",decision="denied"\} 2/,
    );
    assert.match(
      res.text,
      /tenant_guard_admission_rule_results_total\{kind="ApplicationSet",tenant="team-b",rule="TG-APP-01",action="denied"\} 2/,
    );
    assert.match(
      res.text,
      /tenant_guard_admission_rule_results_total\{kind="ApplicationSet",tenant="team-b",rule="TG-AS-03",action="warned"\} 2/,
    );
  });

  test('thousands of findings of one rule are counted whole, with one counter call per rule', async () => {
    // An ApplicationSet list of foreign cluster names is a finding per name (a red-team
    // review); a counter call per finding hashed the labels thousands of times a request.
    const many = Array.from({ length: 3_000 }, (_, i) =>
      violation('TG-AS-04', `spec.generators[0].list.elements[${i}].server`, 'no'),
    );
    const { app, metricsRegistry } = buildApp({
      policy: fakePolicy({
        evaluate: () => ({
          // ...and a line standing for 500 more, past the request's budget (finding-budget.ts).
          ...denied([
            ...many,
            { ...violation('TG-AS-04', '', 'and 500 more'), unlisted: 500 },
            violation('TG-APP-01', 'spec.project', 'no'),
          ]),
          audited: [violation('TG-AS-03', 'spec.template.spec.destination.name', 'relaxed')],
          summary: { tenant: 'team-b', enforcement: 'audit', role: 'human' },
        }),
      }),
    });
    const counter = metricsRegistry.getSingleMetric('tenant_guard_admission_rule_results_total') as Counter;
    const inc = counter.inc.bind(counter);
    let calls = 0;
    counter.inc = ((...args: Parameters<Counter['inc']>) => {
      calls += 1;
      inc(...args);
    }) as Counter['inc'];
    await request(app).post('/validate').send(reviewBody());
    assert.equal(calls, 3, 'one call per rule and action');
    const text = (await request(app).get('/metrics')).text;
    assert.match(
      text,
      /rule_results_total\{kind="ApplicationSet",tenant="team-b",rule="TG-AS-04",action="denied"\} 3500\n/,
    );
    assert.match(text, /rule="TG-APP-01",action="denied"\} 1\n/);
    assert.match(text, /rule="TG-AS-03",action="audited"\} 1\n/);
  });

  test('mounted routers are served; unknown paths are a JSON 404', async () => {
    const { Router } = await import('express');
    const router = Router();
    router.get('/api/ping', (_req, res) => void res.json({ pong: true }));
    const { app } = buildApp({ mounts: [{ path: '/', router }] });
    assert.deepEqual((await request(app).get('/api/ping')).body, { pong: true });
    const missing = await request(app).get('/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { message: 'not found' });
    assert.equal((await request(app).get('/validate')).status, 404);
  });
});

describe('admission routes as spelled only (a red-team bypass of the body budget)', () => {
  test('POST /VALIDATE and /validate/ are 404 with the connection closed, their bodies unread', async () => {
    const { app } = buildApp({ policy: defaultPolicy });
    for (const path of ['/VALIDATE', '/Mutate', '/validate/', '/mutate/']) {
      const res = await request(app).post(path).send(reviewBody());
      assert.equal(res.status, 404, path);
      assert.equal(res.headers.connection, 'close', path);
    }
    const ok = await request(app).post('/validate').send(reviewBody());
    assert.equal(ok.status, 200);
  });
});
