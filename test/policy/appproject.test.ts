import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appProjectRules, globLiteral } from '../../src/policy/appproject.js';
import type {
  KubeObject,
  Operation,
  PolicyContext,
  PolicyRequest,
  RequesterRole,
  RuleScope,
} from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { policyContext } from '../support/policy-fixtures.js';

const settings = resolveSettings({});
const context: PolicyContext = policyContext('extra-namespace', settings);
const SA = { username: 'system:serviceaccount:argocd:argocd-server', groups: [] };

function project(name: string, spec: unknown, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AppProject',
    metadata: { name, namespace: 'argocd', labels },
    spec,
  };
}

function scopeOf(
  object: KubeObject,
  role: RequesterRole,
  operation: Operation = 'CREATE',
  tenant: string | undefined = 'team-a',
): RuleScope {
  const name = String((object.metadata as { name?: unknown }).name);
  const base: PolicyRequest = {
    uid: 'u',
    kind: 'AppProject',
    operation,
    namespace: 'argocd',
    name,
    user: role === 'human' ? { username: 'alice', groups: ['team-a-admins'] } : SA,
    dryRun: false,
  };
  const request: PolicyRequest =
    operation === 'DELETE'
      ? { ...base, oldObject: object }
      : operation === 'UPDATE'
        ? { ...base, oldObject: object, object }
        : { ...base, object };
  return {
    request,
    tenant: tenant === undefined ? undefined : context.registry.tenant(tenant),
    role,
    context,
  };
}

/** What the kind reports: its who-may clauses, then its target rules (evaluate's order). */
const violationsOf = (scope: RuleScope) => [
  ...(appProjectRules.whoMay?.(scope) ?? []),
  ...appProjectRules.validate(scope).violations,
];
const rulesOf = (scope: RuleScope) => violationsOf(scope).map((v) => v.rule);

const GOOD = {
  sourceRepos: ['*'],
  destinations: [
    { name: 'k8s-team-a-dev', namespace: '*' },
    { server: 'https://team-a-prod.example.com', namespace: 'apps-*' },
  ],
  sourceNamespaces: ['team-a', 'team-a-apps'],
};
const withDestinations = (...destinations: unknown[]) => ({ ...GOOD, destinations });

