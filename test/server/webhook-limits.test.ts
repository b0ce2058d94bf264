/**
 * Issue 10 items 1 and 2 through the real webhook app (supertest, real policy): every
 * well-formed AdmissionReview gets a 200 AdmissionReview whatever its nesting (up to the
 * 10,000 levels Go's decoder accepts), objects past a limit are denied under TG-REQ-01
 * naming the setting, and what a denial, a warning list and an audit record say is bounded.
 */
import assert from 'node:assert/strict';
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import request from 'supertest';
import { defaultPolicy } from '../../src/admission/admit.js';
import { evaluate } from '../../src/policy/evaluate.js';
import {
  MAX_AUDIT_ITEMS,
  MAX_DENIAL_LINES,
  MAX_LINE_CHARS,
  MAX_WARNINGS,
} from '../../src/policy/answer-limits.js';
import { DEFAULT_LIMITS, limitFlags, type AdmissionLimits } from '../../src/policy/limits.js';
import type { KubeObject, PolicyRequest } from '../../src/policy/types.js';
import { argoKind } from '../support/policy-fixtures.js';
import { MAX_BODY_NESTING, TOO_DEEP } from '../../src/server/lean-admission.js';
import { UNSUPPORTED_ENCODING_MESSAGE } from '../../src/server/webhook-app.js';
import { buildApp, reviewBody, settings, tenants } from './webhook-app-support.js';

const DEEP = '"__DEEP__"';

/** JSON text of `{"a":{"a":...1}}`, `n` deep, built as text (JSON.stringify itself recurses). */
function deepJson(n: number, open = '{"a":', close = '}'): string {
  return `${open.repeat(n)}1${close.repeat(n)}`;
}

/** The review's JSON text with the `"__DEEP__"` placeholder replaced by `deep`. */
function withDeep(body: Record<string, unknown>, deep: string): string {
  const text = JSON.stringify(body);
  assert.ok(text.includes(DEEP));
  return text.replace(DEEP, deep);
}

function application(values: unknown): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'guestbook', namespace: 'team-a' },
    spec: {
      project: 'team-a',
      source: { repoURL: 'https://github.com/team-a/apps.git', helm: { valuesObject: values } },
      destination: { name: 'k8s-team-a-dev', namespace: 'guestbook' },
    },
  };
}

function applicationSet(spec: Record<string, unknown>, namespace = 'team-a'): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'guestbook', namespace },
    spec: {
      goTemplate: true,
      generators: [{ clusters: {} }],
      template: {
        metadata: { name: '{{.name}}' },
        spec: { project: namespace, destination: { server: '{{.server}}', namespace: 'g' } },
      },
      ...spec,
    },
  };
}

function clusterSecret(config: string): KubeObject {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'k8s-team-a-dev',
      namespace: 'argocd',
      labels: { 'argocd.argoproj.io/secret-type': 'cluster' },
    },
    data: { name: b64('k8s-team-a-dev'), server: b64('https://team-a-dev.example.com'), config: b64(config) },
  };
}

const SECRET_KIND = { group: '', version: 'v1', kind: 'Secret' };
const ADMIN = { username: 'root', groups: ['platform-admins'] };

