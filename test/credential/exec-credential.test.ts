import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTenantGuardError } from '../../src/errors.js';
import { buildExecCredential, formatTimestamp, readExecInfo } from '../../src/credential/exec-credential.js';
import { decodeJwtClaims, jwtExpiry, jwtSubject } from '../../src/credential/jwt-claims.js';
import { fakeJwt } from './fake-broker.js';

const V1 = 'client.authentication.k8s.io/v1';
const V1BETA1 = 'client.authentication.k8s.io/v1beta1';

describe('readExecInfo: the apiVersion', () => {
  const execCredentialApiVersion = (value: string | undefined) => readExecInfo(value).apiVersion;
  test('unset or empty: v1', () => {
    assert.equal(execCredentialApiVersion(undefined), V1);
    assert.equal(execCredentialApiVersion(''), V1);
  });
  test('follows KUBERNETES_EXEC_INFO as client-go sets it', () => {
    assert.equal(
      execCredentialApiVersion(
        JSON.stringify({ kind: 'ExecCredential', apiVersion: V1, spec: { interactive: false } }),
      ),
      V1,
    );
    assert.equal(
      execCredentialApiVersion(
        JSON.stringify({ kind: 'ExecCredential', apiVersion: V1BETA1, spec: { interactive: false } }),
      ),
      V1BETA1,
    );
  });
  const bad: Array<[string, string, RegExp]> = [
    ['not JSON', '{nope', /is not JSON/],
    ['no apiVersion', '{"kind":"ExecCredential"}', /has no apiVersion/],
    [
      'v1alpha1 (removed in Kubernetes 1.24)',
      JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1alpha1' }),
      /asks for "client.authentication.k8s.io\/v1alpha1"/,
    ],
  ];
  for (const [name, value, message] of bad) {
    test(`rejects ${name}`, () => {
      assert.throws(
        () => execCredentialApiVersion(value),
        (err: unknown) => isTenantGuardError(err, 'ERR_CREDENTIAL_EXEC_INFO') && message.test(err.message),
      );
    });
  }
});

describe('buildExecCredential', () => {
  test('reports expiry the margin before exp, in whole seconds', () => {
    const exp = Date.parse('2030-01-02T03:04:05.678Z');
    assert.deepEqual(buildExecCredential(V1, 'tok', exp, 10_000), {
      apiVersion: V1,
      kind: 'ExecCredential',
      status: { token: 'tok', expirationTimestamp: '2030-01-02T03:03:55Z' },
    });
  });
  test('no expiry known: no expirationTimestamp', () => {
    assert.deepEqual(buildExecCredential(V1BETA1, 'tok', undefined, 10_000), {
      apiVersion: V1BETA1,
      kind: 'ExecCredential',
      status: { token: 'tok' },
    });
  });
  test('formatTimestamp rounds down', () => {
    assert.equal(formatTimestamp(Date.parse('2030-01-01T00:00:00.999Z')), '2030-01-01T00:00:00Z');
  });
});

describe('jwt claims (unverified)', () => {
  test('reads exp and sub', () => {
    const t = fakeJwt({
      sub: 'system:serviceaccount:argocd:argocd-application-controller',
      exp: 1_900_000_000,
    });
    assert.equal(jwtExpiry(t), 1_900_000_000_000);
    assert.equal(jwtSubject(t), 'system:serviceaccount:argocd:argocd-application-controller');
  });
  const notJwts: Array<[string, string]> = [
    ['opaque token', 'abcdef'],
    ['two parts', 'a.b'],
    ['payload not JSON', `a.${Buffer.from('nope').toString('base64url')}.c`],
    ['payload an array', `a.${Buffer.from('[1]').toString('base64url')}.c`],
    ['payload with bad characters', 'a.b+c.d'],
  ];
  for (const [name, token] of notJwts) {
    test(`${name}: no claims`, () => {
      assert.equal(decodeJwtClaims(token), undefined);
      assert.equal(jwtExpiry(token), undefined);
    });
  }
  test('exp that is not a number is ignored', () => {
    assert.equal(jwtExpiry(fakeJwt({ exp: '1900000000' })), undefined);
    assert.equal(jwtSubject(fakeJwt({ sub: '' })), undefined);
  });
});