describe('AppProject rule (TG-PRJ-01)', () => {
  const cases: Array<{
    name: string;
    object: KubeObject;
    role: RequesterRole;
    operation?: Operation;
    tenant?: string | undefined;
    rules: string[];
  }> = [
    {
      name: 'trusted SA writes a tenant project naming its own clusters',
      object: project('team-a', GOOD),
      role: 'trusted-service-account',
      rules: [],
    },
    {
      name: 'trusted SA updates it',
      object: project('team-a', GOOD),
      role: 'trusted-service-account',
      operation: 'UPDATE',
      rules: [],
    },
    { name: 'platform admin writes it', object: project('team-a', GOOD), role: 'platform-admin', rules: [] },
    {
      name: 'trusted SA deletes it',
      object: project('team-a', GOOD),
      role: 'trusted-service-account',
      operation: 'DELETE',
      rules: [],
    },
    {
      name: 'argocd-server creates the default project with * (globs name no cluster)',
      object: project('default', {
        destinations: [{ server: '*', namespace: '*' }],
        sourceNamespaces: ['*'],
      }),
      role: 'trusted-service-account',
      tenant: undefined,
      rules: [],
    },
    {
      name: 'TG-PRJ-02 a human creates a project no tenant lists',
      object: project('mine', { destinations: [{ server: '*', namespace: '*' }] }),
      role: 'human',
      tenant: undefined,
      rules: ['TG-PRJ-02'],
    },
    {
      name: 'TG-PRJ-02 a human changes a project no tenant lists',
      object: project('default', { destinations: [{ server: '*', namespace: '*' }] }),
      role: 'human',
      operation: 'UPDATE',
      tenant: undefined,
      rules: ['TG-PRJ-02'],
    },
    {
      name: 'TG-PRJ-02 a human deletes a project no tenant lists',
      object: project('default', {}),
      role: 'human',
      operation: 'DELETE',
      tenant: undefined,
      rules: ['TG-PRJ-02'],
    },
    {
      name: "TG-PRJ-02 a platform project names a tenant's cluster by name",
      object: project('platform', { destinations: [{ name: 'k8s-team-a-dev', namespace: '*' }] }),
      role: 'trusted-service-account',
      tenant: undefined,
      rules: ['TG-PRJ-02'],
    },
    {
      name: "TG-PRJ-02 a platform project names a tenant's server, spelled otherwise",
      object: project('platform', {
        destinations: [{ server: 'HTTPS://team-b-prod.example.com:443/', namespace: '*' }],
      }),
      role: 'trusted-service-account',
      tenant: undefined,
      rules: ['TG-PRJ-02'],
    },
    {
      // Found by a red-team review: Argo CD's glob library reads `\b` as `b`, so this entry
      // is team-b's cluster, while the exact lookup saw an unregistered name.
      name: "TG-PRJ-02 a platform project names a tenant's cluster and server through glob escapes",
      object: project('platform', {
        destinations: [
          { name: 'k8s-team-\\b-dev', namespace: '*' },
          { server: 'https://team-b-prod\\.example.com', namespace: '*' },
        ],
      }),
      role: 'trusted-service-account',
      tenant: undefined,
      rules: ['TG-PRJ-02', 'TG-PRJ-02'],
    },
    {
      name: 'a platform project may hold a glob with an escaped character (a glob names none)',
      object: project('platform', { destinations: [{ name: 'k8s-\\*-*', namespace: '*' }] }),
      role: 'trusted-service-account',
      tenant: undefined,
      rules: [],
    },
    {
      name: 'a platform project may name the control plane',
      object: project('platform', {
        destinations: [
          { server: 'https://kubernetes.default.svc', namespace: '*' },
          { name: 'in-cluster', namespace: '*' },
        ],
      }),
      role: 'trusted-service-account',
      tenant: undefined,
      rules: [],
    },
    {
      name: 'source namespace as a regular expression',
      object: project('team-a', { ...GOOD, sourceNamespaces: ['/team-a/'] }),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'no destinations at all',
      object: project('team-a', { sourceRepos: ['*'] }),
      role: 'trusted-service-account',
      rules: [],
    },
    {
      name: 'human creates a tenant project',
      object: project('team-a', GOOD),
      role: 'human',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'human changes a tenant project',
      object: project('team-a', GOOD),
      role: 'human',
      operation: 'UPDATE',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'human deletes a tenant project',
      object: project('team-a', GOOD),
      role: 'human',
      operation: 'DELETE',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'server glob',
      object: project('team-a', withDestinations({ server: '*', namespace: '*' })),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'name glob',
      object: project('team-a', withDestinations({ name: 'k8s-team-a-*', namespace: '*' })),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'brace glob in a server',
      object: project('team-a', withDestinations({ server: 'https://team-{a,b}-dev.example.com' })),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'negated entry',
      object: project('team-a', withDestinations({ name: '!k8s-team-b-dev', namespace: '*' })),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: "another tenant's cluster by name",
      object: project('team-a', withDestinations({ name: 'k8s-team-b-dev', namespace: '*' })),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: "another tenant's cluster by server",
      object: project(
        'team-a',
        withDestinations({ server: 'https://team-b-prod.example.com', namespace: '*' }),
      ),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'in-cluster',
      object: project('team-a', withDestinations({ name: 'in-cluster', namespace: '*' })),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'the control plane server',
      object: project(
        'team-a',
        withDestinations({ server: 'https://kubernetes.default.svc', namespace: 'team-a' }),
      ),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'an entry naming no cluster',
      object: project('team-a', withDestinations({ namespace: 'team-a' })),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'each field of an entry is checked',
      object: project(
        'team-a',
        withDestinations({ name: 'k8s-team-a-dev', server: 'https://team-b-dev.example.com' }),
      ),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'source namespace glob',
      object: project('team-a', { ...GOOD, sourceNamespaces: ['team-*'] }),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: "another tenant's source namespace",
      object: project('team-a', { ...GOOD, sourceNamespaces: ['team-a', 'team-b'] }),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'the Argo CD namespace as a source namespace',
      object: project('team-a', { ...GOOD, sourceNamespaces: ['argocd'] }),
      role: 'trusted-service-account',
      rules: ['TG-PRJ-01'],
    },
    {
      name: 'human and a bad destination: both reported',
      object: project('team-a', withDestinations({ server: '*' })),
      role: 'human',
      rules: ['TG-PRJ-01', 'TG-PRJ-01'],
    },
    {
      name: 'REQ-01 destinations not a list',
      object: project('team-a', { destinations: { name: 'k8s-team-a-dev' } }),
      role: 'trusted-service-account',
      rules: ['TG-REQ-01'],
    },
    {
      name: 'REQ-01 a destination entry not an object',
      object: project('team-a', withDestinations('k8s-team-a-dev')),
      role: 'trusted-service-account',
      rules: ['TG-REQ-01'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(
        rulesOf(scopeOf(c.object, c.role, c.operation, 'tenant' in c ? c.tenant : 'team-a')),
        c.rules,
      );
    });
  }

  test('the human line says who may', () => {
    const [v] = violationsOf(scopeOf(project('team-a', GOOD), 'human'));
    assert.equal(
      v?.message,
      'metadata.name "team-a" is a project of tenant "team-a"; user "alice" may not create it: only platform admins and the trusted service accounts may',
    );
  });

  test("a foreign destination line names the tenant's clusters, not the other tenant", () => {
    const [v] = appProjectRules.validate(
      scopeOf(project('team-a', withDestinations({ name: 'k8s-team-b-dev' })), 'trusted-service-account'),
    ).violations;
    assert.equal(v?.path, 'spec.destinations[0].name');
    assert.equal(
      v?.message,
      'spec.destinations[0].name "k8s-team-b-dev" is not a cluster of tenant "team-a"; use one of: k8s-team-a-dev, k8s-team-a-prod',
    );
  });
});

