import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { admit, defaultPolicy, mutateThenValidate, type AdmissionPolicy } from '../../src/admission/admit.js';
import { parseAdmissionReview, readAdmissionRequest } from '../../src/admission/review.js';
import { DEFAULT_SETTINGS } from '../../src/settings.js';
import { admissionReview, argoKind, loadTenants } from '../support/policy-fixtures.js';

const TENANTS = loadTenants('dev-only');

const deps = { policy: defaultPolicy, registry: TENANTS, settings: structuredClone({ ...DEFAULT_SETTINGS }) };

function request(fields: Record<string, unknown>) {
  return readAdmissionRequest(
    parseAdmissionReview(
      admissionReview({
        uid: 'u1',
        kind: argoKind('Application'),
        namespace: 'team-a',
        operation: 'CREATE',
        userInfo: { username: 'alice', groups: ['team-a-admins'] },
        ...fields,
      }),
    ),
  );
}

function application(destination: Record<string, unknown>, project?: string) {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'web', namespace: 'team-a' },
    spec: {
      ...(project === undefined ? {} : { project }),
      destination: { namespace: 'web', ...destination },
      source: { repoURL: 'https://example.com/r.git', path: '.' },
    },
  };
}

describe('mutateThenValidate (the path of tenant-guard check)', () => {
  test('mutation is applied before validation: the tenant label is added, the verdict allows', () => {
    const result = mutateThenValidate(
      request({ object: application({ name: 'k8s-team-a-dev' }, 'team-a') }),
      deps,
    );
    assert.deepEqual(result.patch, [
      { op: 'add', path: '/metadata/labels', value: { 'tenantguard.dev/tenant': 'team-a' } },
    ]);
    assert.equal(result.outcome.type, 'decided');
    if (result.outcome.type !== 'decided') return;
    assert.equal(result.outcome.decision.allowed, true);
    assert.deepEqual((result.object?.metadata as Record<string, unknown>).labels, {
      'tenantguard.dev/tenant': 'team-a',
    });
  });

  test('a foreign destination is denied with its rule id', () => {
    const result = mutateThenValidate(
      request({ object: application({ server: 'https://kubernetes.default.svc' }, 'team-a') }),
      deps,
    );
    assert.equal(result.outcome.type, 'decided');
    if (result.outcome.type !== 'decided' || result.outcome.decision.allowed)
      return assert.fail('expected a denial');
    assert.deepEqual(
      result.outcome.decision.violations.map((v) => v.rule),
      ['TG-APP-02'],
    );
  });

  test('an unhandled kind never reaches the rules', () => {
    const result = mutateThenValidate(
      request({ kind: { group: '', version: 'v1', kind: 'ConfigMap' }, object: { metadata: {} } }),
      deps,
    );
    assert.deepEqual(result, { patch: [], object: undefined, outcome: { type: 'unhandled' } });
  });
});

describe('admit', () => {
  test('the registry is read per request: undefined means not synced', () => {
    const outcome = admit(
      'validate',
      request({ object: application({ name: 'k8s-team-a-dev' }, 'team-a') }),
      { ...deps, registry: undefined },
    );
    assert.deepEqual(outcome, { type: 'not-synced', kind: 'Application' });
  });

  test('DELETE on /mutate gives an empty patch without calling the policy', () => {
    const policy: AdmissionPolicy = {
      ...defaultPolicy,
      mutate: () => assert.fail('mutate called on DELETE'),
    };
    const outcome = admit(
      'mutate',
      request({ operation: 'DELETE', oldObject: application({ name: 'k8s-team-a-dev' }) }),
      { ...deps, policy },
    );
    assert.equal(outcome.type, 'patched');
    if (outcome.type === 'patched') assert.deepEqual(outcome.patch, []);
  });

  test('policy exceptions propagate (the adapter answers 500)', () => {
    const policy: AdmissionPolicy = {
      ...defaultPolicy,
      evaluate: () => {
        throw new Error('boom');
      },
    };
    assert.throws(
      () =>
        admit('validate', request({ object: application({ name: 'k8s-team-a-dev' }) }), { ...deps, policy }),
      /boom/,
    );
  });
});
