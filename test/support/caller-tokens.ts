/**
 * Caller tokens for tests: JWT-shaped strings like a projected ServiceAccount token, plus the
 * identity the test API server's TokenReview should report for them. `makeCallerToken`
 * writes a fake signature (the broker reads such a token's `exp` and identity claims
 * unverified; the TokenReview decides the rest); `signCallerToken` signs with a test issuer
 * key (`makeIssuerKey`, `testIssuerKeys`) as the API server signs with its own, for the
 * checks of issuer-keys.ts, whose JWKS the keys' `jwk`s make.
 */
import {
  createHash,
  generateKeyPairSync,
  randomBytes,
  sign,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { serviceAccountUser, type KnownToken } from './test-api-server.js';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** The claims of `makeCallerToken` and `signCallerToken`. */
export interface CallerClaims {
  sub: string;
  aud?: string[];
  /** Epoch seconds; undefined: none. */
  exp?: number;
  /** Further claims (a projected token's `kubernetes.io`, say). */
  more?: Record<string, unknown>;
}

function payloadOf(claims: CallerClaims): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    iss: 'https://kubernetes.default.svc.cluster.local',
    sub: claims.sub,
    aud: claims.aud ?? ['tenant-guard'],
    iat: Math.floor(Date.now() / 1000),
    jti: randomBytes(8).toString('hex'),
  };
  if (claims.exp !== undefined) payload.exp = claims.exp;
  Object.assign(payload, claims.more);
  return payload;
}

/** A JWT-shaped caller token with a fake signature. */
export function makeCallerToken(claims: CallerClaims): string {
  return `${b64url({ alg: 'RS256', kid: 'test' })}.${b64url(payloadOf(claims))}.${randomBytes(32).toString('base64url')}`;
}

/** A signing key as the API server's service-account issuer has one, and its JWKS entry. */
export interface TestIssuerKey {
  alg: 'RS256' | 'ES256';
  kid: string;
  privateKey: KeyObject;
  /** The public JWK as `/openid/v1/jwks` lists it (`use`, `kty`, `kid`, `alg`, key members). */
  jwk: JsonWebKey & { kid: string; alg: string; use: 'sig' };
}

/** A new key; its `kid` the API server's: base64url SHA-256 of the public key's DER. */
export function makeIssuerKey(alg: 'RS256' | 'ES256'): TestIssuerKey {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64url');
  return { alg, kid, privateKey, jwk: { use: 'sig', ...publicKey.export({ format: 'jwk' }), kid, alg } };
}

let shared: { rsa: TestIssuerKey; ec: TestIssuerKey } | undefined;

/** An RSA and an EC key made once per test process, and the JWKS of both. */
export function testIssuerKeys(): { rsa: TestIssuerKey; ec: TestIssuerKey; jwks: { keys: JsonWebKey[] } } {
  shared ??= { rsa: makeIssuerKey('RS256'), ec: makeIssuerKey('ES256') };
  return { ...shared, jwks: { keys: [shared.rsa.jwk, shared.ec.jwk] } };
}

/**
 * A compact JWS of `payload` signed with `key` (ECDSA in IEEE P1363 form, as JWS writes it),
 * under the header the API server writes (`alg`, `kid`), with `header`'s members over it.
 */
export function signJws(
  payload: Record<string, unknown>,
  key: TestIssuerKey,
  header: Record<string, unknown> = {},
): string {
  const input = `${b64url({ alg: key.alg, kid: key.kid, ...header })}.${b64url(payload)}`;
  const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** A caller token as `makeCallerToken`'s, signed with `key`. */
export function signCallerToken(claims: CallerClaims, key: TestIssuerKey): string {
  return signJws(payloadOf(claims), key);
}

/** Options of `serviceAccountToken`. */
export interface CallerTokenOptions {
  namespace?: string;
  name?: string;
  /** Pod the token is bound to; null: an unbound (legacy Secret-style) token. Default `argocd-application-controller-0`. */
  pod?: string | null;
  /** Audiences of the token. Default ['tenant-guard']. */
  audiences?: string[];
  /** `exp` in epoch seconds. Default an hour from now. */
  exp?: number;
}

/** A caller token and what the TokenReview says of it; register it with `api.addToken(token, known)`. */
export function serviceAccountToken(o: CallerTokenOptions = {}): {
  token: string;
  known: KnownToken;
  username: string;
} {
  const namespace = o.namespace ?? 'argocd';
  const name = o.name ?? 'argocd-application-controller';
  const exp = o.exp ?? Math.floor(Date.now() / 1000) + 3600;
  const user = serviceAccountUser(
    namespace,
    name,
    o.pod === null ? undefined : { name: o.pod ?? `${name}-0` },
  );
  const token = makeCallerToken({ sub: user.username, aud: o.audiences ?? ['tenant-guard'], exp });
  return {
    token,
    username: user.username,
    known: { ...user, tokenAudiences: o.audiences ?? ['tenant-guard'], expiresAt: exp * 1000 },
  };
}
