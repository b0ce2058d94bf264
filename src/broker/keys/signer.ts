/**
 * Signing a target token (SPEC section 7): a JWS compact serialization (RFC 7515) signed
 * with node:crypto. jose 6 signs only through WebCrypto, where every signature is a job on
 * libuv's thread pool behind a promise: 81 µs an ES256 token here against 28 µs for the
 * same signature made in place (ADR 0010). jose still makes the keys, their JWKs and their
 * thumbprints; the tests check every token with jose's and go-oidc's verifiers.
 */
import {
  createPrivateKey,
  createPublicKey,
  randomFillSync,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { TenantGuardError } from '../../errors.js';
import type { KeyRecord } from './key-ring.js';

/** How far `nbf` is back-dated for clock skew, in seconds (the spec allows up to a minute). */
export const NBF_SKEW_SECONDS = 30;

/** What a token says. */
export interface TokenClaims {
  /** Byte for byte the discovery `issuer`. */
  issuer: string;
  subject: string;
  audience: string;
  /** `groups` claim, left out when empty. */
  groups: readonly string[];
  ttlSeconds: number;
  /** User name of the caller, as `act.sub` (RFC 8693). */
  caller: string;
}

/** A signed token with the claims the audit record names. */
export interface SignedToken {
  token: string;
  jti: string;
  kid: string;
  /** Epoch seconds. */
  iat: number;
  exp: number;
}

/** A record's private key and encoded protected header, made once per record. */
interface PreparedKey {
  readonly key: KeyObject;
  /** base64url of `{"alg":…,"kid":…,"typ":"JWT"}`, and the dot after it. */
  readonly headerDot: string;
}

/** Each record's key, or why it cannot sign: a bad record is judged once, not per token. */
const prepared = new WeakMap<KeyRecord, PreparedKey | TenantGuardError>();

/**
 * Whether `key` signs what the record's `publicJwk` (whose thumbprint parseKeyRecord checked
 * against `kid`) verifies: a pairwise test, one signature and its check per record. A stored
 * JWK whose private part belongs to another key imports (its public half is read from the
 * JWK, not derived) and would sign tokens no API server accepts.
 */
function signsAsPublished(record: KeyRecord, key: KeyObject): boolean {
  if (key.asymmetricKeyType !== (record.alg === 'RS256' ? 'rsa' : 'ec')) return false;
  const probe = Buffer.from(`tenant-guard pairwise test of ${record.kid}`);
  const options = { dsaEncoding: 'ieee-p1363' } as const;
  try {
    const published = createPublicKey({ key: record.publicJwk as JsonWebKey, format: 'jwk' });
    const signature = sign('sha256', probe, { key, ...options });
    return verify('sha256', probe, { key: published, ...options }, signature);
  } catch {
    return false;
  }
}

function prepare(record: KeyRecord): PreparedKey {
  let ready = prepared.get(record);
  if (ready === undefined) {
    ready = preparedOrWhyNot(record);
    prepared.set(record, ready);
  }
  if (ready instanceof TenantGuardError) throw ready;
  return ready;
}

function preparedOrWhyNot(record: KeyRecord): PreparedKey | TenantGuardError {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: record.privateJwk as JsonWebKey, format: 'jwk' });
  } catch {
    // The reason would quote nothing secret, but a store's bytes are not ours to echo.
    return new TenantGuardError('ERR_KEYRING_STORE', `key ${record.kid} is not a usable private key`);
  }
  if (!signsAsPublished(record, key))
    return new TenantGuardError(
      'ERR_KEYRING_STORE',
      `key ${record.kid}: its private key is not the ${record.alg} key its kid and JWK publish`,
    );
  const header = JSON.stringify({ alg: record.alg, kid: record.kid, typ: 'JWT' });
  return { key, headerDot: `${Buffer.from(header).toString('base64url')}.` };
}

/**
 * 16 random bytes for a `jti`, drawn from a pool refilled from the CSPRNG every 256 ids
 * (what node:crypto's randomUUID does): one randomBytes(16) call costs ~6 µs here.
 */
const JTI_BYTES = 16;
const jtiPool = Buffer.alloc(JTI_BYTES * 256);
let jtiOffset = jtiPool.length;

function newJti(): string {
  if (jtiOffset === jtiPool.length) {
    randomFillSync(jtiPool);
    jtiOffset = 0;
  }
  const jti = jtiPool.toString('base64url', jtiOffset, jtiOffset + JTI_BYTES);
  jtiOffset += JTI_BYTES;
  return jti;
}

/**
 * The signature of `input`: ES256 in place (P-256 costs less than a hop to the thread pool;
 * IEEE P1363 r||s, as JWS wants, not DER), RS256 on the thread pool (a 2048-bit RSA
 * signature holds the event loop ~0.4 ms).
 */
function signatureOf(alg: KeyRecord['alg'], key: KeyObject, input: Buffer): Promise<Buffer> {
  if (alg === 'ES256') return Promise.resolve(sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' }));
  return new Promise((resolve, reject) =>
    sign('sha256', input, key, (err, signature) => (err === null ? resolve(signature) : reject(err))),
  );
}

/** Signs `claims` with `key` at `now` (epoch ms): `exp` = `iat` + TTL, `nbf` = `iat` - 30 s. */
export async function signToken(key: KeyRecord, claims: TokenClaims, now: number): Promise<SignedToken> {
  const { key: privateKey, headerDot } = prepare(key);
  const iat = Math.floor(now / 1000);
  const exp = iat + claims.ttlSeconds;
  const jti = newJti();
  const payload: Record<string, unknown> = { act: { sub: claims.caller } };
  if (claims.groups.length > 0) payload.groups = [...claims.groups];
  payload.iss = claims.issuer;
  payload.sub = claims.subject;
  payload.aud = claims.audience;
  payload.iat = iat;
  payload.nbf = iat - NBF_SKEW_SECONDS;
  payload.exp = exp;
  payload.jti = jti;
  const input = `${headerDot}${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const signature = await signatureOf(key.alg, privateKey, Buffer.from(input));
  return { token: `${input}.${signature.toString('base64url')}`, jti, kid: key.kid, iat, exp };
}
