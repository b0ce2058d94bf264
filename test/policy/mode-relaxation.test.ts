/**
 * What `warn` and `audit` relax, judged by the real ApplicationSet rules: only findings about
 * fields the generated Applications alone use. A red-team review found the two that the
 * ApplicationSet controller acts on itself, before any Application rule can: a literal
 * project that is not the tenant's in `spec.template` (a git generator reads its repository
 * with that project's credentials) and a `clusters` selector past the tenant's clusters (the
 * controller lists those cluster Secrets into the template's parameters). Both were admitted
 * with a warning in `warn` and silently in `audit`. A selector pinned to the tenant by
 * matchLabels can only be narrowed by its other terms: those findings are still relaxed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluate } from '../../src/policy/evaluate.js';
import type { Decision, KubeObject, PolicyContext } from '../../src/policy/types.js';
import { isRelaxable, violation, violationInEveryMode } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { tenantsYaml } from '../support/policy-fixtures.js';

/** team-b of the `team-b-warn` set in `mode`; team-a, the other tenant, enforces. */
function contextIn(mode: 'warn' | 'audit'): PolicyContext {
  const text = tenantsYaml('team-b-warn').replace('enforcement: warn', `enforcement: ${mode}`);
  assert.ok(text.includes(`enforcement: ${mode}`));
  return { registry: parseTenantsYaml(text, 'team-b-warn.yaml', 'argocd'), settings: resolveSettings({}) };
}

/** A git-generated ApplicationSet of team-b's, on its own cluster, with `project` and `selector` as given. */
function appSet(project: string, generator: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'peek', namespace: 'team-b', labels: { 'tenantguard.dev/tenant': 'team-b' } },
    spec: {
      goTemplate: true,
      generators: [generator],
      template: {
        metadata: { name: 'peek-{{.path.basename}}', labels: { 'tenantguard.dev/tenant': 'team-b' } },
        spec: {
          project,
          source: {
            repoURL: 'https://git.example.com/team-b/apps.git',
            targetRevision: 'HEAD',
            path: 'sink',
          },
          destination: { name: 'k8s-team-b-dev', namespace: 'loot' },
        },
      },
    },
  };
}

const GIT = {
  git: {
    repoURL: 'https://git.example.com/team-a/private-config.git',
    revision: 'HEAD',
    files: [{ path: '**/*.yaml' }],
  },
};

function judge(mode: 'warn' | 'audit', object: KubeObject): Decision {
  return evaluate(
    {
      uid: 'u',
      kind: 'ApplicationSet',
      operation: 'CREATE',
      namespace: 'team-b',
      name: 'peek',
      object,
      user: { username: 'bob', groups: ['team-b-admins'] },
      dryRun: false,
    },
    contextIn(mode),
  );
}

const rulesOf = (d: Decision) => (d.allowed ? [] : d.violations.map((v) => `${v.rule} ${v.path}`));

describe('warn and audit relax only what the generated Applications alone use', () => {
  for (const mode of ['warn', 'audit'] as const) {
    test(`${mode}: another tenant's literal project in spec.template is denied (the git generator reads with its credentials)`, () => {
      assert.deepEqual(rulesOf(judge(mode, appSet('team-a', GIT))), ['TG-AS-01 spec.template.spec.project']);
    });

    test(`${mode}: a literal project of no tenant (the platform's default) is denied too`, () => {
      assert.deepEqual(rulesOf(judge(mode, appSet('default', GIT))), ['TG-AS-01 spec.template.spec.project']);
    });

    test(`${mode}: a templated project is still relaxed (Argo CD reads git with no project's credentials then)`, () => {
      const d = judge(mode, appSet('{{.path.basename}}', GIT));
      assert.equal(d.allowed, true);
      assert.deepEqual(
        d.audited.map((v) => v.rule),
        ['TG-AS-01'],
      );
      assert.equal(
        d.warnings.some((w) => w.startsWith('[TG-AS-01]')),
        mode === 'warn',
      );
    });

    test(`${mode}: a clusters selector naming another tenant is denied (the controller lists those cluster Secrets)`, () => {
      const selector = { clusters: { selector: { matchLabels: { 'tenantguard.dev/tenant': 'team-a' } } } };
      assert.deepEqual(rulesOf(judge(mode, appSet('team-b', selector))), [
        'TG-AS-02 spec.generators[0].clusters.selector.matchLabels["tenantguard.dev/tenant"]',
      ]);
    });

    test(`${mode}: a selector not pinned by matchLabels is denied whatever its expressions say`, () => {
      const selector = {
        clusters: {
          selector: {
            matchExpressions: [{ key: 'tenantguard.dev/tenant', operator: 'NotIn', values: ['team-b'] }],
          },
        },
      };
      const d = judge(mode, appSet('team-b', selector));
      assert.equal(d.allowed, false);
      assert.ok(!d.allowed && d.violations.every((v) => v.rule === 'TG-AS-02'));
    });

    test(`${mode}: a templated matchLabels key is denied beside the pinned tenant (it could override it)`, () => {
      const selector = {
        clusters: { selector: { matchLabels: { 'tenantguard.dev/tenant': 'team-b', '{{.key}}': 'team-a' } } },
      };
      assert.deepEqual(rulesOf(judge(mode, appSet('team-b', selector))), [
        'TG-AS-02 spec.generators[0].clusters.selector.matchLabels["{{.key}}"]',
      ]);
    });

    test(`${mode}: an expression on the key beside matchLabels pinned to the tenant is relaxed (it can only narrow)`, () => {
      const selector = {
        clusters: {
          selector: {
            matchLabels: { 'tenantguard.dev/tenant': 'team-b' },
            matchExpressions: [{ key: 'tenantguard.dev/tenant', operator: 'Exists' }],
          },
        },
      };
      const d = judge(mode, appSet('team-b', selector));
      assert.equal(d.allowed, true);
      assert.deepEqual(
        d.audited.map((v) => v.rule),
        ['TG-AS-02'],
      );
    });

    test(`${mode}: a literal destination of another tenant is still relaxed (TG-APP-02 checks each generated Application)`, () => {
      const object = appSet('team-b', GIT);
      const spec = (object.spec as { template: { spec: Record<string, unknown> } }).template.spec;
      spec.destination = { name: 'k8s-team-a-dev', namespace: 'loot' };
      const d = judge(mode, object);
      assert.equal(d.allowed, true);
      assert.deepEqual(
        d.audited.map((v) => v.rule),
        ['TG-AS-03'],
      );
    });
  }

  test('isRelaxable: a relaxable rule unless the finding holds in every mode; never another rule', () => {
    assert.equal(isRelaxable(violation('TG-AS-01', 'p', 'd')), true);
    assert.equal(isRelaxable(violationInEveryMode('TG-AS-01', 'p', 'd')), false);
    assert.equal(isRelaxable(violation('TG-AS-02', 'p', 'd')), true);
    assert.equal(isRelaxable(violationInEveryMode('TG-AS-02', 'p', 'd')), false);
    assert.equal(isRelaxable(violation('TG-AS-03', 'p', 'd')), true);
    assert.equal(isRelaxable(violation('TG-APP-02', 'p', 'd')), false);
  });
});
