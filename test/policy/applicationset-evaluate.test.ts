import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { evaluate, mutate } from '../../src/policy/evaluate.js';
import { getPath } from '../../src/policy/object-paths.js';
import { isRecord } from '../../src/json.js';
import type { KubeObject, PolicyContext, PolicyRequest } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { runHttp, runPure, webhookApp } from '../attacks/admission-flow.js';
import { ATTACK_TENANTS } from '../attacks/catalogue.js';
import { tenantsYaml } from '../support/policy-fixtures.js';

const LABEL = 'tenantguard.dev/tenant';
const FIXTURES = new URL('../fixtures/applicationset/', import.meta.url);

function contextFor(yaml: string): PolicyContext {
  return { registry: parseTenantsYaml(yaml, 'test', 'argocd'), settings: resolveSettings({}) };
}

function tenantsText(): string {
  return tenantsYaml('applicationset');
}

function nestedClusters(namespace = 'team-a'): KubeObject {
  const doc: unknown = parse(readFileSync(new URL('nested-clusters.yaml', FIXTURES), 'utf8'));
  assert.ok(isRecord(doc) && isRecord(doc.metadata));
  doc.metadata.namespace = namespace;
  return doc;
}

const ALICE = { username: 'alice', groups: ['team-a-admins'] };
const BOB = { username: 'bob', groups: ['team-b-admins'] };
const ADMIN = { username: 'root', groups: ['platform-admins'] };

function request(object: KubeObject, over: Partial<PolicyRequest> = {}): PolicyRequest {
  return {
    uid: 'u1',
    kind: 'ApplicationSet',
    operation: 'CREATE',
    namespace: 'team-a',
    name: 'nested-clusters',
    object,
    user: ALICE,
    dryRun: false,
    ...over,
  };
}

/** /mutate then /validate, as the API server calls them. */
function admit(req: PolicyRequest, context: PolicyContext) {
  const mutated = mutate(req, context);
  const object = mutated.object ?? req.object;
  return { mutated, decision: evaluate({ ...req, ...(object === undefined ? {} : { object }) }, context) };
}

