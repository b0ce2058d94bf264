import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTlsError } from '../../src/credential/broker-client.js';

function err(code: string): Error {
  return Object.assign(new Error(code), { code });
}

describe('isTlsError: TLS failures are not retried, network failures are', () => {
  const tls = [
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'CERT_HAS_EXPIRED',
    'CERT_SIGNATURE_FAILURE',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'ERR_SSL_WRONG_VERSION_NUMBER',
    'EPROTO',
  ];
  for (const code of tls) test(`${code}: TLS`, () => assert.equal(isTlsError(err(code)), true));
  const network = ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH'];
  for (const code of network) test(`${code}: not TLS`, () => assert.equal(isTlsError(err(code)), false));
  test('no code: not TLS', () => assert.equal(isTlsError(new Error('x')), false));
});