/** One shape of each kind with a `"__DEEP__"` placeholder where the nesting goes. */
const DEEP_SHAPES: Array<{
  name: string;
  review: (operation: 'CREATE' | 'UPDATE') => Record<string, unknown>;
  open?: string;
  close?: string;
}> = [
  {
    name: 'Application spec.source.helm.valuesObject',
    review: (operation) =>
      reviewBody({
        kind: argoKind('Application'),
        operation,
        object: application('__DEEP__'),
        ...(operation === 'UPDATE' ? { oldObject: application({}) } : {}),
      }),
  },
  {
    name: 'ApplicationSet list element',
    review: (operation) =>
      reviewBody({
        operation,
        object: applicationSet({ generators: [{ list: { elements: ['__DEEP__'] } }] }),
        ...(operation === 'UPDATE' ? { oldObject: applicationSet({}) } : {}),
      }),
    open: '[',
    close: ']',
  },
  {
    name: 'ApplicationSet raw child of a nested matrix (the TG-AS-08 key walk)',
    review: (operation) =>
      reviewBody({
        operation,
        object: applicationSet({
          generators: [
            { matrix: { generators: [{ matrix: { generators: [{ clusters: { values: '__DEEP__' } }] } }] } },
          ],
        }),
        ...(operation === 'UPDATE' ? { oldObject: applicationSet({}) } : {}),
      }),
    open: '[',
    close: ']',
  },
  {
    name: 'AppProject spec',
    review: (operation) => {
      const project = (extra: unknown) => ({
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'AppProject',
        metadata: { name: 'team-a', namespace: 'argocd' },
        spec: { destinations: [], extra },
      });
      return reviewBody({
        kind: argoKind('AppProject'),
        namespace: 'argocd',
        userInfo: ADMIN,
        operation,
        object: project('__DEEP__'),
        ...(operation === 'UPDATE' ? { oldObject: project(1) } : {}),
      });
    },
  },
  {
    name: 'an UPDATE whose oldObject is the deep one',
    review: () =>
      reviewBody({
        kind: argoKind('Application'),
        operation: 'UPDATE',
        object: application({}),
        oldObject: application('__DEEP__'),
      }),
  },
];

/** How many objects and lists of `object` or `oldObject` hold the placeholder (small objects: recursion is fine here). */
function placeholderDepth(review: Record<string, unknown>): number {
  const find = (value: unknown): number | undefined => {
    if (value === '__DEEP__') return 0;
    if (typeof value !== 'object' || value === null) return undefined;
    for (const child of Object.values(value)) {
      const below = find(child);
      if (below !== undefined) return below + 1;
    }
    return undefined;
  };
  const request = review.request as Record<string, unknown>;
  const depth = find(request.object) ?? find(request.oldObject);
  assert.ok(depth !== undefined);
  return depth;
}

function limited(over: Partial<AdmissionLimits>): AdmissionLimits {
  return { ...DEFAULT_LIMITS, ...over };
}

