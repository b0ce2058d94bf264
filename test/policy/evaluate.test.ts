import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluate, guardedKindOf, mutate, type KindRulesTable } from '../../src/policy/evaluate.js';
import { MAX_COMPARED_VIOLATIONS } from '../../src/policy/update-changes.js';
import type {
  Findings,
  KindRules,
  KubeObject,
  PolicyContext,
  PolicyRequest,
  RuleScope,
  Violation,
} from '../../src/policy/types.js';
import { violation } from '../../src/policy/types.js';
import { policyContext } from '../support/policy-fixtures.js';

const context: PolicyContext = policyContext('owner-user-warn');

/**
 * A stand-in kind: names its tenant through `spec.project`, reports the violations listed in
 * `spec.fail` (at `spec.failAt`) and a TG-CS-04 at `spec.<requires>` when that key is
 * missing, records the scope it was given. Lets the ownership, mode and bypass logic be
 * tested apart from the real kinds.
 */
function probeRules(): KindRules & { scopes: RuleScope[] } {
  const scopes: RuleScope[] = [];
  return {
    kind: 'Application',
    scopes,
    namedTenant: (object, ctx) => {
      const project = (object.spec as { project?: unknown } | undefined)?.project;
      return typeof project === 'string' ? ctx.registry.tenantByProject(project) : undefined;
    },
    hasMaterialChange: (a, b) =>
      JSON.stringify(a.spec) !== JSON.stringify(b.spec) ||
      JSON.stringify(a.metadata) !== JSON.stringify(b.metadata),
    mutate: (edit) => {
      edit.child(edit.object, 'spec')!.mutated = true;
    },
    validate: (scope): Findings => {
      scopes.push(scope);
      const o = scope.request.object ?? scope.request.oldObject ?? {};
      const spec = o.spec as Record<string, unknown> & {
        fail?: string[];
        failAt?: string;
        requires?: string;
      };
      const fail = (spec?.fail ?? []) as Violation['rule'][];
      const missing =
        spec?.requires !== undefined && spec[spec.requires] === undefined
          ? [violation('TG-CS-04', `spec.${spec.requires}`, 'is missing')]
          : [];
      return {
        violations: [
          ...fail.map((rule) => violation(rule, spec?.failAt ?? 'spec.x', `fails ${rule}`)),
          ...missing,
        ],
        warnings: [],
      };
    },
  };
}

function table(rules: KindRules): KindRulesTable {
  return { ApplicationSet: rules, Application: rules, AppProject: rules, ClusterSecret: rules };
}

function obj(
  namespace: string,
  spec: Record<string, unknown>,
  labels: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'x', namespace, labels, ...extra },
    spec,
  };
}

function req(over: Partial<PolicyRequest>): PolicyRequest {
  return {
    uid: 'u1',
    kind: 'Application',
    operation: 'CREATE',
    namespace: 'team-a',
    name: 'x',
    user: { username: 'alice', groups: ['team-a-admins'] },
    dryRun: false,
    ...over,
  };
}

const ADMIN = { username: 'root', groups: ['platform-admins'] };
const APPSET_SA = {
  username: 'system:serviceaccount:argocd:argocd-applicationset-controller',
  groups: ['system:serviceaccounts'],
};
const MALLORY = { username: 'mallory', groups: ['team-b-admins'] };
const NOBODY = { username: 'nobody', groups: [] };
const GC = {
  username: 'system:serviceaccount:kube-system:generic-garbage-collector',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system'],
};

