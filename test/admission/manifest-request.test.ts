/**
 * admissionRequestFor: the one AdmissionRequest built from a manifest, shared by
 * `tenant-guard check` and the tests' admission flow (test/attacks/admission-flow.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  admissionRequestFor,
  manifestGvk,
  type ManifestWrite,
} from '../../src/admission/manifest-request.js';
import { parseAdmissionReview, readAdmissionRequest } from '../../src/admission/review.js';
import { isTenantGuardError } from '../../src/errors.js';
import type { KubeObject } from '../../src/policy/types.js';

const USER = { username: 'alice', groups: ['team-a-admins'] };

function app(namespace?: string): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'web', ...(namespace === undefined ? {} : { namespace }) },
    spec: { project: 'team-a' },
  };
}

function write(overrides: Partial<ManifestWrite>): ManifestWrite {
  return { uid: 'u1', operation: 'CREATE', user: USER, ...overrides };
}

describe('admissionRequestFor', () => {
  test('CREATE: kind, resource and requestKind from the manifest, its name and namespace, the object as it is', () => {
    const object = app('team-a');
    const request = admissionRequestFor(write({ object }));
    const gvk = { group: 'argoproj.io', version: 'v1alpha1', kind: 'Application' };
    assert.deepEqual(request, {
      uid: 'u1',
      kind: gvk,
      resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'applications' },
      requestKind: gvk,
      namespace: 'team-a',
      name: 'web',
      operation: 'CREATE',
      userInfo: { username: 'alice', groups: ['team-a-admins'] },
      object,
      dryRun: false,
    });
    assert.equal(request.object, object, 'an object that names its namespace is sent unchanged');
  });

  test('DELETE: the kind, name and namespace are those of oldObject; no object is sent', () => {
    const request = admissionRequestFor(write({ operation: 'DELETE', oldObject: app('team-b') }));
    assert.equal(request.namespace, 'team-b');
    assert.equal(request.name, 'web');
    assert.equal(request.kind.kind, 'Application');
    assert.equal('object' in request, false);
    assert.deepEqual(request.oldObject, app('team-b'));
  });

  const namespaceCases: Array<{
    name: string;
    write: Partial<ManifestWrite>;
    namespace: string;
    objectNamespace: string | undefined;
    oldObjectNamespace: string | undefined;
  }> = [
    {
      name: 'no namespace options: the manifest names none, the request none, nothing filled',
      write: { object: app() },
      namespace: '',
      objectNamespace: undefined,
      oldObjectNamespace: undefined,
    },
    {
      name: 'no namespace options: oldObject is not filled from the object',
      write: { operation: 'UPDATE', object: app('team-a'), oldObject: app() },
      namespace: 'team-a',
      objectNamespace: 'team-a',
      oldObjectNamespace: undefined,
    },
    {
      name: 'defaultNamespace: the request namespace of a manifest naming none, filled into both objects',
      write: { operation: 'UPDATE', object: app(), oldObject: app(), defaultNamespace: 'default' },
      namespace: 'default',
      objectNamespace: 'default',
      oldObjectNamespace: 'default',
    },
    {
      name: "defaultNamespace: the manifest's own namespace wins, and is filled into oldObject",
      write: { operation: 'UPDATE', object: app('team-a'), oldObject: app(), defaultNamespace: 'default' },
      namespace: 'team-a',
      objectNamespace: 'team-a',
      oldObjectNamespace: 'team-a',
    },
    {
      name: "namespace: wins over the manifest's; an object naming its own keeps it",
      write: { operation: 'UPDATE', object: app('team-a'), oldObject: app(), namespace: 'team-b' },
      namespace: 'team-b',
      objectNamespace: 'team-a',
      oldObjectNamespace: 'team-b',
    },
  ];
  for (const c of namespaceCases) {
    test(c.name, () => {
      const request = admissionRequestFor(write(c.write));
      assert.equal(request.namespace, c.namespace);
      const namespaceOf = (o: KubeObject | undefined) =>
        (o?.metadata as { namespace?: string } | undefined)?.namespace;
      assert.equal(namespaceOf(request.object), c.objectNamespace);
      assert.equal(namespaceOf(request.oldObject), c.oldObjectNamespace);
    });
  }

  test('a filled namespace goes into a copy: the manifest given is not changed', () => {
    const object = app();
    admissionRequestFor(write({ object, namespace: 'team-a' }));
    assert.deepEqual(object, app());
  });

  test('the core group: a v1 Secret is group "", resource secrets', () => {
    const request = admissionRequestFor(
      write({ object: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'argocd' } } }),
    );
    assert.deepEqual(request.kind, { group: '', version: 'v1', kind: 'Secret' });
    assert.deepEqual(request.resource, { group: '', version: 'v1', resource: 'secrets' });
  });

  test('dryRun and the user are passed on', () => {
    const request = admissionRequestFor(
      write({ object: app('team-a'), dryRun: true, user: { username: 'bob', groups: [] } }),
    );
    assert.equal(request.dryRun, true);
    assert.deepEqual(request.userInfo, { username: 'bob', groups: [] });
  });

  test('a write with neither object nor oldObject is ERR_USAGE', () => {
    assert.throws(
      () => admissionRequestFor(write({})),
      (err: unknown) => isTenantGuardError(err, 'ERR_USAGE'),
    );
  });

  test('the webhook reads the request it builds without a problem', () => {
    const built = admissionRequestFor(
      write({ operation: 'UPDATE', object: app('team-a'), oldObject: app('team-a') }),
    );
    const read = readAdmissionRequest(
      parseAdmissionReview({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: built }),
    );
    assert.deepEqual(read.problems, []);
    assert.deepEqual(read.kind, built.kind);
    assert.equal(read.operation, 'UPDATE');
    assert.equal(read.namespace, 'team-a');
    assert.deepEqual(read.user, { username: 'alice', groups: ['team-a-admins'] });
  });
});

describe('manifestGvk', () => {
  test('splits apiVersion into group and version; missing fields read as ""', () => {
    assert.deepEqual(manifestGvk(app()), { group: 'argoproj.io', version: 'v1alpha1', kind: 'Application' });
    assert.deepEqual(manifestGvk({ apiVersion: 'v1', kind: 'Secret' }), {
      group: '',
      version: 'v1',
      kind: 'Secret',
    });
    assert.deepEqual(manifestGvk({}), { group: '', version: '', kind: '' });
  });
});
