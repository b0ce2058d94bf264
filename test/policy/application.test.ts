import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applicationRules } from '../../src/policy/application.js';
import type {
  KubeObject,
  PolicyContext,
  PolicyRequest,
  RequesterRole,
  RuleScope,
} from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { editObject } from '../../src/policy/object-edit.js';
import { deepFreeze } from '../support/deep-freeze.js';
import { policyContext } from '../support/policy-fixtures.js';

const settings = resolveSettings({});
const context: PolicyContext = policyContext('two-teams', settings);

function app(spec: unknown, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'guestbook', namespace: 'team-a', labels },
    spec,
  };
}

function scopeOf(
  request: Partial<PolicyRequest>,
  tenant: string | undefined,
  role: RequesterRole = 'human',
): RuleScope {
  const full: PolicyRequest = {
    uid: 'u',
    kind: 'Application',
    operation: 'CREATE',
    namespace: 'team-a',
    name: 'guestbook',
    user: { username: 'alice', groups: ['team-a-admins'] },
    dryRun: false,
    ...request,
  };
  return {
    request: full,
    tenant: tenant === undefined ? undefined : context.registry.tenant(tenant),
    role,
    context,
  };
}

const violationsOf = (scope: RuleScope) => applicationRules.validate(scope).violations;

describe('Application rules (TG-APP-01, TG-APP-02)', () => {
  const cases: Array<{ name: string; spec: unknown; tenant: string | undefined; rules: string[] }> = [
    {
      name: 'own project and cluster by name',
      spec: { project: 'team-a', destination: { name: 'k8s-team-a-dev', namespace: 'guestbook' } },
      tenant: 'team-a',
      rules: [],
    },
    {
      name: 'second project, cluster by server',
      spec: { project: 'team-a-extra', destination: { server: 'https://team-a-prod.example.com' } },
      tenant: 'team-a',
      rules: [],
    },
    {
      name: 'server compared normalised',
      spec: { project: 'team-a', destination: { server: 'HTTPS://Team-A-Dev.example.com.:443/' } },
      tenant: 'team-a',
      rules: [],
    },
    {
      name: 'empty name beside a server counts as unset',
      spec: { project: 'team-a', destination: { server: 'https://team-a-dev.example.com', name: '' } },
      tenant: 'team-a',
      rules: [],
    },
    {
      name: 'multi-source app with one destination',
      spec: {
        project: 'team-a',
        sources: [{ repoURL: 'https://git.example.com/a' }, { repoURL: 'https://git.example.com/b' }],
        destination: { name: 'k8s-team-a-prod' },
      },
      tenant: 'team-a',
      rules: [],
    },
    {
      name: "APP-01 another tenant's project",
      spec: { project: 'team-b', destination: { name: 'k8s-team-a-dev' } },
      tenant: 'team-a',
      rules: ['TG-APP-01'],
    },
    {
      name: 'APP-01 the default project',
      spec: { project: 'default', destination: { name: 'k8s-team-a-dev' } },
      tenant: 'team-a',
      rules: ['TG-APP-01'],
    },
    {
      name: 'APP-01 project missing',
      spec: { destination: { name: 'k8s-team-a-dev' } },
      tenant: 'team-a',
      rules: ['TG-APP-01'],
    },
    {
      name: "APP-02 another tenant's cluster by name",
      spec: { project: 'team-a', destination: { name: 'k8s-team-b-dev' } },
      tenant: 'team-a',
      rules: ['TG-APP-02'],
    },
    {
      name: "APP-02 another tenant's cluster by server spelling",
      spec: { project: 'team-a', destination: { server: 'https://TEAM-B-DEV.example.com/' } },
      tenant: 'team-a',
      rules: ['TG-APP-02'],
    },
    {
      name: 'APP-02 unknown cluster',
      spec: { project: 'team-a', destination: { server: 'https://elsewhere.example.com' } },
      tenant: 'team-a',
      rules: ['TG-APP-02'],
    },
    {
      name: 'APP-02 in-cluster',
      spec: { project: 'team-a', destination: { name: 'in-cluster' } },
      tenant: 'team-a',
      rules: ['TG-APP-02'],
    },
    {
      name: 'APP-02 control plane by a longer spelling',
      spec: {
        project: 'team-a',
        destination: { server: 'https://kubernetes.default.svc.cluster.local:443' },
      },
      tenant: 'team-a',
      rules: ['TG-APP-02'],
    },
    {
      name: 'APP-02 both server and name',
      spec: {
        project: 'team-a',
        destination: { server: 'https://team-a-dev.example.com', name: 'k8s-team-a-dev' },
      },
      tenant: 'team-a',
      rules: ['TG-APP-02'],
    },
    {
      name: 'APP-02 both, one foreign',
      spec: {
        project: 'team-a',
        destination: { server: 'https://team-a-dev.example.com', name: 'k8s-team-b-dev' },
      },
      tenant: 'team-a',
      rules: ['TG-APP-02', 'TG-APP-02'],
    },
    {
      name: 'APP-02 neither server nor name',
      spec: { project: 'team-a', destination: { namespace: 'x' } },
      tenant: 'team-a',
      rules: ['TG-APP-02'],
    },
    {
      name: 'APP-02 destination missing',
      spec: { project: 'team-a' },
      tenant: 'team-a',
      rules: ['TG-APP-02'],
    },
    {
      name: 'APP-01 and APP-02 together',
      spec: { project: 'team-b', destination: { name: 'k8s-team-b-prod' } },
      tenant: 'team-a',
      rules: ['TG-APP-01', 'TG-APP-02'],
    },
    {
      name: 'platform object to the control plane',
      spec: { project: 'default', destination: { server: 'https://kubernetes.default.svc' } },
      tenant: undefined,
      rules: [],
    },
    {
      name: 'platform object to an unregistered cluster',
      spec: { project: 'default', destination: { name: 'shared-tools' } },
      tenant: undefined,
      rules: [],
    },
    {
      name: 'APP-02 platform object to a tenant cluster by name',
      spec: { project: 'default', destination: { name: 'k8s-team-a-dev' } },
      tenant: undefined,
      rules: ['TG-APP-02'],
    },
    {
      name: 'APP-02 platform object to a tenant cluster by server spelling',
      spec: { project: 'default', destination: { server: 'https://team-b-prod.example.com:443/' } },
      tenant: undefined,
      rules: ['TG-APP-02'],
    },
    {
      name: 'REQ-01 destination is a string',
      spec: { project: 'team-a', destination: 'k8s-team-a-dev' },
      tenant: 'team-a',
      rules: ['TG-REQ-01'],
    },
    {
      name: 'REQ-01 destination server is a number',
      spec: { project: 'team-a', destination: { server: 443 } },
      tenant: 'team-a',
      rules: ['TG-REQ-01'],
    },
    { name: 'REQ-01 spec missing', spec: undefined, tenant: 'team-a', rules: ['TG-REQ-01'] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(
        violationsOf(scopeOf({ object: app(c.spec) }, c.tenant)).map((v) => v.rule),
        c.rules,
      );
    });
  }

  test("denial line names the value and the tenant's clusters", () => {
    const [v] = violationsOf(
      scopeOf({ object: app({ project: 'team-a', destination: { name: 'k8s-team-b-dev' } }) }, 'team-a'),
    );
    assert.equal(v?.path, 'spec.destination.name');
    assert.equal(
      v?.message,
      'spec.destination.name "k8s-team-b-dev" is not a cluster of tenant "team-a"; use one of: k8s-team-a-dev, k8s-team-a-prod',
    );
  });

  test("APP-01 line lists the tenant's projects", () => {
    const [v] = violationsOf(
      scopeOf({ object: app({ project: 'team-b', destination: { name: 'k8s-team-a-dev' } }) }, 'team-a'),
    );
    assert.equal(
      v?.message,
      'spec.project "team-b" is not a project of tenant "team-a"; use one of: team-a, team-a-extra',
    );
  });

  test('the same rules hold for a trusted service account and are reported for an admin', () => {
    const object = app({ project: 'team-a', destination: { name: 'in-cluster' } });
    assert.deepEqual(
      violationsOf(scopeOf({ object }, 'team-a', 'trusted-service-account')).map((v) => v.rule),
      ['TG-APP-02'],
    );
    assert.deepEqual(
      violationsOf(scopeOf({ object }, 'team-a', 'platform-admin')).map((v) => v.rule),
      ['TG-APP-02'],
    );
  });

  test("DELETE reports nothing (ownership is evaluate's)", () => {
    const oldObject = app({ project: 'team-b', destination: { name: 'in-cluster' } });
    assert.deepEqual(violationsOf(scopeOf({ operation: 'DELETE', oldObject }, 'team-a')), []);
  });

  test('UPDATE checks the new object', () => {
    const oldObject = app({ project: 'team-a', destination: { name: 'k8s-team-a-dev' } });
    const object = app({ project: 'team-a', destination: { name: 'k8s-team-b-dev' } });
    assert.deepEqual(
      violationsOf(scopeOf({ operation: 'UPDATE', oldObject, object }, 'team-a')).map((v) => v.rule),
      ['TG-APP-02'],
    );
  });
});