describe('ApplicationSet through evaluate and mutate', () => {
  test("a tenant's nested-generator ApplicationSet is admitted once mutated", () => {
    const context = contextFor(tenantsText());
    const { mutated, decision } = admit(request(nestedClusters()), context);
    assert.equal(mutated.tenant, 'team-a');
    assert.equal(decision.allowed, true, JSON.stringify(decision));
    assert.equal(decision.warnings.length, 1);
  });

  test('without the mutation it is denied, every line in rule order', () => {
    const context = contextFor(tenantsText());
    const decision = evaluate(request(nestedClusters()), context);
    assert.equal(decision.allowed, false);
    assert.ok(!decision.allowed);
    assert.deepEqual(
      decision.violations.map((v) => v.rule),
      ['TG-AS-01', 'TG-AS-02', 'TG-AS-02', 'TG-AS-02', 'TG-AS-02', 'TG-AS-02', 'TG-AS-07'],
    );
  });

  test("another tenant's cluster selector is denied (TG-AS-02) in enforce mode", () => {
    const context = contextFor(tenantsText());
    const object = nestedClusters();
    assert.ok(isRecord(object.spec));
    object.spec.generators = [
      { clusters: { selector: { matchLabels: { 'tenantguard.dev/tenant': 'team-b' } } } },
    ];
    const { decision } = admit(request(object), context);
    assert.ok(!decision.allowed);
    assert.deepEqual(
      decision.violations.map((v) => v.rule),
      ['TG-AS-02'],
    );
  });

  test('warn mode relaxes TG-AS-02 beside matchLabels pinned to the tenant, but not TG-AS-05', () => {
    const context = contextFor(
      tenantsText().replace('projects: [team-b]', 'projects: [team-b]\n  enforcement: warn'),
    );
    const object = nestedClusters('team-b');
    assert.ok(isRecord(object.spec));
    object.spec.generators = [
      {
        clusters: {
          selector: {
            matchLabels: { 'tenantguard.dev/tenant': 'team-b' },
            matchExpressions: [{ key: 'tenantguard.dev/tenant', operator: 'Exists' }],
          },
        },
      },
    ];
    const relaxed = admit(request(object, { namespace: 'team-b', user: BOB }), context).decision;
    assert.equal(relaxed.allowed, true);
    assert.ok(
      relaxed.warnings.some((w) => w.startsWith('[TG-AS-02]') && w.endsWith('(enforcement: warn)')),
      relaxed.warnings.join('\n'),
    );
    object.spec.generators = [{ quantum: {} }];
    const denied = admit(request(object, { namespace: 'team-b', user: BOB }), context).decision;
    assert.ok(!denied.allowed);
    assert.deepEqual(
      denied.violations.map((v) => v.rule),
      ['TG-AS-05'],
    );
  });

  test('a platform admin may use templatePatch (audited)', () => {
    const context = contextFor(tenantsText());
    const object = nestedClusters('argocd');
    assert.ok(isRecord(object.spec));
    object.spec.templatePatch = 'spec: {}';
    const { decision } = admit(request(object, { namespace: 'argocd', user: ADMIN }), context);
    assert.equal(decision.allowed, true);
    assert.ok(decision.audited.some((v) => v.rule === 'TG-AS-06'));
  });

  test("a platform admin's move to another tenant is completed for the tenant it moves to", () => {
    // /mutate once completed it for the old tenant (project, template label, selector), which
    // /validate, judging it for the new one, only audited: the new tenant then owned an
    // ApplicationSet deploying into the old tenant's clusters.
    const context = contextFor(tenantsText());
    const appset = (tenant: string, spec: Record<string, unknown>): KubeObject => ({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'moved', namespace: 'argocd', labels: { [LABEL]: tenant } },
      spec,
    });
    const source = { repoURL: 'https://git.example.com/x', path: '.' };
    const oldObject = appset('team-a', {
      generators: [{ clusters: { selector: { matchLabels: { [LABEL]: 'team-a' } } } }],
      template: {
        metadata: { name: '{{name}}-moved', labels: { [LABEL]: 'team-a' } },
        spec: { project: 'team-a', destination: { server: '{{server}}' }, source },
      },
    });
    // The admin relabels it and leaves the tenant's parts for /mutate to fill in.
    const object = appset('team-b', {
      generators: [{ clusters: {} }],
      template: {
        metadata: { name: '{{name}}-moved' },
        spec: { destination: { server: '{{server}}' }, source },
      },
    });
    const update = request(object, { operation: 'UPDATE', oldObject, namespace: 'argocd', user: ADMIN });
    const { mutated, decision } = admit(update, context);
    assert.equal(mutated.tenant, 'team-b');
    const done = mutated.object;
    assert.ok(done !== undefined);
    assert.equal(getPath(done, ['spec', 'template', 'spec', 'project']), 'team-b');
    assert.equal(getPath(done, ['spec', 'template', 'metadata', 'labels', LABEL]), 'team-b');
    assert.deepEqual(getPath(done, ['spec', 'generators', 0, 'clusters', 'selector', 'matchLabels']), {
      [LABEL]: 'team-b',
    });
    assert.equal(decision.allowed, true);
    assert.equal(decision.summary.tenant, 'team-b');
    // The move itself is audited; nothing of the old tenant is left to audit beside it.
    assert.deepEqual(
      decision.audited.map((v) => v.rule),
      ['TG-OWN-01'],
    );
  });

  test('DELETE gets no patch and no kind violations', () => {
    const context = contextFor(tenantsText());
    const req = request(nestedClusters(), { operation: 'DELETE', oldObject: nestedClusters() });
    const { object: _dropped, ...withoutObject } = req;
    assert.equal(mutate(withoutObject, context).object, undefined);
    assert.equal(evaluate(withoutObject, context).allowed, true);
  });
});

describe('ApplicationSet keys from the request meet lookups as own keys only (issue 8 item 8)', () => {
  const context = contextFor(tenantsText());
  const INHERITED = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

  /** An ApplicationSet as JSON.parse reads it from the wire: `__proto__` is then an own key. */
  function fromWire(text: string): KubeObject {
    const parsed: unknown = JSON.parse(text);
    assert.ok(isRecord(parsed));
    return parsed;
  }

  for (const key of INHERITED) {
    test(`"${key}" as a generator kind, a raw nested key, a selector, a label and a parameter key is read as data`, () => {
      const k = JSON.stringify(key);
      const text = `{"apiVersion":"argoproj.io/v1alpha1","kind":"ApplicationSet","metadata":{"name":"x","namespace":"team-a","labels":{${k}:"v"}},
        "spec":{"goTemplate":true,"generators":[{${k}:{}},{"matrix":{"generators":[{"list":{"elements":[{${k}:"k8s-team-b-dev"}]}},{"clusters":{${k}:{},"selector":{"matchLabels":{${k}:"x"}},"values":{${k}:"in-cluster"}}}]}}],
        "ignoreApplicationDifferences":[{${k}:["/spec"],"jsonPointers":["/spec/syncPolicy"]}],"preservedFields":{${k}:["x"],"labels":[${k}]},
        "template":{"metadata":{"name":"x","labels":{${k}:"v"}},"spec":{"project":"team-a",${k}:{},"destination":{"name":"k8s-team-a-dev",${k}:"x"}}}}}`;
      const object = fromWire(text);
      const { mutated, decision } = admit(request(object), context);
      assert.equal(decision.allowed, false);
      const rules = decision.allowed ? [] : decision.violations.map((v) => v.rule);
      // The unknown kind is TG-AS-05; the foreign cluster and the control plane among the parameters are TG-AS-04.
      assert.ok(rules.includes('TG-AS-05') && rules.includes('TG-AS-04'), rules.join(','));
      assert.ok(
        !rules.includes('TG-AS-09'),
        'a key named like an inherited property is no jsonPointers list',
      );
      const selector = JSON.stringify(mutated.object?.spec);
      assert.match(
        selector,
        /"matchLabels":\{[^}]*"tenantguard\.dev\/tenant":"team-a"/,
        'the tenant selector is still added',
      );
    });
  }
});