describe('ownership (TG-OWN) and decisions', () => {
  /** An UPDATE of a terminating team-a object that only takes a field away, beside a TG-APP-02 finding it keeps. */
  const terminatingTakeAway = (extra: Partial<PolicyRequest> = {}): PolicyRequest => {
    const terminating = { deletionTimestamp: '2026-01-01T00:00:00Z' };
    return req({
      operation: 'UPDATE',
      oldObject: obj('team-a', { fail: ['TG-APP-02'], other: 1 }, {}, terminating),
      object: obj('team-a', { fail: ['TG-APP-02'] }, {}, terminating),
      ...extra,
    });
  };
  const cases: Array<{
    name: string;
    request: PolicyRequest;
    allowed: boolean;
    rules?: string[];
    tenant?: string | undefined;
  }> = [
    {
      name: 'owner in own namespace is allowed',
      request: req({ object: obj('team-a', {}) }),
      allowed: true,
      tenant: 'team-a',
    },
    {
      name: 'TG-OWN-01 label disagrees with namespace',
      request: req({ object: obj('team-a', {}, { 'tenantguard.dev/tenant': 'team-b' }) }),
      allowed: false,
      rules: ['TG-OWN-01'],
    },
    {
      name: 'TG-OWN-01 label names no tenant',
      request: req({
        namespace: 'argocd',
        object: obj('argocd', { project: 'team-a' }, { 'tenantguard.dev/tenant': 'ghost' }),
      }),
      allowed: false,
      rules: ['TG-OWN-01'],
    },
    {
      name: 'label tells the tenant in the Argo CD namespace',
      request: req({
        namespace: 'argocd',
        object: obj('argocd', {}, { 'tenantguard.dev/tenant': 'team-a' }),
      }),
      allowed: true,
      tenant: 'team-a',
    },
    {
      name: 'project tells the tenant',
      request: req({ namespace: 'argocd', object: obj('argocd', { project: 'team-a' }) }),
      allowed: true,
      tenant: 'team-a',
    },
    {
      name: 'requester groups tell the tenant on CREATE',
      request: req({ namespace: 'argocd', object: obj('argocd', {}) }),
      allowed: true,
      tenant: 'team-a',
    },
    {
      name: 'TG-OWN-02 human object of no tenant',
      request: req({ namespace: 'argocd', user: NOBODY, object: obj('argocd', {}) }),
      allowed: false,
      rules: ['TG-OWN-02'],
    },
    {
      name: 'TG-OWN-03 non-owner in foreign namespace',
      request: req({ user: MALLORY, object: obj('team-a', {}) }),
      allowed: false,
      rules: ['TG-OWN-03'],
    },
    {
      name: 'TG-OWN-03 non-owner deletes',
      request: req({ operation: 'DELETE', user: MALLORY, oldObject: obj('team-a', {}) }),
      allowed: false,
      rules: ['TG-OWN-03'],
    },
    {
      name: 'TG-OWN-01 tenant changes on UPDATE',
      request: req({
        operation: 'UPDATE',
        namespace: 'argocd',
        oldObject: obj('argocd', { project: 'team-a' }),
        object: obj('argocd', { project: 'team-b' }, { 'tenantguard.dev/tenant': 'team-b' }),
      }),
      allowed: false,
      rules: ['TG-OWN-01'],
    },
    {
      name: 'adding the missing label of the same tenant is no change',
      request: req({
        operation: 'UPDATE',
        namespace: 'argocd',
        oldObject: obj('argocd', { project: 'team-a' }),
        object: obj('argocd', { project: 'team-a' }, { 'tenantguard.dev/tenant': 'team-a' }),
      }),
      allowed: true,
    },
    {
      name: 'trusted service account skips TG-OWN-03',
      request: req({ user: APPSET_SA, object: obj('team-a', {}) }),
      allowed: true,
      tenant: 'team-a',
    },
    {
      name: 'trusted service account may make a platform object',
      request: req({ namespace: 'argocd', user: APPSET_SA, object: obj('argocd', {}) }),
      allowed: true,
      tenant: undefined,
    },
    {
      name: 'trusted service account never skips target rules',
      request: req({ user: APPSET_SA, object: obj('team-a', { fail: ['TG-APP-02'] }) }),
      allowed: false,
      rules: ['TG-APP-02'],
    },
    {
      name: 'platform admin bypasses tenant rules',
      request: req({
        user: ADMIN,
        object: obj('team-a', { fail: ['TG-APP-02'] }, { 'tenantguard.dev/tenant': 'team-b' }),
      }),
      allowed: true,
    },
    {
      name: 'platform admin is held to TG-CS-02 and TG-CS-04, not to TG-CS-06',
      request: req({ user: ADMIN, object: obj('team-a', { fail: ['TG-CS-04', 'TG-CS-06', 'TG-CS-02'] }) }),
      allowed: false,
      rules: ['TG-CS-02', 'TG-CS-04'],
    },
    {
      name: 'platform admin is held to TG-CS-03, TG-CS-05 and TG-CS-08 (reported only where they hold for everyone)',
      request: req({ user: ADMIN, object: obj('team-a', { fail: ['TG-CS-08', 'TG-CS-05', 'TG-CS-03'] }) }),
      allowed: false,
      rules: ['TG-CS-03', 'TG-CS-05', 'TG-CS-08'],
    },
    {
      name: 'warn mode relaxes TG-AS-03',
      request: req({ user: MALLORY, namespace: 'team-b', object: obj('team-b', { fail: ['TG-AS-03'] }) }),
      allowed: true,
    },
    {
      name: 'warn mode never relaxes TG-AS-06 (templatePatch)',
      request: req({
        user: MALLORY,
        namespace: 'team-b',
        object: obj('team-b', { fail: ['TG-AS-03', 'TG-AS-06'] }),
      }),
      allowed: false,
      rules: ['TG-AS-06'],
    },
    {
      name: 'terminating: a violation about a value the UPDATE removed is not added',
      request: req({
        operation: 'UPDATE',
        oldObject: obj(
          'team-a',
          { keep: 1, gone: { a: 1 }, requires: 'gone' },
          {},
          { deletionTimestamp: '2026-01-01T00:00:00Z' },
        ),
        object: obj(
          'team-a',
          { keep: 1, requires: 'gone' },
          {},
          { deletionTimestamp: '2026-01-01T00:00:00Z' },
        ),
      }),
      allowed: true,
    },
    {
      name: 'terminating: a violation about a value still there is added',
      request: req({
        operation: 'UPDATE',
        oldObject: obj(
          'team-a',
          { keep: 1, gone: { a: 1 } },
          {},
          { deletionTimestamp: '2026-01-01T00:00:00Z' },
        ),
        object: obj(
          'team-a',
          { keep: 1, gone: { a: 2 }, fail: ['TG-CS-04'], failAt: 'spec.gone.a' },
          {},
          { deletionTimestamp: '2026-01-01T00:00:00Z' },
        ),
      }),
      allowed: false,
      rules: ['TG-CS-04'],
    },
    {
      name: 'terminating: setting operation judges the object as it stands',
      request: req({
        operation: 'UPDATE',
        user: APPSET_SA,
        oldObject: obj('team-a', { fail: ['TG-APP-02'] }, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
        object: {
          ...obj('team-a', { fail: ['TG-APP-02'] }, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
          operation: { sync: {} },
        },
      }),
      allowed: false,
      rules: ['TG-APP-02'],
    },
    {
      name: 'warn mode never relaxes TG-AS-05',
      request: req({
        user: MALLORY,
        namespace: 'team-b',
        object: obj('team-b', { fail: ['TG-AS-03', 'TG-AS-05'] }),
      }),
      allowed: false,
      rules: ['TG-AS-05'],
    },
    {
      name: 'violations are listed in spec order',
      request: req({ user: MALLORY, object: obj('team-a', { fail: ['TG-APP-02', 'TG-APP-01'] }) }),
      allowed: false,
      rules: ['TG-OWN-03', 'TG-APP-01', 'TG-APP-02'],
    },
    {
      name: "TG-OWN-03 a stranger's status-only UPDATE (no change is too small for ownership)",
      request: req({
        operation: 'UPDATE',
        user: MALLORY,
        oldObject: obj('team-a', {}),
        object: { ...obj('team-a', {}), status: { health: 'ok' } },
      }),
      allowed: false,
      rules: ['TG-OWN-03'],
    },
    {
      name: "an owner's status-only UPDATE skips the target rules",
      request: req({
        operation: 'UPDATE',
        oldObject: obj('team-a', { fail: ['TG-APP-02'] }),
        object: { ...obj('team-a', { fail: ['TG-APP-02'] }), status: { health: 'ok' } },
      }),
      allowed: true,
    },
    {
      name: "TG-OWN-03 a stranger's annotation-only UPDATE",
      request: req({
        operation: 'UPDATE',
        user: MALLORY,
        oldObject: obj('team-a', {}),
        object: obj('team-a', {}, {}, { annotations: { 'argocd.argoproj.io/skip-reconcile': 'true' } }),
      }),
      allowed: false,
      rules: ['TG-OWN-03'],
    },
    {
      name: 'TG-OWN-03 a stranger sets operation',
      request: req({
        operation: 'UPDATE',
        user: MALLORY,
        oldObject: obj('team-a', {}),
        object: { ...obj('team-a', {}), operation: { sync: { manifests: ['kind: Pod'] } } },
      }),
      allowed: false,
      rules: ['TG-OWN-03'],
    },
    {
      name: 'setting a non-null operation runs the target rules, even for an owner',
      request: req({
        operation: 'UPDATE',
        oldObject: obj('team-a', { fail: ['TG-APP-02'] }),
        object: { ...obj('team-a', { fail: ['TG-APP-02'] }), operation: { sync: {} } },
      }),
      allowed: false,
      rules: ['TG-APP-02'],
    },
    {
      name: 'setting a non-null operation runs the target rules for a trusted service account',
      request: req({
        operation: 'UPDATE',
        user: APPSET_SA,
        oldObject: obj('team-a', { fail: ['TG-APP-02'] }),
        object: { ...obj('team-a', { fail: ['TG-APP-02'] }), operation: { sync: {} } },
      }),
      allowed: false,
      rules: ['TG-APP-02'],
    },
    {
      name: 'clearing operation is exempt',
      request: req({
        operation: 'UPDATE',
        user: APPSET_SA,
        oldObject: { ...obj('team-a', { fail: ['TG-APP-02'] }), operation: { sync: {} } },
        object: obj('team-a', { fail: ['TG-APP-02'] }),
      }),
      allowed: true,
    },
    {
      name: 'a platform admin sets operation on an out-of-bounds object',
      request: req({
        operation: 'UPDATE',
        user: ADMIN,
        oldObject: obj('team-a', { fail: ['TG-APP-02'] }),
        object: { ...obj('team-a', { fail: ['TG-APP-02'] }), operation: { sync: {} } },
      }),
      allowed: true,
    },
    {
      name: 'TG-OWN-03 a stranger changes ownerReferences',
      request: req({
        operation: 'UPDATE',
        user: MALLORY,
        oldObject: obj('team-a', {}),
        object: obj(
          'team-a',
          {},
          {},
          {
            ownerReferences: [
              {
                apiVersion: 'argoproj.io/v1alpha1',
                kind: 'ApplicationSet',
                name: 'evil',
                uid: 'u',
                controller: true,
              },
            ],
          },
        ),
      }),
      allowed: false,
      rules: ['TG-OWN-03'],
    },
    {
      name: 'changing ownerReferences is material: the target rules run',
      request: req({
        operation: 'UPDATE',
        oldObject: obj('team-a', { fail: ['TG-APP-02'] }),
        object: obj('team-a', { fail: ['TG-APP-02'] }, {}, { ownerReferences: [] }),
      }),
      allowed: false,
      rules: ['TG-APP-02'],
    },
    {
      name: 'changing any label is material: the target rules run',
      request: req({
        operation: 'UPDATE',
        oldObject: obj('team-a', { fail: ['TG-APP-02'] }),
        object: obj('team-a', { fail: ['TG-APP-02'] }, { other: 'x' }),
      }),
      allowed: false,
      rules: ['TG-APP-02'],
    },
    {
      name: 'the tenant label /mutate pins is no change (judged as sent)',
      request: req({
        operation: 'UPDATE',
        namespace: 'argocd',
        user: APPSET_SA,
        oldObject: obj('argocd', { project: 'team-a', fail: ['TG-APP-02'] }),
        object: {
          ...obj(
            'argocd',
            { project: 'team-a', fail: ['TG-APP-02'] },
            { 'tenantguard.dev/tenant': 'team-a' },
          ),
          status: { sync: 'Synced' },
        },
      }),
      allowed: true,
    },
    {
      name: 'a tenant label of another value is a change',
      request: req({
        operation: 'UPDATE',
        namespace: 'argocd',
        user: ADMIN,
        oldObject: obj('argocd', { project: 'team-a', fail: ['TG-CS-04'] }),
        object: obj(
          'argocd',
          { project: 'team-a', fail: ['TG-CS-04'] },
          { 'tenantguard.dev/tenant': 'team-b' },
        ),
      }),
      allowed: false,
      rules: ['TG-CS-04'],
    },
    {
      name: "TG-OWN-01 a trusted service account turns a platform object into a tenant's",
      request: req({
        operation: 'UPDATE',
        namespace: 'argocd',
        user: APPSET_SA,
        oldObject: obj('argocd', {}),
        object: obj('argocd', {}, { 'tenantguard.dev/tenant': 'team-a' }),
      }),
      allowed: false,
      rules: ['TG-OWN-01'],
    },
    {
      name: "a platform admin turns a platform object into a tenant's",
      request: req({
        operation: 'UPDATE',
        namespace: 'argocd',
        user: ADMIN,
        oldObject: obj('argocd', {}),
        object: obj('argocd', {}, { 'tenantguard.dev/tenant': 'team-a' }),
      }),
      allowed: true,
    },
    {
      name: "TG-OWN-02 a human's annotation-only UPDATE of a platform object",
      request: req({
        operation: 'UPDATE',
        namespace: 'argocd',
        oldObject: obj('argocd', {}),
        object: obj('argocd', {}, {}, { annotations: { a: 'b' } }),
      }),
      allowed: false,
      rules: ['TG-OWN-02'],
    },
    {
      name: 'a label a registry change put at odds with the namespace blocks no status write',
      request: req({
        operation: 'UPDATE',
        user: APPSET_SA,
        oldObject: obj('team-a', {}, { 'tenantguard.dev/tenant': 'team-b' }),
        object: { ...obj('team-a', {}, { 'tenantguard.dev/tenant': 'team-b' }), status: { a: 1 } },
      }),
      allowed: true,
    },
    {
      name: "nor a DELETE by an owner of the namespace's tenant",
      request: req({
        operation: 'DELETE',
        oldObject: obj('team-a', {}, { 'tenantguard.dev/tenant': 'ghost' }),
      }),
      allowed: true,
    },
    {
      name: 'TG-OWN-01 but a material UPDATE of it is denied',
      request: req({
        operation: 'UPDATE',
        user: APPSET_SA,
        oldObject: obj('team-a', {}, { 'tenantguard.dev/tenant': 'team-b' }),
        object: obj('team-a', { a: 1 }, { 'tenantguard.dev/tenant': 'team-b' }),
      }),
      allowed: false,
      rules: ['TG-OWN-01'],
    },
    {
      name: 'DELETE is never judged by the target rules',
      request: req({
        operation: 'DELETE',
        oldObject: obj('team-a', { fail: ['TG-APP-02', 'TG-CS-04', 'TG-PRJ-01'] }),
      }),
      allowed: true,
    },
    {
      name: 'DELETE is judged by who may (TG-CS-07)',
      request: req({
        operation: 'DELETE',
        user: APPSET_SA,
        oldObject: obj('team-a', { fail: ['TG-APP-02', 'TG-CS-07'] }),
      }),
      allowed: false,
      rules: ['TG-CS-07'],
    },
    {
      name: 'UPDATE of a terminating object that only takes away is not blocked by what it already was',
      request: terminatingTakeAway(),
      allowed: true,
    },
    {
      // Judging the old object costs its size, which no limit bounded (a 3 MB elementsYaml
      // took seconds): past a size limit, the UPDATE is judged as the new object stands.
      name: 'UPDATE of a terminating object whose old object is past a size limit is judged in full',
      request: terminatingTakeAway({ oldObjectBeyondLimits: true }),
      allowed: false,
      rules: ['TG-APP-02'],
    },
    {
      // A rule stops at a field's first failure, so what is added beside a violation that
      // stands may be what that violation hides: judged as the object stands.
      name: 'UPDATE of a terminating object that adds beside a violation that stands is judged in full',
      request: req({
        operation: 'UPDATE',
        oldObject: obj('team-a', { fail: ['TG-APP-02'] }, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
        object: obj(
          'team-a',
          { fail: ['TG-APP-02'], other: 1 },
          {},
          { deletionTimestamp: '2026-01-01T00:00:00Z' },
        ),
      }),
      allowed: false,
      rules: ['TG-APP-02'],
    },
    {
      // A cluster Secret's effective data is material too: a field added to it is judged.
      name: 'UPDATE of a terminating object that adds a Secret data field beside a violation that stands is judged in full',
      request: terminatingTakeAway({
        object: {
          ...obj('team-a', { fail: ['TG-APP-02'] }, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
          data: { config: Buffer.from('{}').toString('base64') },
        },
      }),
      allowed: false,
      rules: ['TG-APP-02'],
    },
    {
      name: 'UPDATE of a terminating object is denied what the change adds',
      request: req({
        operation: 'UPDATE',
        oldObject: obj('team-a', {}, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
        object: obj('team-a', { fail: ['TG-APP-02'] }, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
      }),
      allowed: false,
      rules: ['TG-APP-02'],
    },
    {
      name: "TG-OWN-03 a stranger's finalizer-only UPDATE of a terminating object",
      request: req({
        operation: 'UPDATE',
        user: MALLORY,
        oldObject: obj('team-a', {}, {}, { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['x'] }),
        object: obj('team-a', {}, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
      }),
      allowed: false,
      rules: ['TG-OWN-03'],
    },
    {
      name: 'TG-OWN-03 never cancels out on a terminating object',
      request: req({
        operation: 'UPDATE',
        user: MALLORY,
        oldObject: obj('team-a', { a: 1 }, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
        object: obj('team-a', { a: 2 }, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
      }),
      allowed: false,
      rules: ['TG-OWN-03'],
    },
    {
      name: 'who-may rules never cancel out on a terminating object',
      request: req({
        operation: 'UPDATE',
        user: APPSET_SA,
        oldObject: obj('team-a', { fail: ['TG-CS-07'] }, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
        object: obj(
          'team-a',
          { fail: ['TG-CS-07'], a: 2 },
          {},
          { deletionTimestamp: '2026-01-01T00:00:00Z' },
        ),
      }),
      allowed: false,
      rules: ['TG-CS-07'],
    },
    {
      name: "a stranger's finalizer-only UPDATE as a system controller is allowed",
      request: req({
        operation: 'UPDATE',
        user: GC,
        oldObject: obj(
          'team-a',
          {},
          {},
          { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['x', 'y'] },
        ),
        object: obj('team-a', {}, {}, { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['y'] }),
      }),
      allowed: true,
    },
    {
      name: 'TG-REQ-01 metadata of the wrong type',
      request: req({ object: { metadata: 'x', spec: {} } }),
      allowed: false,
      rules: ['TG-REQ-01'],
    },
    {
      name: 'TG-REQ-01 UPDATE without oldObject',
      request: req({ operation: 'UPDATE', object: obj('team-a', {}) }),
      allowed: false,
      rules: ['TG-REQ-01'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const decision = evaluate(c.request, context, table(probeRules()));
      assert.equal(decision.allowed, c.allowed, JSON.stringify(decision));
      if (!decision.allowed)
        assert.deepEqual(
          decision.violations.map((v) => v.rule),
          c.rules,
        );
      if ('tenant' in c) assert.equal(decision.summary.tenant, c.tenant);
    });
  }

  test('a terminating UPDATE gives the rules its old object only while that is within the size limits', () => {
    const terminating = { deletionTimestamp: '2026-01-01T00:00:00Z' };
    const request = (beyond: boolean) =>
      req({
        operation: 'UPDATE',
        oldObject: obj('team-a', { other: 1 }, {}, terminating),
        object: obj('team-a', {}, {}, terminating),
        ...(beyond ? { oldObjectBeyondLimits: true } : {}),
      });
    const judged = (beyond: boolean) => {
      const rules = probeRules();
      assert.equal(evaluate(request(beyond), context, table(rules)).allowed, true);
      return rules.scopes.map((scope) => (scope.request.object?.spec as { other?: number }).other);
    };
    assert.deepEqual(judged(false), [undefined, 1], 'the new object, then the old one');
    assert.deepEqual(judged(true), [undefined], 'the new object only');
  });

  test(`a terminating UPDATE is compared with its old object by at most ${MAX_COMPARED_VIOLATIONS} violations, else judged in full`, () => {
    const terminating = { deletionTimestamp: '2026-01-01T00:00:00Z' };
    const verdict = (standing: number) =>
      evaluate(
        req({
          operation: 'UPDATE',
          oldObject: obj('team-a', { fail: Array(standing).fill('TG-APP-02'), other: 1 }, {}, terminating),
          object: obj('team-a', { fail: Array(standing).fill('TG-APP-02') }, {}, terminating),
        }),
        context,
        table(probeRules()),
      ).allowed;
    assert.equal(verdict(MAX_COMPARED_VIOLATIONS), true, 'standing violations excused');
    assert.equal(verdict(MAX_COMPARED_VIOLATIONS + 1), false, 'too many to compare: judged as it stands');
  });

  test('warn mode answers with warnings and audits the relaxed rule', () => {
    const d = evaluate(
      req({ user: MALLORY, namespace: 'team-b', object: obj('team-b', { fail: ['TG-AS-01'] }) }),
      context,
      table(probeRules()),
    );
    assert.equal(d.allowed, true);
    assert.equal(d.summary.enforcement, 'warn');
    assert.match(d.warnings[0] ?? '', /^\[TG-AS-01\] spec\.x fails TG-AS-01/);
    assert.deepEqual(
      d.audited.map((v) => v.rule),
      ['TG-AS-01'],
    );
  });

  test('a platform admin is still audited', () => {
    const d = evaluate(
      req({ user: ADMIN, object: obj('team-a', { fail: ['TG-APP-02'] }) }),
      context,
      table(probeRules()),
    );
    assert.equal(d.allowed, true);
    assert.deepEqual(
      d.audited.map((v) => v.rule),
      ['TG-APP-02'],
    );
  });

  test('dry-run gets the verdict a real request gets', () => {
    const wet = evaluate(req({ user: MALLORY, object: obj('team-a', {}) }), context, table(probeRules()));
    const dry = evaluate(
      req({ user: MALLORY, dryRun: true, object: obj('team-a', {}) }),
      context,
      table(probeRules()),
    );
    assert.deepEqual(dry, wet);
  });

  test("rules see the old object's tenant on DELETE", () => {
    const rules = probeRules();
    evaluate(
      req({ operation: 'DELETE', namespace: 'argocd', oldObject: obj('argocd', { project: 'team-a' }) }),
      context,
      table(rules),
    );
    assert.equal(rules.scopes[0]?.tenant?.name, 'team-a');
  });
});

describe('mutate', () => {
  test("adds the tenant label and the kind's additions, never overwriting", () => {
    const r = mutate(
      req({ namespace: 'argocd', object: obj('argocd', { project: 'team-a' }, { keep: 'me' }) }),
      context,
      table(probeRules()),
    );
    assert.equal(r.tenant, 'team-a');
    const labels = (r.object?.metadata as { labels: Record<string, string> }).labels;
    assert.deepEqual(labels, { keep: 'me', 'tenantguard.dev/tenant': 'team-a' });
    assert.equal((r.object?.spec as { mutated?: boolean }).mutated, true);
  });
  test('leaves an existing tenant label alone', () => {
    const r = mutate(
      req({ object: obj('team-a', {}, { 'tenantguard.dev/tenant': 'team-b' }) }),
      context,
      table(probeRules()),
    );
    assert.equal(
      (r.object?.metadata as { labels: Record<string, string> }).labels['tenantguard.dev/tenant'],
      'team-b',
    );
  });
  test('no patch on DELETE, for unknown tenants, or for a terminating object', () => {
    assert.equal(
      mutate(req({ operation: 'DELETE', oldObject: obj('team-a', {}) }), context, table(probeRules())).object,
      undefined,
    );
    assert.equal(
      mutate(
        req({ namespace: 'argocd', user: NOBODY, object: obj('argocd', {}) }),
        context,
        table(probeRules()),
      ).object,
      undefined,
    );
    const dying = obj('team-a', { a: 1 }, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' });
    assert.equal(
      mutate(
        req({ operation: 'UPDATE', oldObject: dying, object: { ...dying, spec: { a: 2 } } }),
        context,
        table(probeRules()),
      ).object,
      undefined,
    );
  });
  test("an exempt UPDATE gets only the tenant label (pinned), not the kind's additions", () => {
    const r = mutate(
      req({
        operation: 'UPDATE',
        namespace: 'argocd',
        user: APPSET_SA,
        oldObject: obj('argocd', { project: 'team-a' }),
        object: { ...obj('argocd', { project: 'team-a' }), status: { a: 1 } },
      }),
      context,
      table(probeRules()),
    );
    assert.equal(
      (r.object?.metadata as { labels: Record<string, string> }).labels['tenantguard.dev/tenant'],
      'team-a',
    );
    assert.equal((r.object?.spec as { mutated?: boolean }).mutated, undefined);
  });
  test("a system controller's orphaning UPDATE gets nothing", () => {
    const owned = obj(
      'team-a',
      { a: 1 },
      {},
      {
        ownerReferences: [
          {
            apiVersion: 'argoproj.io/v1alpha1',
            kind: 'ApplicationSet',
            name: 'x',
            uid: 'u',
            controller: true,
          },
        ],
      },
    );
    assert.equal(
      mutate(
        req({ operation: 'UPDATE', user: GC, oldObject: owned, object: obj('team-a', { a: 1 }) }),
        context,
        table(probeRules()),
      ).object,
      undefined,
    );
  });
  test('does not modify the request object', () => {
    const o = obj('team-a', {});
    const before = JSON.stringify(o);
    mutate(req({ object: o }), context, table(probeRules()));
    assert.equal(JSON.stringify(o), before);
  });
});

describe('guardedKindOf', () => {
  const secret = (labels: Record<string, string>) => ({ metadata: { labels } });
  const cases: Array<[string, Parameters<typeof guardedKindOf>, string | undefined]> = [
    [
      'ApplicationSet',
      [{ group: 'argoproj.io', version: 'v1alpha1', kind: 'ApplicationSet' }, {}, undefined],
      'ApplicationSet',
    ],
    [
      'AppProject',
      [{ group: 'argoproj.io', version: 'v1alpha1', kind: 'AppProject' }, {}, undefined],
      'AppProject',
    ],
    [
      'cluster Secret by object',
      [
        { group: '', version: 'v1', kind: 'Secret' },
        secret({ 'argocd.argoproj.io/secret-type': 'cluster' }),
        undefined,
      ],
      'ClusterSecret',
    ],
    [
      'cluster Secret by oldObject (relabelled away)',
      [
        { group: '', version: 'v1', kind: 'Secret' },
        secret({}),
        secret({ 'argocd.argoproj.io/secret-type': 'cluster' }),
      ],
      'ClusterSecret',
    ],
    [
      'repository Secret',
      [
        { group: '', version: 'v1', kind: 'Secret' },
        secret({ 'argocd.argoproj.io/secret-type': 'repository' }),
        undefined,
      ],
      undefined,
    ],
    ['ConfigMap', [{ group: '', version: 'v1', kind: 'ConfigMap' }, {}, undefined], undefined],
    [
      'foreign group with an Argo CD kind name',
      [{ group: 'evil.io', version: 'v1', kind: 'Application' }, {}, undefined],
      undefined,
    ],
  ];
  for (const [name, args, expected] of cases)
    test(name, () => assert.equal(guardedKindOf(...args), expected));
});
