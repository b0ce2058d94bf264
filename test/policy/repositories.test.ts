/**
 * TG-APP-05 and TG-AS-10: a tenant with `spec.sourceRepos` fetches only its repositories,
 * through every field Argo CD fetches from. Through `evaluate`, as the webhook runs it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { GuardedKind, KubeObject, PolicyContext, PolicyRequest } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { judgeLines, tenantApplication } from '../support/policy-fixtures.js';

const TENANTS = `
apiVersion: tenantguard.dev/v1alpha1
kind: Tenant
metadata: { name: team-a }
spec:
  owners: { groups: [team-a-admins] }
  namespaces: [team-a]
  projects: [team-a]
  sourceRepos: ['https://git.example.com/team-a/*', 'https://charts.example.com/team-a/**']
  clusters: [{ name: k8s-team-a-dev, server: https://team-a-dev.example.com }]
---
apiVersion: tenantguard.dev/v1alpha1
kind: Tenant
metadata: { name: team-b }
spec:
  owners: { groups: [team-b-admins] }
  namespaces: [team-b]
  projects: [team-b]
  enforcement: warn
  sourceRepos: ['https://git.example.com/team-b/*']
  clusters: [{ name: k8s-team-b-dev, server: https://team-b-dev.example.com }]
---
apiVersion: tenantguard.dev/v1alpha1
kind: Tenant
metadata: { name: team-c }
spec:
  owners: { groups: [team-c-admins] }
  namespaces: [team-c]
  projects: [team-c]
  clusters: [{ name: k8s-team-c-dev, server: https://team-c-dev.example.com }]
`;
const settings = resolveSettings({});
const context: PolicyContext = { registry: parseTenantsYaml(TENANTS, 'test', 'argocd'), settings };
const OWNERS: Record<string, { username: string; groups: string[] }> = {
  'team-a': { username: 'alice', groups: ['team-a-admins'] },
  'team-b': { username: 'bob', groups: ['team-b-admins'] },
  'team-c': { username: 'carol', groups: ['team-c-admins'] },
};
const OWN = { repoURL: 'https://git.example.com/team-a/apps.git', path: 'guestbook', targetRevision: 'HEAD' };
const FOREIGN = {
  repoURL: 'https://git.example.com/team-b/private.git',
  path: 'secrets',
  targetRevision: 'HEAD',
};

const app = (tenant: string, spec: object = {}, extra: object = {}): KubeObject =>
  tenantApplication(tenant, OWN, spec, extra);

function appSet(tenant: string, generators: unknown[], templateSpec: object = {}): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'set', namespace: tenant, labels: { 'tenantguard.dev/tenant': tenant } },
    spec: {
      goTemplate: true,
      generators,
      template: {
        metadata: { name: '{{ .path.basename }}', labels: { 'tenantguard.dev/tenant': tenant } },
        spec: {
          project: tenant,
          source: OWN,
          destination: { name: `k8s-${tenant}-dev`, namespace: 'g' },
          ...templateSpec,
        },
      },
    },
  };
}

function judge(kind: GuardedKind, object: KubeObject, more: Partial<PolicyRequest> = {}) {
  const namespace = (object.metadata as { namespace: string }).namespace;
  return judgeLines(context, { kind, object, user: OWNERS[namespace] ?? OWNERS['team-a']!, ...more });
}

describe('TG-APP-05: Applications fetch only the tenant repositories', () => {
  const cases: Array<{ name: string; spec: object; extra?: object; denying: string[] }> = [
    { name: 'its own repository', spec: {}, denying: [] },
    {
      name: 'another tenant repository',
      spec: { source: FOREIGN },
      denying: ['TG-APP-05 spec.source.repoURL'],
    },
    {
      name: 'one source of several',
      spec: {
        source: undefined,
        sources: [OWN, { repoURL: 'https://charts.example.com/team-b', chart: 'x' }],
      },
      denying: ['TG-APP-05 spec.sources[1].repoURL'],
    },
    {
      name: 'a Helm repository under a ** pattern',
      spec: { source: { repoURL: 'https://charts.example.com/team-a/stable/x', chart: 'x' } },
      denying: [],
    },
    {
      name: 'a dot segment out of its own',
      spec: { source: { ...OWN, repoURL: 'https://git.example.com/team-a/../team-b/private' } },
      denying: ['TG-APP-05 spec.source.repoURL'],
    },
    {
      name: "the hydrator's dry source of another tenant (blocks that tenant's hydration)",
      spec: {
        source: undefined,
        sourceHydrator: { drySource: FOREIGN, syncSource: { targetBranch: 'env/dev', path: 'env/dev' } },
      },
      denying: ['TG-APP-05 spec.sourceHydrator.drySource.repoURL'],
    },
    {
      name: "the hydrator's sync repository of another tenant",
      spec: {
        source: undefined,
        sourceHydrator: {
          drySource: OWN,
          syncSource: { repoURL: FOREIGN.repoURL, targetBranch: 'b', path: 'p' },
        },
      },
      denying: ['TG-APP-05 spec.sourceHydrator.syncSource.repoURL'],
    },
    {
      name: 'a repoURL that is no string',
      spec: { source: { repoURL: 7 } },
      denying: ['TG-REQ-01 spec.source.repoURL'],
    },
  ];
  for (const c of cases)
    test(c.name, () => assert.deepEqual(judge('Application', app('team-a', c.spec)).denying, c.denying));

  test('a spec change and a sync in one write (the race Argo CD loses) is denied', () => {
    const verdict = judge('Application', app('team-a', { source: FOREIGN }, { operation: { sync: {} } }), {
      oldObject: app('team-a'),
    });
    assert.deepEqual(verdict.denying, ['TG-APP-05 spec.source.repoURL']);
  });

  test("argocd-server's rollback to a repository the tenant no longer lists is denied", () => {
    const verdict = judge('Application', app('team-a', {}, { operation: { sync: { source: FOREIGN } } }), {
      oldObject: app('team-a'),
      user: { username: 'system:serviceaccount:argocd:argocd-server', groups: [] },
    });
    assert.deepEqual(verdict.denying, ['TG-APP-05 operation.sync.source.repoURL']);
  });

  test('a warn-mode tenant is denied all the same', () => {
    assert.deepEqual(judge('Application', app('team-b', { source: OWN })).denying, [
      'TG-APP-05 spec.source.repoURL',
    ]);
  });

  test('a tenant without sourceRepos may fetch any repository; a platform admin is audited', () => {
    assert.deepEqual(judge('Application', app('team-c', { source: FOREIGN })).denying, []);
    const admin = judge('Application', app('team-a', { source: FOREIGN }), {
      user: { username: 'root', groups: ['platform-admins'] },
    });
    assert.deepEqual([admin.denying, admin.audited], [[], ['TG-APP-05 spec.source.repoURL']]);
  });

  test('a list of sources past the bound is denied, not read in part', () => {
    const sources = Array.from({ length: 257 }, () => OWN);
    assert.deepEqual(judge('Application', app('team-a', { source: undefined, sources })).denying, [
      'TG-REQ-01 spec.sources',
    ]);
  });
});

describe('TG-AS-10: ApplicationSets read and template only the tenant repositories', () => {
  const git = (repoURL: string) => ({ git: { repoURL, revision: 'HEAD', files: [{ path: '**/*.yaml' }] } });

  test('a git generator of its own repository, and a template of its own', () => {
    assert.deepEqual(judge('ApplicationSet', appSet('team-a', [git(OWN.repoURL)])).denying, []);
  });

  test("a git generator reading another tenant's repository, at the top and nested", () => {
    assert.deepEqual(judge('ApplicationSet', appSet('team-a', [git(FOREIGN.repoURL)])).denying, [
      'TG-AS-10 spec.generators[0].git.repoURL',
    ]);
    const nested = [
      {
        matrix: {
          generators: [
            { list: { elements: [{ a: 'b' }] } },
            { merge: { mergeKeys: ['a'], generators: [git(FOREIGN.repoURL), { list: { elements: [] } }] } },
          ],
        },
      },
    ];
    assert.deepEqual(judge('ApplicationSet', appSet('team-a', nested)).denying, [
      'TG-AS-10 spec.generators[0].matrix.generators[1].merge.generators[0].git.repoURL',
    ]);
  });

  test('a templated git repository is denied: the controller reads it before any Application', () => {
    const generators = [
      { matrix: { generators: [{ list: { elements: [{ repo: FOREIGN.repoURL }] } }, git('{{ .repo }}')] } },
    ];
    assert.deepEqual(judge('ApplicationSet', appSet('team-a', generators)).denying, [
      'TG-AS-10 spec.generators[0].matrix.generators[1].git.repoURL',
    ]);
  });

  test('a literal template repository of another tenant is denied; a templated one is a warning', () => {
    assert.deepEqual(
      judge('ApplicationSet', appSet('team-a', [{ list: { elements: [{ a: 'b' }] } }], { source: FOREIGN }))
        .denying,
      ['TG-AS-10 spec.template.spec.source.repoURL'],
    );
    const computed = judge(
      'ApplicationSet',
      appSet('team-a', [{ list: { elements: [{ a: 'b' }] } }], {
        source: { ...OWN, repoURL: '{{ .repo }}' },
      }),
    );
    assert.deepEqual(computed.denying, []);
    assert.ok(
      computed.warnings.some((w) => w.startsWith('[TG-AS-10] spec.template.spec.source.repoURL')),
      computed.warnings.join('\n'),
    );
  });

  test('a warn-mode tenant is denied all the same; a tenant without sourceRepos is not checked', () => {
    assert.deepEqual(
      judge(
        'ApplicationSet',
        appSet('team-b', [git(OWN.repoURL)], {
          source: { ...OWN, repoURL: 'https://git.example.com/team-b/x' },
        }),
      ).denying,
      ['TG-AS-10 spec.generators[0].git.repoURL'],
    );
    assert.deepEqual(judge('ApplicationSet', appSet('team-c', [git(FOREIGN.repoURL)])).denying, []);
  });
});