describe('deep nesting: a 200 AdmissionReview, never a 500', () => {
  const { app } = buildApp({ policy: defaultPolicy });
  for (const shape of DEEP_SHAPES) {
    for (const depth of [2_000, 4_000, 10_000]) {
      test(`${shape.name}, ${depth} deep: denied under TG-REQ-01 naming --max-object-depth on both endpoints`, async () => {
        for (const operation of ['CREATE', 'UPDATE'] as const) {
          const text = withDeep(shape.review(operation), deepJson(depth, shape.open, shape.close));
          for (const endpoint of ['/mutate', '/validate']) {
            const res = await request(app).post(endpoint).set('content-type', 'application/json').send(text);
            assert.equal(res.status, 200, `${operation} ${endpoint}`);
            assert.equal(res.body.response.allowed, false);
            assert.match(
              res.body.response.status.message,
              /^\[TG-REQ-01\] (object|oldObject)\..*more than 100 levels deep.*--max-object-depth, env TG_MAX_OBJECT_DEPTH/,
            );
            assert.equal(res.body.response.patch, undefined);
          }
        }
      });
    }
  }

  test("a body nested past MAX_BODY_NESTING (more than the API server ever sends) is refused 400 before JSON.parse, on the lean path and express's", async (t) => {
    const parse = t.mock.method(JSON, 'parse');
    const longParses = () => parse.mock.calls.filter((c) => String(c.arguments[0]).length > 20_000).length;
    const { app: fresh, log } = buildApp({ policy: defaultPolicy });
    // 60 KB takes the lean path; 1.5 MiB (past the large-request threshold) express's.
    for (const depth of [30_000, 785_000]) {
      const text = withDeep(DEEP_SHAPES[0]!.review('CREATE'), deepJson(depth, '[', ']'));
      for (const endpoint of ['/mutate', '/validate']) {
        const res = await request(fresh).post(endpoint).set('content-type', 'application/json').send(text);
        assert.equal(res.status, 400, `${depth} ${endpoint}`);
        assert.equal(res.body.message, TOO_DEEP.message);
      }
    }
    assert.equal(longParses(), 0, 'no deep body was parsed');
    assert.deepEqual(log.audits(), []);
    // At the API server's own bound the review is judged (TG-REQ-01), as before.
    const atBound = withDeep(DEEP_SHAPES[0]!.review('CREATE'), deepJson(MAX_BODY_NESTING - 10, '[', ']'));
    const judged = await request(fresh)
      .post('/validate')
      .set('content-type', 'application/json')
      .send(atBound);
    assert.equal(judged.status, 200);
    assert.match(judged.body.response.status.message, /^\[TG-REQ-01\]/);
  });

  test('a compressed or non-UTF-8 body is refused 415 unread: gzip inflated past the gate, UTF-16 hid brackets from the pre-scan', async () => {
    const { app: fresh, log } = buildApp({ policy: defaultPolicy });
    const deep = (annotation: string) =>
      withDeep(
        { ...(DEEP_SHAPES[0]!.review('CREATE') as Record<string, unknown>) },
        deepJson(20_000, '[', ']'),
      ).replace('"kind":"AdmissionReview"', `"kind":"AdmissionReview","x":"${annotation}"`);
    const cases: Array<[string, Record<string, string>, Buffer]> = [
      ['gzip', { 'content-encoding': 'gzip' }, gzipSync(Buffer.from(deep('a')))],
      ['deflate', { 'content-encoding': 'deflate' }, deflateSync(Buffer.from(JSON.stringify(reviewBody())))],
      // U+0122 is the bytes 22 01 in UTF-16LE: a "quote" to a UTF-8 scanner.
      [
        'utf-16le',
        { 'content-type': 'application/json; charset=utf-16le' },
        Buffer.from(deep('\u0122'), 'utf16le'),
      ],
      [
        'utf-16',
        { 'content-type': 'application/json; charset="UTF-16"' },
        Buffer.from(JSON.stringify(reviewBody()), 'utf16le'),
      ],
      // Two charsets, whichever one a parser takes (express's takes the first): each must be UTF-8.
      [
        'charset twice',
        { 'content-type': 'application/json; charset=utf-16le; charset=utf-8' },
        Buffer.from(deep('\u0122'), 'utf16le'),
      ],
    ];
    for (const [name, headers, body] of cases)
      for (const endpoint of ['/mutate', '/validate']) {
        const res = await request(fresh)
          .post(endpoint)
          .set({ 'content-type': 'application/json', ...headers })
          .send(body);
        assert.equal(res.status, 415, `${name} ${endpoint}`);
        assert.equal(res.body.message, UNSUPPORTED_ENCODING_MESSAGE);
      }
    assert.deepEqual(log.audits(), []);
    for (const type of ['application/json; charset=utf-8; x=y', 'application/json; charset="UTF8"']) {
      const res = await request(fresh)
        .post('/validate')
        .set('content-type', type)
        .send(JSON.stringify(reviewBody()));
      assert.equal(res.status, 200, type);
    }
  });

  test('a cluster Secret config nested 5,000 deep is denied on both endpoints (was a 500 on /mutate)', async () => {
    for (const endpoint of ['/mutate', '/validate']) {
      const body = reviewBody({
        kind: SECRET_KIND,
        namespace: 'argocd',
        userInfo: ADMIN,
        object: clusterSecret(`{"tlsClientConfig":${deepJson(5_000)}}`),
      });
      const res = await request(app).post(endpoint).send(body);
      assert.equal(res.status, 200);
      assert.match(
        res.body.response.status.message,
        /^\[TG-REQ-01\] object\.data\.config nests JSON more than 100 levels deep/,
      );
    }
  });

  for (const [name, yaml] of [
    [
      'a 2 KB elementsYaml of 1,000 nested [ (it made the YAML parser abort the process)',
      `${'['.repeat(1000)}${']'.repeat(1000)}`,
    ],
    // A red-team review: `- ` 3,900 times on one line, then a line at the margin (7.8 KiB).
    [
      'an elementsYaml whose dedent made the YAML syntax-tree parser run out of stack (a 500 before)',
      `${'- '.repeat(3900)}a\nb\n`,
    ],
  ] as const) {
    test(`${name} is denied under TG-REQ-01`, async () => {
      const res = await request(app)
        .post('/validate')
        .send(reviewBody({ object: applicationSet({ generators: [{ list: { elementsYaml: yaml } }] }) }));
      assert.equal(res.status, 200);
      assert.match(
        res.body.response.status.message,
        /^\[TG-REQ-01\] object\.spec\.generators\[0\]\.list\.elementsYaml nests YAML/,
      );
    });
  }

  test('an object holding elementsYaml the webhook does not read stays deletable (its oldObject is not parsed)', async () => {
    // Measuring an oldObject's YAML by reading it cost 1.7 s for 3 MB, and the 3,900-deep
    // one above made its DELETE a 500; nothing parses an oldObject's elementsYaml there.
    const owner = { username: 'alice', groups: ['team-a-admins'] };
    for (const elementsYaml of [
      `${'- '.repeat(3900)}a\nb\n`,
      Array.from({ length: 60_000 }, (_, i) => `- {name: c${i}, url: https://x${i}.example.com}`).join('\n'),
    ]) {
      const oldObject = applicationSet({ generators: [{ list: { elementsYaml } }] });
      const res = await request(app)
        .post('/validate')
        .send(reviewBody({ operation: 'DELETE', object: undefined, oldObject, userInfo: owner }));
      assert.equal(res.status, 200);
      assert.equal(res.body.response.allowed, true, JSON.stringify(res.body.response.status));
    }
  });

  test(`at the highest depth the setting allows (${limitFlags.maxObjectDepth.max}), every shape is evaluated by the rules and answered 200`, async () => {
    const max = limitFlags.maxObjectDepth.max;
    const { app: raised } = buildApp({ policy: defaultPolicy, limits: limited({ maxObjectDepth: max }) });
    for (const shape of DEEP_SHAPES) {
      const depth = max - placeholderDepth(shape.review('UPDATE'));
      for (const operation of ['CREATE', 'UPDATE'] as const) {
        const text = withDeep(shape.review(operation), deepJson(depth, shape.open, shape.close));
        for (const endpoint of ['/mutate', '/validate']) {
          const res = await request(raised).post(endpoint).set('content-type', 'application/json').send(text);
          assert.equal(res.status, 200, `${shape.name} ${operation} ${endpoint}`);
          // Within the limit: no TG-REQ-01 depth line (TG-AS-04 may still deny list values nested
          // deeper than it inspects, as SPEC section 5 says it must).
          assert.doesNotMatch(
            String(res.body.response.status?.message),
            /\[TG-REQ-01\].*levels deep/,
            `${shape.name} is within the limit`,
          );
        }
        const over = withDeep(shape.review(operation), deepJson(depth + 1, shape.open, shape.close));
        const res = await request(raised)
          .post('/validate')
          .set('content-type', 'application/json')
          .send(over);
        assert.match(
          String(res.body.response.status?.message),
          /more than 500 levels deep/,
          `${shape.name} one level more is past the limit`,
        );
      }
    }
  });
});

