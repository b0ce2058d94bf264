/**
 * The cluster's ServiceAccount issuer keys as data (the JWKS the API server serves at
 * `/openid/v1/jwks`), and the check of a caller token's signature against them: pure (no
 * I/O; the time is given), so that issuer-keys.ts only fetches, keeps and schedules.
 *
 * Only what Kubernetes signs ServiceAccount tokens with is accepted: RS256 for an RSA key,
 * ES256, ES384 or ES512 for an EC key of P-256, P-384 or P-521 (the API server derives the
 * algorithm from its key: k8s.io/kubernetes pkg/serviceaccount/jwt.go), the header's `alg`
 * that of the key. Everything is bounded: the JWKS's size and key count, the token's length
 * (bearer.ts), its header's, and the keys a token without `kid` is tried against. Nothing
 * here echoes a token or key material.
 * https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#service-account-issuer-discovery
 */
import { constants, createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { isRecord, ownValue } from '../../json.js';
import { MAX_TOKEN_LENGTH } from './bearer.js';

/** The signature algorithms of ServiceAccount tokens. */
export type IssuerAlg = 'RS256' | 'ES256' | 'ES384' | 'ES512';

const HASH: Readonly<Record<IssuerAlg, string>> = {
  RS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
};
const CURVE_ALG: Readonly<Record<string, IssuerAlg>> = {
  'P-256': 'ES256',
  'P-384': 'ES384',
  'P-521': 'ES512',
};
/** An ECDSA signature in IEEE P1363 form (r || s), as JWS writes it, in bytes. */
const EC_SIGNATURE_BYTES: Readonly<Record<string, number>> = { ES256: 64, ES384: 96, ES512: 132 };

/** Largest JWKS read, in bytes of its JSON (a cluster's has a few keys of under 1 KiB each). */
export const MAX_JWKS_BYTES = 64 * 1024;
/** Most keys in a JWKS; beyond, the whole set is refused. */
export const MAX_ISSUER_KEYS = 32;
/** Longest protected header read, in base64url characters (Kubernetes writes about 100). */
export const MAX_HEADER_LENGTH = 1024;
/** Keys a token without `kid` is tried against (Kubernetes has written a `kid` since 1.16). */
export const MAX_KIDLESS_TRIES = 4;
const MAX_KID_LENGTH = 256;
/** RSA modulus sizes accepted, in bits: below is weak, above costs more per check than it is worth. */
const RSA_BITS = { min: 2048, max: 8192 } as const;

/** One verification key, imported once. */
export interface IssuerKey {
  readonly kid: string | undefined;
  readonly alg: IssuerAlg;
  readonly key: KeyObject;
}

/**
 * The keys of a JWKS, with the `kid`s of the entries that could not be used (a 1024-bit RSA
 * key, say) and how many there were; or why none can be.
 */
export type JwksReading =
  | { ok: true; keys: IssuerKey[]; unusable: ReadonlySet<string>; skipped: number }
  | { ok: false; reason: string };

/**
 * What a token's signature says: `unknown-kid` when its `kid` names no key of the JWKS,
 * `unusable-key` when it names only keys that could not be used (the cluster may well sign
 * with one: it cannot be told here).
 */
export type TokenSignature = 'signed' | 'forged' | 'unknown-kid' | 'unusable-key';

const isAlg = (value: unknown): value is IssuerAlg => typeof value === 'string' && Object.hasOwn(HASH, value);
const B64URL = /^[A-Za-z0-9_-]+$/;

/** The JSON text of a JWKS as received: client-node parses `application/jwk-set+json` itself. */
function jwksText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/**
 * Reads a JWKS (its JSON text, or that text already parsed). Entries that are not public
 * signature keys of an accepted algorithm, or do not import, are skipped and counted.
 * Refused whole: more than MAX_JWKS_BYTES or MAX_ISSUER_KEYS, not a JWKS, or no usable key.
 */
export function readIssuerJwks(value: unknown): JwksReading {
  const text = jwksText(value);
  if (text === undefined) return { ok: false, reason: 'the answer is not JSON' };
  if (text.length > MAX_JWKS_BYTES || Buffer.byteLength(text) > MAX_JWKS_BYTES)
    return { ok: false, reason: `the JWKS is larger than ${MAX_JWKS_BYTES} bytes` };
  let doc: unknown;
  try {
    doc = typeof value === 'string' ? JSON.parse(text) : value;
  } catch {
    return { ok: false, reason: 'the answer is not JSON' };
  }
  const entries = isRecord(doc) ? ownValue(doc, 'keys') : undefined;
  if (!Array.isArray(entries)) return { ok: false, reason: 'the answer is not a JWKS (no keys list)' };
  if (entries.length > MAX_ISSUER_KEYS)
    return { ok: false, reason: `the JWKS has ${entries.length} keys, more than ${MAX_ISSUER_KEYS}` };
  const keys: IssuerKey[] = [];
  const unusable = new Set<string>();
  for (const entry of entries) {
    const key = importKey(entry);
    if (key !== undefined) keys.push(key);
    else if (isRecord(entry) && typeof ownValue(entry, 'kid') === 'string') unusable.add(String(entry.kid));
  }
  if (keys.length === 0) return { ok: false, reason: `none of the JWKS's ${entries.length} keys is usable` };
  return { ok: true, keys, unusable, skipped: entries.length - keys.length };
}

function stringMember(jwk: Record<string, unknown>, name: string): string | undefined {
  const value = ownValue(jwk, name);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A JWKS entry's public key, or undefined. Only its public members are read (never `d`). */
function importKey(entry: unknown): IssuerKey | undefined {
  if (!isRecord(entry)) return undefined;
  const use = ownValue(entry, 'use');
  const kid = ownValue(entry, 'kid');
  const alg = ownValue(entry, 'alg');
  if (use !== undefined && use !== 'sig') return undefined;
  if (kid !== undefined && (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH))
    return undefined;
  const kty = ownValue(entry, 'kty');
  const members = kty === 'RSA' ? ['n', 'e'] : kty === 'EC' ? ['crv', 'x', 'y'] : [];
  const jwk: Record<string, string> = { kty: String(kty) };
  for (const name of members) {
    const value = stringMember(entry, name);
    if (value === undefined) return undefined;
    jwk[name] = value;
  }
  const crv = jwk.crv ?? '';
  const expected = kty === 'RSA' ? 'RS256' : Object.hasOwn(CURVE_ALG, crv) ? CURVE_ALG[crv] : undefined;
  if (members.length === 0 || expected === undefined || (alg ?? expected) !== expected) return undefined;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return undefined;
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (kty === 'RSA' && (bits === undefined || bits < RSA_BITS.min || bits > RSA_BITS.max)) return undefined;
  return { kid: typeof kid === 'string' ? kid : undefined, alg: expected, key };
}

/** A base64url segment's JSON object, or undefined. */
function segmentObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function verifiesWith(key: IssuerKey, input: Buffer, signature: Buffer): boolean {
  try {
    return key.alg === 'RS256'
      ? verify(HASH.RS256, input, { key: key.key, padding: constants.RSA_PKCS1_PADDING }, signature)
      : verify(HASH[key.alg], input, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/**
 * Whether `token` (a JWS compact serialisation) is signed by one of `jwks`'s keys, under the
 * key its `kid` names (without one: the first MAX_KIDLESS_TRIES keys of its `alg`), with
 * that key's algorithm, and, when it has an `exp`, not expired at `nowMs`. `forged` for
 * anything else, malformed or oversized tokens included; `unknown-kid` when the `kid` names
 * no key (the keys may have changed since they were read); `unusable-key` when it names only
 * an entry that could not be used.
 */
export function checkTokenSignature(
  token: string,
  jwks: { keys: readonly IssuerKey[]; unusable: ReadonlySet<string> },
  nowMs: number,
): TokenSignature {
  const { keys } = jwks;
  if (token.length > MAX_TOKEN_LENGTH) return 'forged';
  const [head = '', body = '', sig = '', ...more] = token.split('.');
  if (more.length > 0 || head.length > MAX_HEADER_LENGTH) return 'forged';
  if (!B64URL.test(head) || !B64URL.test(body) || !B64URL.test(sig)) return 'forged';
  const header = segmentObject(head);
  const alg = header === undefined ? undefined : ownValue(header, 'alg');
  const kid = header === undefined ? undefined : ownValue(header, 'kid');
  // `crit` names extensions a verifier must understand (RFC 7515 4.1.11): Kubernetes uses none.
  if (header === undefined || !isAlg(alg) || ownValue(header, 'crit') !== undefined) return 'forged';
  if (kid !== undefined && typeof kid !== 'string') return 'forged';
  const named = kid === undefined ? keys : keys.filter((k) => k.kid === kid);
  if (named.length === 0 && kid !== undefined) return jwks.unusable.has(kid) ? 'unusable-key' : 'unknown-kid';
  const candidates = named.filter((k) => k.alg === alg).slice(0, MAX_KIDLESS_TRIES);
  const signature = Buffer.from(sig, 'base64url');
  const ecBytes = EC_SIGNATURE_BYTES[alg];
  if (candidates.length === 0 || (ecBytes !== undefined && signature.length !== ecBytes)) return 'forged';
  const input = Buffer.from(`${head}.${body}`, 'ascii');
  if (!candidates.some((k) => verifiesWith(k, input, signature))) return 'forged';
  const claims = segmentObject(body);
  const exp = claims === undefined ? null : ownValue(claims, 'exp');
  if (exp === null) return 'forged';
  if (exp !== undefined && (typeof exp !== 'number' || !Number.isFinite(exp) || exp * 1000 <= nowMs))
    return 'forged';
  return 'signed';
}