describe('Application namedTenant, hasMaterialChange, mutate', () => {
  test('names the tenant listing its project', () => {
    assert.equal(applicationRules.namedTenant(app({ project: 'team-a-extra' }), context)?.name, 'team-a');
    assert.equal(applicationRules.namedTenant(app({ project: 'team-b' }), context)?.name, 'team-b');
    assert.equal(applicationRules.namedTenant(app({ project: 'default' }), context), undefined);
    assert.equal(applicationRules.namedTenant(app({ project: ['team-a'] }), context), undefined);
  });

  const base = app(
    { project: 'team-a', destination: { name: 'k8s-team-a-dev' } },
    { [settings.tenantLabel]: 'team-a' },
  );
  const cases: Array<{ name: string; next: KubeObject; material: boolean }> = [
    {
      name: 'status only',
      next: { ...structuredClone(base), status: { sync: { status: 'Synced' } } },
      material: false,
    },
    { name: 'operation only', next: { ...structuredClone(base), operation: { sync: {} } }, material: false },
    {
      name: 'another label',
      next: app(base.spec, { [settings.tenantLabel]: 'team-a', other: 'x' }),
      material: false,
    },
    {
      name: 'the destination',
      next: app(
        { project: 'team-a', destination: { name: 'k8s-team-b-dev' } },
        { [settings.tenantLabel]: 'team-a' },
      ),
      material: true,
    },
    { name: 'the tenant label', next: app(base.spec, { [settings.tenantLabel]: 'team-b' }), material: true },
  ];
  for (const c of cases) {
    test(`UPDATE changing ${c.name} is ${c.material ? '' : 'not '}material`, () => {
      assert.equal(applicationRules.hasMaterialChange(base, c.next, context), c.material);
    });
  }

  test('mutate adds nothing', () => {
    const object = app({ project: 'team-a', destination: { name: 'k8s-team-a-dev' } });
    const original = deepFreeze(structuredClone(object));
    const tenant = context.registry.tenant('team-a');
    assert.ok(tenant !== undefined);
    const edit = editObject(original);
    applicationRules.mutate(edit, { ...scopeOf({ object: original }, 'team-a'), tenant });
    assert.deepEqual(edit.object, object);
  });
});