/** `count` clusters generators each of which TG-AS-02 denies (a selector for another tenant). */
function deniedGenerators(count: number): unknown[] {
  return Array.from({ length: count }, () => ({
    clusters: { selector: { matchLabels: { [settings().tenantLabel]: 'team-b' } } },
  }));
}

function policyRequest(object: KubeObject): PolicyRequest {
  return {
    uid: 'u',
    kind: 'ApplicationSet',
    operation: 'CREATE',
    namespace: String((object.metadata as { namespace: string }).namespace),
    name: 'guestbook',
    object,
    user: { username: 'alice', groups: ['team-a-admins', 'team-b-admins'] },
    dryRun: false,
  };
}

describe('bounded work and bounded answers', () => {
  test('60,000 clusters generators (960 KB): denied under TG-REQ-01 naming a limit, a short answer and no patch', async () => {
    const { app, log } = buildApp({ policy: defaultPolicy });
    const body = reviewBody({
      object: applicationSet({ generators: Array.from({ length: 60_000 }, () => ({ clusters: {} })) }),
    });
    for (const endpoint of ['/mutate', '/validate']) {
      const res = await request(app).post(endpoint).send(body);
      assert.equal(res.status, 200);
      assert.equal(res.body.response.allowed, false);
      assert.equal(res.body.response.patch, undefined);
      const message: string = res.body.response.status.message;
      assert.match(
        message,
        new RegExp(
          `^\\[TG-REQ-01\\] object holds more than ${DEFAULT_LIMITS.maxObjectNodes} values.*--max-object-nodes, env TG_MAX_OBJECT_NODES`,
        ),
      );
      assert.ok(message.length < 1_000, `${message.length} characters`);
    }
    assert.ok(log.text().length < 10_000, `${log.text().length} bytes of log`);
  });

  test('201 generators: denied naming --max-generators', async () => {
    const { app } = buildApp({ policy: defaultPolicy });
    const res = await request(app)
      .post('/mutate')
      .send(
        reviewBody({
          object: applicationSet({ generators: Array.from({ length: 201 }, () => ({ clusters: {} })) }),
        }),
      );
    assert.match(
      res.body.response.status.message,
      /^\[TG-REQ-01\] object\.spec\.generators hold more than 200 generator entries.*--max-generators, env TG_MAX_GENERATORS/,
    );
    assert.equal(res.body.response.patch, undefined);
  });

  test('an object of more values than --max-object-nodes, and a cluster Secret config over --max-secret-config-bytes', async () => {
    const { app } = buildApp({ policy: defaultPolicy, limits: limited({ maxObjectNodes: 1_000 }) });
    const big = await request(app)
      .post('/validate')
      .send(
        reviewBody({
          kind: argoKind('Application'),
          object: application({ items: Array.from({ length: 600 }, (_, i) => ({ i })) }),
        }),
      );
    assert.match(big.body.response.status.message, /^\[TG-REQ-01\] object holds more than 1000 values/);
    const config = JSON.stringify({
      tlsClientConfig: { caData: 'x'.repeat(DEFAULT_LIMITS.maxSecretConfigBytes) },
    });
    const secret = await request(app)
      .post('/mutate')
      .send(
        reviewBody({
          kind: SECRET_KIND,
          namespace: 'argocd',
          userInfo: ADMIN,
          object: clusterSecret(config),
        }),
      );
    assert.match(
      secret.body.response.status.message,
      /^\[TG-REQ-01\] object\.data\.config is \d+ bytes.*--max-secret-config-bytes/,
    );
  });

  test('the generator limit is exact and raised by the setting', async () => {
    const { app } = buildApp({ policy: defaultPolicy, limits: limited({ maxGenerators: 300 }) });
    const at = await request(app)
      .post('/validate')
      .send(
        reviewBody({
          object: applicationSet({ generators: Array.from({ length: 300 }, () => ({ clusters: {} })) }),
        }),
      );
    assert.doesNotMatch(String(at.body.response.status?.message), /TG-REQ-01/);
    const over = await request(app)
      .post('/validate')
      .send(
        reviewBody({
          object: applicationSet({ generators: Array.from({ length: 301 }, () => ({ clusters: {} })) }),
        }),
      );
    assert.match(over.body.response.status.message, /more than 300 generator entries/);
  });

  test('list elements and elementsYaml bytes past their limits are denied, naming each setting', async () => {
    const { app } = buildApp({ policy: defaultPolicy });
    const elements = Array.from({ length: DEFAULT_LIMITS.maxListElements + 1 }, (_, i) => ({
      cluster: `c${i}`,
    }));
    const yaml = '- {cluster: a}\n'.repeat(Math.ceil((DEFAULT_LIMITS.maxElementsYamlBytes + 1) / 15));
    const res = await request(app)
      .post('/validate')
      .send(
        reviewBody({
          object: applicationSet({ generators: [{ list: { elements } }, { list: { elementsYaml: yaml } }] }),
        }),
      );
    const lines = String(res.body.response.status.message).split('\n');
    assert.equal(lines.pop(), 'how to fix: docs/rules.md#tg-req-01');
    assert.deepEqual(
      lines.map((l) => /--max-[a-z-]+/.exec(l)?.[0]),
      ['--max-list-elements', '--max-elements-yaml-bytes'],
    );
  });

  test(`a denial shows ${MAX_DENIAL_LINES} lines, the last counting the rest; the audit record ${MAX_AUDIT_ITEMS} rules and how many it left off`, async () => {
    const { app, log } = buildApp({ policy: defaultPolicy });
    const object = applicationSet({ generators: deniedGenerators(150) });
    const expected = evaluate(policyRequest(object), { registry: tenants(), settings: settings() });
    assert.equal(expected.allowed, false);
    const total = expected.allowed ? 0 : expected.violations.length;
    assert.ok(total > MAX_DENIAL_LINES + 1, `${total} violations`);
    // The findings: a line past the request's budget of a rule stands for `unlisted` of them.
    const findings = expected.allowed ? 0 : expected.violations.reduce((n, v) => n + (v.unlisted ?? 1), 0);
    const res = await request(app)
      .post('/validate')
      .send(
        reviewBody({ object, userInfo: { username: 'alice', groups: ['team-a-admins', 'team-b-admins'] } }),
      );
    const lines = String(res.body.response.status.message).split('\n');
    assert.match(lines.pop() ?? '', /^how to fix: docs\/rules\.md#tg-as-02/);
    assert.equal(lines.length, MAX_DENIAL_LINES);
    assert.equal(
      lines.at(-1),
      `... and ${findings - (MAX_DENIAL_LINES - 1)} more violations (tenant-guard check -f FILE lists them all)`,
    );
    const [record] = log.audits();
    assert.equal((record?.rules as unknown[]).length, MAX_AUDIT_ITEMS);
    assert.deepEqual(record?.omitted, { rules: total - MAX_AUDIT_ITEMS });
  });

  test(`an audit record keeps ${MAX_AUDIT_ITEMS} of the requester's groups, each cut to a line, and counts the rest`, async () => {
    const { app, log } = buildApp({ policy: defaultPolicy });
    // An identity provider's user with thousands of groups (an operator's review: 5,000
    // made a 291 KB audit line, which container runtimes split at 16 KiB).
    const groups = [
      'team-a-admins',
      'g'.repeat(3_000),
      ...Array.from({ length: 5_000 }, (_, i) => `group-${i}`),
    ];
    const res = await request(app)
      .post('/validate')
      .send(
        reviewBody({
          object: applicationSet({ generators: deniedGenerators(1) }),
          userInfo: { username: `u${'x'.repeat(5_000)}`, groups },
        }),
      );
    assert.equal(res.body.response.allowed, false);
    const [record] = log.audits();
    const kept = record?.groups as string[];
    assert.equal(kept.length, MAX_AUDIT_ITEMS);
    assert.equal(kept[0], 'team-a-admins');
    assert.ok((kept[1]?.length ?? 0) <= MAX_LINE_CHARS);
    assert.ok((String(record?.user).length ?? 0) <= MAX_LINE_CHARS);
    assert.deepEqual(record?.omitted, { groups: groups.length - MAX_AUDIT_ITEMS });
    const line = log.lines.find((l) => l.includes('"audit":true')) ?? '';
    assert.ok(line.length < 16 * 1024, `${line.length} characters`);
  });

  test(`warn mode answers at most ${MAX_WARNINGS} warnings, the last counting the rest`, async () => {
    const { app, log } = buildApp({ policy: defaultPolicy });
    // team-b is in warn mode: its relaxable TG-AS-02 lines (an expression beside matchLabels
    // pinned to the tenant) become warnings.
    const label = settings().tenantLabel;
    const generators = Array.from({ length: 100 }, () => ({
      clusters: {
        selector: {
          matchLabels: { [label]: 'team-b' },
          matchExpressions: [{ key: label, operator: 'Exists' }],
        },
      },
    }));
    const object = applicationSet({ generators }, 'team-b');
    const res = await request(app)
      .post('/validate')
      .send(
        reviewBody({ namespace: 'team-b', object, userInfo: { username: 'bob', groups: ['team-b-admins'] } }),
      );
    assert.equal(res.status, 200);
    const warnings: string[] = res.body.response.warnings;
    assert.equal(warnings.length, MAX_WARNINGS);
    assert.match(warnings.at(-1) ?? '', /^\.\.\. and \d+ more warnings/);
    const record = log.audits()[0];
    assert.equal((record?.warnings as unknown[]).length, MAX_WARNINGS);
    assert.ok(typeof (record?.omitted as { warnings?: number } | undefined)?.warnings === 'number');
  });
});

describe('what a request may hold that no rule would read cheaply (found by a red-team review)', () => {
  /** `{k: {k: ... leaf}}`, `depth` objects deep, each key `keyChars` long (distinct per level). */
  function longKeys(depth: number, keyChars: number, leaf: unknown): unknown {
    let value = leaf;
    for (let i = 0; i < depth; i++) value = { [`${i}`.padEnd(keyChars, 'k')]: value };
    return value;
  }

  test('keys of 100,000 characters over foreign cluster names (2.5 MB): one short TG-REQ-01 line, in object and in oldObject', async () => {
    // Before, each TG-AS-04 finding carried a 2.5 MB path, and cutting ~150 of them into the
    // answer and the audit record ran the heap out: the process died.
    const { app, log } = buildApp({ policy: defaultPolicy });
    const spec = {
      generators: [{ list: { elements: [longKeys(25, 100_000, Array(120).fill('k8s-team-b-dev'))] } }],
    };
    for (const at of ['object', 'oldObject'] as const) {
      const body = reviewBody(
        at === 'object'
          ? { object: applicationSet(spec) }
          : { operation: 'UPDATE', object: applicationSet({}), oldObject: applicationSet(spec) },
      );
      for (const endpoint of ['/mutate', '/validate']) {
        const res = await request(app).post(endpoint).send(body);
        assert.equal(res.status, 200);
        assert.equal(res.body.response.allowed, false);
        const message: string = res.body.response.status.message;
        assert.match(
          message,
          new RegExp(
            `^\\[TG-REQ-01\\] ${at}\\.spec\\.generators\\[0\\]\\.list\\.elements\\[0\\]\\["24k{62}\\.\\.\\."\\] is reached through keys of more than 4096 characters`,
          ),
        );
        assert.ok(message.length < 1_000, `a short answer (${message.length})`);
      }
    }
    assert.ok(
      log.lines.every((line) => line.length < 10_000),
      'no log or audit line carries the keys',
    );
  });

  /** A terminating ApplicationSet of team-a whose template targets team-b's cluster. */
  function terminating(generators: unknown[], finalizers: string[]): KubeObject {
    const object = applicationSet({
      generators,
      template: {
        metadata: { name: 'x' },
        spec: { project: 'team-a', destination: { name: 'k8s-team-b-dev', namespace: 'g' } },
      },
    });
    object.metadata = {
      ...(object.metadata as Record<string, unknown>),
      deletionTimestamp: '2026-01-01T00:00:00Z',
      finalizers,
    };
    return object;
  }

  test('a terminating UPDATE that only takes away is judged against its old object only while that is within the size limits', async () => {
    // Before, the old object was held to the depth only, and judging it parsed all of it: a
    // 3 MB elementsYaml took ~6 s of CPU and ran the heap out on the real server.
    const { app } = buildApp({ policy: defaultPolicy });
    const line = '- {a: b, c: d}\n';
    const verdict = async (yamlBytes: number) => {
      const old = terminating([{ list: { elementsYaml: line.repeat(yamlBytes / line.length) } }], ['f']);
      const res = await request(app)
        .post('/validate')
        .send(reviewBody({ operation: 'UPDATE', oldObject: old, object: terminating([], []) }));
      assert.equal(res.status, 200);
      return res.body.response as { allowed: boolean; status?: { message: string } };
    };
    // Within the limit (8 KiB): the standing TG-AS-03 is the old object's, and the removal
    // of the finalizer and the generator is allowed (SPEC section 4).
    assert.equal((await verdict(line.length * 100)).allowed, true);
    // Past it: judged as the new object stands, the standing violation denies.
    const past = await verdict(line.length * 1_000);
    assert.equal(past.allowed, false);
    assert.match(
      past.status?.message ?? '',
      /^\[TG-AS-03\] spec\.template\.spec\.destination\.name "k8s-team-b-dev"/,
    );
  });
});

test('a terminating UPDATE over thousands of standing findings with 4 KB paths is judged in full, not compared key by key', async () => {
  // Found while closing the above: 28,000 TG-AS-04 findings under one 3,900-character key
  // (a 960 KB body, within every limit) made 28,000 comparison keys of 4 KB each, and the
  // process ran out of heap at the deployment's 192 MB.
  const { app } = buildApp({ policy: defaultPolicy });
  const spec = (extra: Record<string, unknown>) => ({
    generators: [{ list: { elements: [{ ['k'.repeat(3_900)]: Array(5_000).fill('k8s-team-b-dev') }] } }],
    ...extra,
  });
  const at = (object: KubeObject, finalizers: string[]): KubeObject => ({
    ...object,
    metadata: {
      ...(object.metadata as Record<string, unknown>),
      deletionTimestamp: '2026-01-01T00:00:00Z',
      finalizers,
    },
  });
  const res = await request(app)
    .post('/validate')
    .send(
      reviewBody({
        operation: 'UPDATE',
        oldObject: at(applicationSet(spec({ syncPolicy: {} })), ['f']),
        object: at(applicationSet(spec({})), []),
      }),
    );
  assert.equal(res.status, 200);
  assert.equal(res.body.response.allowed, false);
  assert.match(res.body.response.status.message, /^\[TG-AS-04\] spec\.generators\[0\]\.list\.elements\[0\]/);
  assert.match(res.body.response.status.message, /\.\.\. and \d+ more violations/);
});

describe('no finding carries a path of megabytes, whatever built it (a red-team bypass of the key-path limit)', () => {
  test('5,000 duplicate keys under a 30,000-character key of a cluster Secret config: at most 50 findings, each path cut', () => {
    // Keys inside config are text, not measured by --max-key-path-chars: the scanner of
    // duplicate keys made one 30 KB path for each, and the process ran out of heap (176 MB).
    const inner = Array.from({ length: 5_000 }, () => '"a":1').join(',');
    const config = `{"${'A'.repeat(30_000)}":{${inner}}}`;
    const decision = evaluate(
      {
        uid: 'u',
        kind: 'ClusterSecret',
        operation: 'CREATE',
        namespace: 'argocd',
        name: 'k8s-team-a-dev',
        object: clusterSecret(config),
        user: ADMIN,
        dryRun: false,
      },
      { registry: tenants(), settings: settings() },
    );
    const all = [...(decision.allowed ? [] : decision.violations), ...decision.audited];
    const duplicates = all.filter((v) => v.rule === 'TG-CS-03' && v.message.includes('given twice'));
    assert.ok(duplicates.length > 0 && duplicates.length <= 50, `${duplicates.length} duplicate findings`);
    for (const v of all) {
      assert.ok(v.path.length <= 1_000, `path of ${v.path.length}`);
      assert.ok(v.message.length <= 3_100, `message of ${v.message.length}`);
    }
  });
});
