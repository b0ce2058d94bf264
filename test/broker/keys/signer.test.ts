import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { generateKeyRecord } from '../../../src/broker/keys/key-material.js';
import type { KeyRecord, SigningAlg } from '../../../src/broker/keys/key-ring.js';
import { NBF_SKEW_SECONDS, signToken, type TokenClaims } from '../../../src/broker/keys/signer.js';
import { isTenantGuardError } from '../../../src/errors.js';

const claims: TokenClaims = {
  issuer: 'https://broker.example.com/tenant-guard',
  subject: 'tenantguard:k8s-team-a-dev',
  audience: 'k8s-team-a-dev',
  groups: ['tenant-admins', 'viewers'],
  ttlSeconds: 60,
  caller: 'system:serviceaccount:argocd:argocd-application-controller',
};
const NOW = 1_780_000_000_123;

describe('the signer makes JWS compact tokens that jose verifies with the published key', () => {
  for (const alg of ['ES256', 'RS256'] as const) {
    test(alg, async () => {
      const record = await generateKeyRecord(alg, 0, 0);
      const signed = await signToken(record, claims, NOW);
      assert.deepEqual(decodeProtectedHeader(signed.token), { alg, kid: record.kid, typ: 'JWT' });
      const { payload } = await jwtVerify(signed.token, await importJWK(record.publicJwk, alg), {
        algorithms: [alg],
        issuer: claims.issuer,
        audience: claims.audience,
        subject: claims.subject,
        currentDate: new Date(NOW),
      });
      const iat = Math.floor(NOW / 1000);
      assert.deepEqual(payload, {
        act: { sub: claims.caller },
        groups: claims.groups,
        iss: claims.issuer,
        sub: claims.subject,
        aud: claims.audience,
        iat,
        nbf: iat - NBF_SKEW_SECONDS,
        exp: iat + 60,
        jti: signed.jti,
      });
      assert.deepEqual([signed.iat, signed.exp, signed.kid], [iat, iat + 60, record.kid]);
      // ES256 signatures are r||s (64 bytes, RFC 7518 section 3.4), not DER.
      const signature = Buffer.from(signed.token.split('.')[2]!, 'base64url');
      assert.equal(signature.length, alg === 'ES256' ? 64 : 256);
    });
  }

  test('no groups claim when the target grants none', async () => {
    const record = await generateKeyRecord('ES256', 0, 0);
    const signed = await signToken(record, { ...claims, groups: [] }, NOW);
    const { payload } = await jwtVerify(signed.token, await importJWK(record.publicJwk, 'ES256'), {
      currentDate: new Date(NOW),
    });
    assert.equal('groups' in payload, false);
  });

  test('every jti is 16 random bytes and none repeats, across refills of the pool', async () => {
    const record = await generateKeyRecord('ES256', 0, 0);
    const seen = new Set<string>();
    // The pool holds 256 ids: 700 tokens cross at least two refills.
    for (let i = 0; i < 700; i++) {
      const { jti } = await signToken(record, claims, NOW);
      assert.match(jti, /^[A-Za-z0-9_-]{22}$/);
      seen.add(jti);
    }
    assert.equal(seen.size, 700);
  });
});

describe('a stored key that does not sign as it is published is refused, not used', () => {
  const mixed = async (alg: SigningAlg): Promise<KeyRecord> => {
    // The private scalar (or exponent) of one key under the public parameters of another:
    // the JWK imports, and every token it signed would fail at the API servers.
    const record = await generateKeyRecord(alg, 0, 0);
    const other =
      alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
        : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const o = other.export({ format: 'jwk' }) as Record<string, string>;
    const names = alg === 'ES256' ? ['d'] : ['d', 'p', 'q', 'dp', 'dq', 'qi'];
    const privateParts = Object.fromEntries(names.map((n) => [n, o[n]!]));
    return { ...record, privateJwk: { ...record.privateJwk, ...privateParts } };
  };
  // Node 24's OpenSSL refuses such a JWK at import already; Node 20's imports it, and the
  // pairwise test refuses it. Either way: no signature, and the store's code.
  const refused = (err: unknown): boolean => {
    assert.ok(isTenantGuardError(err, 'ERR_KEYRING_STORE'), String(err));
    assert.match(
      err.message,
      /is not the (ES256|RS256) key its kid and JWK publish|is not a usable private key/,
    );
    return true;
  };

  for (const alg of ['ES256', 'RS256'] as const)
    test(`${alg}: a private part from another key`, async () => {
      await assert.rejects(signToken(await mixed(alg), claims, NOW), refused);
    });

  test('a bad record is judged once: every later token gets the same refusal, no new import', async () => {
    const record = await mixed('ES256');
    const first = await signToken(record, claims, NOW).catch((err: unknown) => err);
    const second = await signToken(record, claims, NOW).catch((err: unknown) => err);
    assert.ok(refused(first));
    assert.equal(second, first);
  });

  test('a key of the other algorithm', async () => {
    const rsa = await generateKeyRecord('RS256', 0, 0);
    await assert.rejects(signToken({ ...rsa, alg: 'ES256' }, claims, NOW), refused);
  });

  test('a JWK that is no key at all, without echoing it', async () => {
    const record = await generateKeyRecord('ES256', 0, 0);
    const broken = { ...record, privateJwk: { ...record.privateJwk, crv: 'P-384', d: 'c2VjcmV0' } };
    await assert.rejects(signToken(broken, claims, NOW), (err: unknown) => {
      assert.ok(isTenantGuardError(err, 'ERR_KEYRING_STORE'));
      assert.match(err.message, /is not a usable private key/);
      assert.doesNotMatch(err.message, /c2VjcmV0/);
      return true;
    });
  });
});