describe('TG-APP-03: controller ownerReferences to an ApplicationSet', () => {
  const APPSET_CONTROLLER = {
    username: 'system:serviceaccount:argocd:argocd-applicationset-controller',
    groups: [],
  };
  const SERVER = { username: 'system:serviceaccount:argocd:argocd-server', groups: [] };
  const ref = (name: string, uid: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
    ...extra,
  });
  const owned = (...refs: unknown[]): KubeObject => {
    const o = app({ project: 'team-a', destination: { name: 'k8s-team-a-dev' } });
    (o.metadata as Record<string, unknown>).ownerReferences = refs;
    return o;
  };
  const whoMayOf = (scope: RuleScope) => (applicationRules.whoMay?.(scope) ?? []).map((v) => v.rule);
  const cases: Array<{
    name: string;
    request: Partial<PolicyRequest>;
    role?: RequesterRole;
    rules: string[];
  }> = [
    {
      name: 'the ApplicationSet controller creates with its reference',
      request: { user: APPSET_CONTROLLER, object: owned(ref('apps', 'u1')) },
      role: 'trusted-service-account',
      rules: [],
    },
    {
      name: 'the ApplicationSet controller re-adds it after its ApplicationSet is re-created',
      request: {
        operation: 'UPDATE',
        user: APPSET_CONTROLLER,
        oldObject: owned(ref('apps', 'u1')),
        object: owned(ref('apps', 'u2')),
      },
      role: 'trusted-service-account',
      rules: [],
    },
    {
      name: 'an owner keeps the reference as it is',
      request: {
        operation: 'UPDATE',
        oldObject: owned(ref('apps', 'u1')),
        object: owned(ref('apps', 'u1', { blockOwnerDeletion: false })),
      },
      rules: [],
    },
    {
      name: 'an owner removes the reference (orphaning)',
      request: { operation: 'UPDATE', oldObject: owned(ref('apps', 'u1')), object: owned() },
      rules: [],
    },
    {
      name: "a reference that is not a controller is not this rule's",
      request: {
        operation: 'UPDATE',
        oldObject: owned(),
        object: owned(ref('apps', 'u1', { controller: false })),
      },
      rules: [],
    },
    {
      name: 'APP-03 an owner adds one',
      request: { operation: 'UPDATE', oldObject: owned(), object: owned(ref('evil', 'u9')) },
      rules: ['TG-APP-03'],
    },
    {
      name: 'APP-03 an owner creates with one',
      request: { object: owned(ref('evil', 'u9')) },
      rules: ['TG-APP-03'],
    },
    {
      name: 'APP-03 argocd-server changes it to another ApplicationSet',
      request: {
        operation: 'UPDATE',
        user: SERVER,
        oldObject: owned(ref('apps', 'u1')),
        object: owned(ref('evil', 'u9')),
      },
      role: 'trusted-service-account',
      rules: ['TG-APP-03'],
    },
    {
      name: 'APP-03 turning a plain reference into the controller',
      request: {
        operation: 'UPDATE',
        oldObject: owned(ref('apps', 'u1', { controller: false })),
        object: owned(ref('apps', 'u1')),
      },
      rules: ['TG-APP-03'],
    },
    {
      name: "DELETE is not this rule's",
      request: { operation: 'DELETE', oldObject: owned(ref('evil', 'u9')) },
      rules: [],
    },
  ];
  for (const c of cases)
    test(c.name, () => assert.deepEqual(whoMayOf(scopeOf(c.request, 'team-a', c.role)), c.rules));

  test('the line names the ApplicationSet and who may', () => {
    const [v] = applicationRules.whoMay?.(scopeOf({ object: owned(ref('evil', 'u9')) }, 'team-a')) ?? [];
    assert.equal(
      v?.message,
      'metadata.ownerReferences[0] adds a controller reference to ApplicationSet "evil"; only the ApplicationSet controller ("system:serviceaccount:argocd:argocd-applicationset-controller") and platform admins may set it (removing one is allowed)',
    );
  });
});
