import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseAllDocuments, parse } from 'yaml';
import { applicationSetRules } from '../../src/policy/applicationset.js';
import { getPath } from '../../src/policy/object-paths.js';
import { isRecord } from '../../src/json.js';
import type { KubeObject, PolicyContext, RuleScope } from '../../src/policy/types.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { clustersBodies, tenantSelectorOf } from '../support/generator-walk.js';
import { editObject } from '../../src/policy/object-edit.js';
import { deepFreeze } from '../support/deep-freeze.js';
import { policyContext } from '../support/policy-fixtures.js';

const LABEL = 'tenantguard.dev/tenant';
const FIXTURES = new URL('../fixtures/applicationset/', import.meta.url);
const UPSTREAM = new URL('../../../shared/fixtures/upstream/argocd/applicationsets/', import.meta.url);

function load(): { context: PolicyContext; tenant: Tenant } {
  const context = policyContext('applicationset');
  const tenant = context.registry.tenant('team-a');
  assert.ok(tenant !== undefined);
  return { context, tenant };
}

function scopeFor(object: KubeObject, namespace = 'team-a'): RuleScope & { tenant: Tenant } {
  const { context, tenant } = load();
  return {
    request: {
      uid: 'u1',
      kind: 'ApplicationSet',
      operation: 'CREATE',
      namespace,
      name: 'x',
      object,
      user: { username: 'alice', groups: ['team-a-admins'] },
      dryRun: false,
    },
    tenant,
    role: 'human',
    context,
  };
}

/** What /mutate makes of `object`, which it must never write (frozen here). */
function mutated(object: KubeObject): KubeObject {
  const original = deepFreeze(structuredClone(object));
  const edit = editObject(original);
  applicationSetRules.mutate(edit, scopeFor(original));
  return edit.object;
}

function fixture(name: string): KubeObject {
  const doc: unknown = parse(readFileSync(new URL(name, FIXTURES), 'utf8'));
  assert.ok(isRecord(doc));
  return doc;
}

