import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  narrowPolicyRequest,
  parseAdmissionReview,
  readAdmissionRequest,
} from '../../src/admission/review.js';
import { isTenantGuardError } from '../../src/errors.js';
import { admissionReview } from '../support/policy-fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const UPSTREAM = join(
  here,
  '..',
  '..',
  '..',
  'shared',
  'fixtures',
  'upstream',
  'kubernetes',
  'admission.k8s.io.v1.AdmissionReview.json',
);

function envelope(request: Record<string, unknown>) {
  return parseAdmissionReview(admissionReview({ uid: 'u1', ...request }));
}

const APP = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Application',
  metadata: { name: 'web', namespace: 'team-a' },
  spec: { project: 'team-a' },
};
const BASE = {
  kind: { group: 'argoproj.io', version: 'v1alpha1', kind: 'Application' },
  namespace: 'team-a',
  operation: 'CREATE',
  userInfo: { username: 'alice', groups: ['team-a-admins'] },
  object: APP,
};

describe('parseAdmissionReview', () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['null', null, /not a JSON object/],
    ['an array', [], /not a JSON object/],
    [
      'v1beta1',
      { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u' } },
      /apiVersion "admission.k8s.io\/v1beta1" is not admission.k8s.io\/v1/,
    ],
    [
      'apiVersion a number',
      { apiVersion: 1, kind: 'AdmissionReview', request: { uid: 'u' } },
      /apiVersion \(a number\)/,
    ],
    [
      'no kind',
      { apiVersion: 'admission.k8s.io/v1', request: { uid: 'u' } },
      /kind \(missing\) is not AdmissionReview/,
    ],
    [
      'request a string',
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: 'x' },
      /request is missing or not an object/,
    ],
    [
      'empty uid',
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '' } },
      /request\.uid/,
    ],
  ];
  for (const [name, body, message] of bad) {
    test(`rejects ${name} with ERR_ADMISSION_MALFORMED`, () => {
      assert.throws(
        () => parseAdmissionReview(body),
        (err: unknown) => isTenantGuardError(err, 'ERR_ADMISSION_MALFORMED') && message.test(err.message),
      );
    });
  }

  test('reads the upstream AdmissionReview fixture, listing what is not a valid value', () => {
    const body: unknown = JSON.parse(readFileSync(UPSTREAM, 'utf8'));
    const request = readAdmissionRequest(parseAdmissionReview(body));
    assert.equal(request.uid, 'uidValue');
    assert.deepEqual(request.kind, { group: 'groupValue', version: 'versionValue', kind: 'kindValue' });
    assert.equal(request.namespace, 'namespaceValue');
    assert.equal(request.name, 'nameValue');
    assert.equal(request.subResource, 'subResourceValue');
    assert.deepEqual(request.user, { username: 'usernameValue', groups: ['groupsValue'], uid: 'uidValue' });
    assert.equal(request.dryRun, true);
    assert.equal(request.operation, undefined);
    assert.deepEqual(
      request.problems.map((p) => p.message),
      ['request.operation "operationValue" is not one of CREATE, UPDATE, DELETE, CONNECT'],
    );
  });
});

describe('readAdmissionRequest', () => {
  test('wrongly typed request fields become TG-REQ-01 problems and neutral values', () => {
    const request = readAdmissionRequest(
      envelope({ ...BASE, namespace: 5, userInfo: { username: 'a', groups: 'g' }, dryRun: 'yes' }),
    );
    assert.equal(request.namespace, '');
    assert.deepEqual(request.user, { username: 'a', groups: [] });
    assert.equal(request.dryRun, false);
    assert.deepEqual(
      request.problems.map((p) => [p.rule, p.path]),
      [
        ['TG-REQ-01', 'request.dryRun'],
        ['TG-REQ-01', 'request.namespace'],
        ['TG-REQ-01', 'request.userInfo.groups'],
      ],
    );
  });

  test('missing groups read as none, and null fields as absent', () => {
    const request = readAdmissionRequest(
      envelope({ ...BASE, userInfo: { username: 'a' }, name: null, oldObject: null }),
    );
    assert.deepEqual(request.user, { username: 'a', groups: [] });
    assert.equal(request.name, '');
    assert.equal(request.oldObject, undefined);
    assert.deepEqual(request.problems, []);
  });
});

describe('narrowPolicyRequest', () => {
  test('takes the name from the object when the request has none (generateName is resolved later)', () => {
    const result = narrowPolicyRequest(readAdmissionRequest(envelope(BASE)), 'Application');
    assert.ok(result.ok);
    assert.equal(result.request.name, 'web');
    assert.equal(result.request.oldObject, undefined);
  });

  test('DELETE needs only oldObject', () => {
    const result = narrowPolicyRequest(
      readAdmissionRequest(
        envelope({ ...BASE, operation: 'DELETE', object: undefined, oldObject: APP, name: 'web' }),
      ),
      'Application',
    );
    assert.ok(result.ok);
    assert.equal(result.request.object, undefined);
    assert.deepEqual(result.request.oldObject, APP);
  });

  const cases: Array<[string, Record<string, unknown>, 'Application' | 'ClusterSecret', string[]]> = [
    [
      'annotations not a map',
      { object: { ...APP, metadata: { name: 'w', annotations: ['a'] } } },
      'Application',
      ['object.metadata.annotations is an array; expected a map of strings'],
    ],
    [
      'metadata.name a number',
      { object: { ...APP, metadata: { name: 7 } } },
      'Application',
      ['object.metadata.name is a number; expected a string'],
    ],
    [
      'deletionTimestamp an object',
      { object: { ...APP, metadata: { name: 'w', deletionTimestamp: {} } } },
      'Application',
      ['object.metadata.deletionTimestamp is an object; expected a string'],
    ],
    [
      'Secret data a string',
      { object: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: 'abc' } },
      'ClusterSecret',
      ['object.data is a string; expected a map of strings'],
    ],
    [
      'Secret type a number',
      { object: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 1 } },
      'ClusterSecret',
      ['object.type is a number; expected a string'],
    ],
    [
      'UPDATE without oldObject',
      { operation: 'UPDATE' },
      'Application',
      ['oldObject is missing from the UPDATE request; the API server always sends it'],
    ],
    [
      'oldObject a number on DELETE',
      { operation: 'DELETE', object: undefined, oldObject: 3 },
      'Application',
      ['oldObject is a number; expected a Kubernetes object'],
    ],
  ];
  for (const [name, request, kind, messages] of cases) {
    test(`TG-REQ-01: ${name}`, () => {
      const result = narrowPolicyRequest(readAdmissionRequest(envelope({ ...BASE, ...request })), kind);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.deepEqual(
        result.violations.map((v) => v.rule),
        messages.map(() => 'TG-REQ-01'),
      );
      assert.deepEqual(
        result.violations.map((v) => v.message),
        messages,
      );
    });
  }

  test("a Secret's data values are never quoted in a TG-REQ-01 line", () => {
    const object = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's' },
      data: { token: { nested: 'c2VjcmV0LXZhbHVl' } },
    };
    const result = narrowPolicyRequest(readAdmissionRequest(envelope({ ...BASE, object })), 'ClusterSecret');
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(
      result.violations[0]?.message,
      'object.data has values that are not strings (keys: token); expected a map of strings',
    );
    assert.ok(!JSON.stringify(result.violations).includes('c2VjcmV0LXZhbHVl'));
  });
});
