import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyRequester, isSystemControllerWrite } from '../../src/policy/ownership.js';
import type { KubeObject, PolicyRequest, UserInfo } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';

const settings = resolveSettings({
  trustedServiceAccounts: 'sa:plain,sa:notes=annotations,sa:status=status+finalizers',
});
const REF = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'ApplicationSet',
  name: 'x',
  uid: 'u1',
  controller: true,
  blockOwnerDeletion: true,
};

function obj(metadata: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'a', namespace: 'team-a', resourceVersion: '1', ...metadata },
    spec: { project: 'team-a' },
    ...extra,
  };
}

function update(user: UserInfo, oldObject: KubeObject, object: KubeObject): PolicyRequest {
  return {
    uid: 'u',
    kind: 'Application',
    operation: 'UPDATE',
    namespace: 'team-a',
    name: 'a',
    user,
    oldObject,
    object,
    dryRun: false,
  };
}

const as = (username: string): UserInfo => ({ username, groups: [] });
const GC = as('system:serviceaccount:kube-system:generic-garbage-collector');

describe('isSystemControllerWrite: DELETE, or only removing finalizers and ownerReferences', () => {
  const cases: Array<[string, KubeObject, KubeObject, boolean]> = [
    [
      'removes a finalizer',
      obj({ finalizers: ['a', 'b'] }),
      obj({ finalizers: ['b'], resourceVersion: '2' }),
      true,
    ],
    ['removes every ownerReference', obj({ ownerReferences: [REF] }), obj({}), true],
    [
      'clears blockOwnerDeletion',
      obj({ ownerReferences: [REF] }),
      obj({ ownerReferences: [{ ...REF, blockOwnerDeletion: false }] }),
      true,
    ],
    ['adds a finalizer', obj({ finalizers: ['a'] }), obj({ finalizers: ['a', 'b'] }), false],
    [
      'sets blockOwnerDeletion',
      obj({ ownerReferences: [{ ...REF, blockOwnerDeletion: false }] }),
      obj({ ownerReferences: [REF] }),
      false,
    ],
    [
      'swaps an ownerReference',
      obj({ ownerReferences: [REF] }),
      obj({ ownerReferences: [{ ...REF, name: 'y' }] }),
      false,
    ],
    ['duplicates a finalizer', obj({ finalizers: ['a'] }), obj({ finalizers: ['a', 'a'] }), false],
    ['changes an annotation beside', obj({ finalizers: ['a'] }), obj({ annotations: { x: 'y' } }), false],
    ['changes the spec beside', obj({ finalizers: ['a'] }), { ...obj(), spec: { project: 'team-b' } }, false],
  ];
  for (const [name, before, after, expected] of cases)
    test(name, () => assert.equal(isSystemControllerWrite(update(GC, before, after)), expected));
  test('DELETE, never CREATE', () => {
    assert.equal(isSystemControllerWrite({ ...update(GC, obj(), obj()), operation: 'DELETE' }), true);
    assert.equal(isSystemControllerWrite({ ...update(GC, obj(), obj()), operation: 'CREATE' }), false);
  });
});

describe('classifyRequester: scopes and system controllers', () => {
  const cases: Array<[string, PolicyRequest, string, boolean]> = [
    [
      'an unscoped trusted account changes the spec',
      update(as('sa:plain'), obj(), { ...obj(), spec: { x: 1 } }),
      'trusted-service-account',
      false,
    ],
    [
      'a scoped account within its scope',
      update(as('sa:notes'), obj(), obj({ annotations: { a: 'b' }, managedFields: [{ manager: 'n' }] })),
      'trusted-service-account',
      false,
    ],
    [
      'a scoped account beyond its scope (a label)',
      update(as('sa:notes'), obj(), obj({ labels: { a: 'b' } })),
      'human',
      true,
    ],
    [
      'a scoped account beyond its scope (operation)',
      update(as('sa:notes'), obj(), obj({}, { operation: { sync: {} } })),
      'human',
      true,
    ],
    [
      'two scope fields',
      update(as('sa:status'), obj({ finalizers: ['f'] }), obj({}, { status: { a: 1 } })),
      'trusted-service-account',
      false,
    ],
    [
      'a scoped account deletes',
      { ...update(as('sa:notes'), obj(), obj()), operation: 'DELETE' },
      'human',
      true,
    ],
    [
      'the garbage collector orphans',
      update(GC, obj({ ownerReferences: [REF] }), obj()),
      'system-controller',
      false,
    ],
    [
      'the garbage collector beyond what it may do',
      update(GC, obj(), obj({ annotations: { a: 'b' } })),
      'human',
      true,
    ],
    [
      "a platform admin in a system controller's name is a platform admin",
      update({ username: GC.username, groups: ['platform-admins'] }, obj(), obj({ annotations: { a: 'b' } })),
      'platform-admin',
      false,
    ],
  ];
  for (const [name, request, role, beyond] of cases) {
    test(name, () => {
      const r = classifyRequester(request, settings);
      assert.equal(r.role, role);
      assert.equal(r.beyond !== undefined, beyond);
    });
  }
});