describe('applicationSetRules.mutate', () => {
  test('adds the tenant selector to every clusters generator at every depth', () => {
    const object = mutated(fixture('nested-clusters.yaml'));
    const bodies = clustersBodies(object);
    assert.deepEqual(
      bodies.map((b) => b.path),
      [
        '.spec.generators[0].clusters',
        '.spec.generators[1].matrix.generators[0].clusters',
        '.spec.generators[1].matrix.generators[1].merge.generators[0].clusters',
        '.spec.generators[1].matrix.generators[1].merge.generators[1].clusters',
        '.spec.generators[2].merge.generators[0].matrix.generators[0].clusters',
      ],
    );
    for (const { path, body } of bodies) assert.equal(tenantSelectorOf(body), 'team-a', path);
    const first = clustersBodies(object)[1]?.body.selector;
    assert.deepEqual(first, { matchLabels: { env: 'dev', [LABEL]: 'team-a' } }, 'existing labels are kept');
  });

  test('sets the default project and the tenant label of spec.template', () => {
    const object = mutated(fixture('nested-clusters.yaml'));
    assert.equal(getPath(object, ['spec', 'template', 'spec', 'project']), 'team-a');
    assert.deepEqual(getPath(object, ['spec', 'template', 'metadata', 'labels']), { [LABEL]: 'team-a' });
  });

  test('the mutated fixture passes validation', () => {
    const object = mutated(fixture('nested-clusters.yaml'));
    const findings = applicationSetRules.validate(scopeFor(object));
    assert.deepEqual(findings.violations, []);
    assert.equal(findings.warnings.length, 1);
  });

  test('is idempotent', () => {
    const once = mutated(fixture('nested-clusters.yaml'));
    assert.deepEqual(mutated(once), once);
  });

  const keep: Array<{
    name: string;
    spec: Record<string, unknown>;
    expect: (spec: Record<string, unknown>) => void;
  }> = [
    {
      name: 'an empty project is filled',
      spec: {
        generators: [],
        template: { metadata: { labels: { [LABEL]: 'team-a' } }, spec: { project: '' } },
      },
      expect: (spec) => assert.equal(getPath(spec, ['template', 'spec', 'project']), 'team-a'),
    },
    {
      name: 'another project is left for validate to deny',
      spec: {
        generators: [],
        template: { metadata: { labels: { [LABEL]: 'team-b' } }, spec: { project: 'team-b' } },
      },
      expect: (spec) =>
        assert.deepEqual(spec.template, {
          metadata: { labels: { [LABEL]: 'team-b' } },
          spec: { project: 'team-b' },
        }),
    },
    {
      name: 'another tenant in the selector is not overwritten',
      spec: {
        generators: [{ clusters: { selector: { matchLabels: { [LABEL]: 'team-b' } } } }],
        template: {},
      },
      expect: (spec) =>
        assert.deepEqual((spec.generators as unknown[])[0], {
          clusters: { selector: { matchLabels: { [LABEL]: 'team-b' } } },
        }),
    },
    {
      name: 'an expression on the tenant label still gets matchLabels (issue 8 item 11)',
      spec: {
        generators: [
          {
            clusters: {
              selector: { matchExpressions: [{ key: LABEL, operator: 'In', values: ['team-a'] }] },
            },
          },
        ],
        template: {},
      },
      expect: (spec) =>
        assert.deepEqual((spec.generators as unknown[])[0], {
          clusters: {
            selector: {
              matchExpressions: [{ key: LABEL, operator: 'In', values: ['team-a'] }],
              matchLabels: { [LABEL]: 'team-a' },
            },
          },
        }),
    },
    {
      name: 'Exists on the tenant label does not keep the selector wide: matchLabels is added',
      spec: {
        generators: [
          {
            matrix: {
              generators: [
                { clusters: { selector: { matchExpressions: [{ key: LABEL, operator: 'Exists' }] } } },
                { list: { elements: [] } },
              ],
            },
          },
        ],
        template: {},
      },
      expect: (spec) =>
        assert.deepEqual(
          (spec.generators as Array<{ matrix: { generators: unknown[] } }>)[0]?.matrix.generators?.[0],
          {
            clusters: {
              selector: {
                matchExpressions: [{ key: LABEL, operator: 'Exists' }],
                matchLabels: { [LABEL]: 'team-a' },
              },
            },
          },
        ),
    },
    {
      name: 'a null clusters is not turned into a generator',
      spec: { generators: [{ clusters: null }], template: {} },
      expect: (spec) => assert.deepEqual((spec.generators as unknown[])[0], { clusters: null }),
    },
    {
      name: 'a selector of the wrong type is not replaced',
      spec: { generators: [{ clusters: { selector: 'all' } }], template: {} },
      expect: (spec) =>
        assert.deepEqual((spec.generators as unknown[])[0], { clusters: { selector: 'all' } }),
    },
    {
      name: 'a missing template is created with project and label',
      spec: { generators: [] },
      expect: (spec) =>
        assert.deepEqual(spec.template, {
          spec: { project: 'team-a' },
          metadata: { labels: { [LABEL]: 'team-a' } },
        }),
    },
  ];
  for (const c of keep) {
    test(c.name, () => {
      const object = mutated({ metadata: { name: 'x' }, spec: c.spec });
      assert.ok(isRecord(object.spec));
      c.expect(object.spec);
    });
  }

  test('leaves an unreadable spec alone', () => {
    assert.deepEqual(mutated({ metadata: {}, spec: 'x' }), { metadata: {}, spec: 'x' });
    assert.deepEqual(mutated({ metadata: {} }), { metadata: {} });
  });
});

describe('upstream Argo CD ApplicationSet examples', () => {
  const files = readdirSync(UPSTREAM)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  test('the examples are there', () => {
    assert.ok(files.length >= 40, `found ${files.length} files under ${UPSTREAM.pathname}`);
  });

  let seen = 0;
  for (const file of files) {
    test(file, () => {
      const docs = parseAllDocuments(readFileSync(new URL(file, UPSTREAM), 'utf8')).map((d): unknown =>
        d.toJS(),
      );
      for (const doc of docs) {
        if (!isRecord(doc) || doc.kind !== 'ApplicationSet') continue;
        const once = mutated(doc);
        for (const { path, body } of clustersBodies(once)) {
          seen++;
          assert.equal(tenantSelectorOf(body), 'team-a', `${file}${path}`);
        }
        assert.deepEqual(mutated(once), once, `${file}: mutate is idempotent`);
        const findings = applicationSetRules.validate(scopeFor(once));
        assert.equal(
          findings.violations.filter((v) => v.rule === 'TG-AS-02' || v.rule === 'TG-AS-07').length,
          0,
          findings.violations.map((v) => v.message).join('\n'),
        );
      }
    });
  }

  test('clusters generators were found in the examples', () => {
    assert.ok(seen >= 5, `only ${seen} clusters generators found`);
  });
});
