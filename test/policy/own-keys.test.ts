/**
 * Issue 8 item 8 outside the cluster Secret rules: lookup tables read own keys only, so a key
 * named after an Object.prototype member is a key like any other.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { publicOnly } from '../../src/broker/keys/key-material.js';
import { clusterSecretRules } from '../../src/policy/cluster-secret.js';
import { getLabels } from '../../src/policy/object-paths.js';
import { policyContext } from '../support/policy-fixtures.js';

const context = policyContext('two-teams');

function withLabels(json: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's', labels: JSON.parse(json) as unknown },
    data: {},
  };
}

describe('own keys only', () => {
  test('getLabels keeps a __proto__ label and finds no inherited one', () => {
    const labels = getLabels(withLabels('{"__proto__":"x","a":"b"}'));
    assert.equal(labels['__proto__'], 'x');
    assert.deepEqual(Object.keys(labels), ['__proto__', 'a']);
    for (const key of ['constructor', 'toString', 'hasOwnProperty'])
      assert.equal(getLabels(withLabels('{}'))[key], undefined, key);
  });

  test('a change of a __proto__ label is a material change of a cluster Secret', () => {
    const before = withLabels('{"argocd.argoproj.io/secret-type":"cluster","__proto__":"x"}');
    const after = withLabels('{"argocd.argoproj.io/secret-type":"cluster","__proto__":"y"}');
    assert.equal(clusterSecretRules.hasMaterialChange(before, after, context), true);
  });

  test('publicOnly of a JWK whose kty is an Object.prototype member keeps nothing private and does not throw', () => {
    for (const kty of ['constructor', 'toString', '__proto__']) {
      assert.deepEqual(
        publicOnly({ kty, d: 'private', kid: 'k', alg: 'RS256' }),
        { use: 'sig', kid: 'k', alg: 'RS256' },
        kty,
      );
    }
  });
});
