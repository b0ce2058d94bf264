import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { evaluate, mutate } from '../../src/policy/evaluate.js';
import { isRecord } from '../../src/policy/object-paths.js';
import type { KubeObject, PolicyContext, PolicyRequest } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { tenantsYaml } from '../support/policy-fixtures.js';

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
  return { uid: 'u1', kind: 'ApplicationSet', operation: 'CREATE', namespace: 'team-a', name: 'nested-clusters', object, user: ALICE, dryRun: false, ...over };
}

/** /mutate then /validate, as the API server calls them. */
function admit(req: PolicyRequest, context: PolicyContext) {
  const mutated = mutate(req, context);
  const object = mutated.object ?? req.object;
  return { mutated, decision: evaluate({ ...req, ...(object === undefined ? {} : { object }) }, context) };
}

describe('ApplicationSet through evaluate and mutate', () => {
  test('a tenant\'s nested-generator ApplicationSet is admitted once mutated', () => {
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
    assert.deepEqual(decision.violations.map((v) => v.rule), ['TG-AS-01', 'TG-AS-02', 'TG-AS-02', 'TG-AS-02', 'TG-AS-02', 'TG-AS-02', 'TG-AS-07']);
  });

  test('another tenant\'s cluster selector is denied (TG-AS-02) in enforce mode', () => {
    const context = contextFor(tenantsText());
    const object = nestedClusters();
    assert.ok(isRecord(object.spec));
    object.spec.generators = [{ clusters: { selector: { matchLabels: { 'tenantguard.dev/tenant': 'team-b' } } } }];
    const { decision } = admit(request(object), context);
    assert.ok(!decision.allowed);
    assert.deepEqual(decision.violations.map((v) => v.rule), ['TG-AS-02']);
  });

  test('warn mode relaxes TG-AS-02 but not TG-AS-05', () => {
    const context = contextFor(tenantsText().replace('projects: [team-b]', 'projects: [team-b]\n  enforcement: warn'));
    const object = nestedClusters('team-b');
    assert.ok(isRecord(object.spec));
    object.spec.generators = [{ clusters: { selector: { matchLabels: { 'tenantguard.dev/tenant': 'team-a' } } } }];
    const relaxed = admit(request(object, { namespace: 'team-b', user: BOB }), context).decision;
    assert.equal(relaxed.allowed, true);
    assert.ok(relaxed.warnings.some((w) => w.startsWith('[TG-AS-02]') && w.endsWith('(enforcement: warn)')), relaxed.warnings.join('\n'));
    object.spec.generators = [{ quantum: {} }];
    const denied = admit(request(object, { namespace: 'team-b', user: BOB }), context).decision;
    assert.ok(!denied.allowed);
    assert.deepEqual(denied.violations.map((v) => v.rule), ['TG-AS-05']);
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

  test('DELETE gets no patch and no kind violations', () => {
    const context = contextFor(tenantsText());
    const req = request(nestedClusters(), { operation: 'DELETE', oldObject: nestedClusters() });
    const { object: _dropped, ...withoutObject } = req;
    assert.equal(mutate(withoutObject, context).object, undefined);
    assert.equal(evaluate(withoutObject, context).allowed, true);
  });
});