describe('AppProject namedTenant, hasMaterialChange', () => {
  test('names the tenant listing it', () => {
    assert.equal(appProjectRules.namedTenant(project('team-b', {}), context)?.name, 'team-b');
    assert.equal(appProjectRules.namedTenant(project('default', {}), context), undefined);
  });

  test("spec changes are material (labels are evaluate's), status is not", () => {
    const base = project('team-a', GOOD, { [settings.tenantLabel]: 'team-a' });
    assert.equal(
      appProjectRules.hasMaterialChange(
        base,
        { ...structuredClone(base), status: { jwtTokensByRole: {} } },
        context,
      ),
      false,
    );
    assert.equal(
      appProjectRules.hasMaterialChange(
        base,
        project('team-a', withDestinations({ server: '*' }), { [settings.tenantLabel]: 'team-a' }),
        context,
      ),
      true,
    );
  });

  test('the tenant is only ever the listing tenant (tenantIsNamedOnly)', () => {
    assert.equal(appProjectRules.tenantIsNamedOnly, true);
  });
});

describe('globLiteral', () => {
  test('reads escapes as the glob library does; a glob character makes no literal', () => {
    assert.equal(globLiteral('k8s-team-\\b-dev'), 'k8s-team-b-dev');
    assert.equal(globLiteral('a\\*b'), 'a*b');
    assert.equal(globLiteral('a\\\\b'), 'a\\b');
    assert.equal(globLiteral('plain'), 'plain');
    for (const glob of ['a*', '?', '[ab]', '{a,b}', '!a', 'a\\*b*'])
      assert.equal(globLiteral(glob), undefined, glob);
  });
});