describe("a warn-mode tenant's clusters selector is narrowed too (issue 8 item 11)", () => {
  const attackContext: PolicyContext = {
    registry: parseTenantsYaml(readFileSync(ATTACK_TENANTS, 'utf8'), 'tenants.yaml', 'argocd'),
    settings: resolveSettings({}),
  };
  const WENDY = { username: 'wendy', groups: ['team-w-admins'] };
  const wide = (): KubeObject => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'guestbook', namespace: 'team-w' },
    spec: {
      goTemplate: true,
      generators: [{ clusters: { selector: { matchExpressions: [{ key: LABEL, operator: 'Exists' }] } } }],
      template: {
        metadata: { name: '{{.name}}' },
        spec: { project: 'team-w', destination: { server: '{{.server}}', namespace: 'g' } },
      },
    },
  });
  const write = {
    uid: 'c0ffee00-0000-4000-8000-000000000011',
    operation: 'CREATE' as const,
    user: WENDY,
    object: wide(),
  };

  test('through the pure functions: matchLabels[tenant] is added, TG-AS-02 only warns', () => {
    const result = runPure(write, attackContext);
    assert.equal(result.allowed, true);
    assert.ok(
      result.warnings.some((w) => w.startsWith('[TG-AS-02] ')),
      JSON.stringify(result.warnings),
    );
    assert.deepEqual(
      getPath(result.object, ['spec', 'generators', 0, 'clusters', 'selector', 'matchLabels']),
      { [LABEL]: 'team-w' },
    );
  });

  test('over HTTP: the /mutate patch adds matchLabels[tenant] beside the Exists expression', async () => {
    const { app } = webhookApp(attackContext.registry, attackContext.settings);
    const result = await runHttp(write, app);
    assert.equal(result.allowed, true);
    assert.ok(
      result.patch.some((op) => op.path.startsWith('/spec/generators/0/clusters/selector/matchLabels')),
      JSON.stringify(result.patch),
    );
    assert.deepEqual(getPath(result.object, ['spec', 'generators', 0, 'clusters', 'selector']), {
      matchExpressions: [{ key: LABEL, operator: 'Exists' }],
      matchLabels: { [LABEL]: 'team-w' },
    });
  });
});

describe('TG-AS-09 lines come where SPEC section 5 lists the rule: after TG-AS-06, before TG-AS-07', () => {
  test('a denial lists TG-AS-06, TG-AS-09, TG-AS-07, TG-AS-08 in that order', () => {
    const context = contextFor(tenantsText());
    const object: KubeObject = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'x', namespace: 'team-a' },
      spec: {
        goTemplate: true,
        generators: [
          {
            matrix: {
              generators: [
                { list: { elements: [], template: { metadata: { labels: { [LABEL]: 'team-a' } } } } },
                { matrix: { generators: [{ Clusters: {} }] } },
              ],
            },
          },
        ],
        templatePatch: 'spec: {}',
        ignoreApplicationDifferences: [{ jsonPointers: ['/spec/destination'] }],
        template: {
          metadata: { name: 'x' },
          spec: { project: 'team-a', destination: { name: 'k8s-team-a-dev', namespace: 'x' } },
        },
      },
    };
    const { decision } = admit(request(object), context);
    assert.equal(decision.allowed, false);
    const rules = decision.allowed ? [] : [...new Set(decision.violations.map((v) => v.rule))];
    assert.deepEqual(rules, ['TG-AS-06', 'TG-AS-09', 'TG-AS-07', 'TG-AS-08']);
  });
});
