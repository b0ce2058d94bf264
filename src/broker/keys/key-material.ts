/**
 * Signing keys: generation, the stored JSON form, and its strict parsing (a store's content
 * is untrusted input: another replica, an operator or a bug may have written it).
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { TenantGuardError } from '../../errors.js';
import { isRecord } from '../../json.js';
import type { KeyRecord, SigningAlg } from './key-ring.js';

/** Makes a new key: RSA 2048 for RS256, P-256 for ES256. `kid` is the RFC 7638 thumbprint. */
export async function generateKeyRecord(
  alg: SigningAlg,
  createdAt: number,
  notBefore: number,
): Promise<KeyRecord> {
  const { privateKey, publicKey } = await generateKeyPair(
    alg,
    alg === 'RS256' ? { modulusLength: 2048, extractable: true } : { extractable: true },
  );
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  return {
    kid,
    alg,
    createdAt,
    notBefore,
    privateJwk: { ...privateJwk, kid, alg },
    publicJwk: publicOnly({ ...publicJwk, kid, alg }),
  };
}

const PUBLIC_MEMBERS: ReadonlyMap<string, readonly string[]> = new Map([
  ['RSA', ['kty', 'n', 'e']],
  ['EC', ['kty', 'crv', 'x', 'y']],
]);

/** The public members of a JWK plus kid, alg and `use: sig`: never a private parameter. */
export function publicOnly(jwk: JWK): JWK {
  const members = PUBLIC_MEMBERS.get(jwk.kty ?? '') ?? [];
  const source: Record<string, unknown> = { ...jwk };
  const out: Record<string, string> = { use: 'sig' };
  for (const m of [...members, 'kid', 'alg']) {
    const value = source[m];
    if (typeof value === 'string') out[m] = value;
  }
  return out;
}

/** The stored form of a key (one JSON document per key). */
export function serializeKeyRecord(record: KeyRecord): string {
  return JSON.stringify({
    kid: record.kid,
    alg: record.alg,
    createdAt: record.createdAt,
    notBefore: record.notBefore,
    jwk: record.privateJwk,
  });
}

function stringMembers(value: Record<string, unknown>): JWK {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * Parses a stored key and checks that `kid` is the thumbprint of its public key, so a record
 * cannot claim another key's id.
 * @throws TenantGuardError ERR_KEYRING_STORE naming `source` (never the key material).
 */
export async function parseKeyRecord(text: string, source: string): Promise<KeyRecord> {
  const fail = (why: string): TenantGuardError =>
    new TenantGuardError('ERR_KEYRING_STORE', `key ring entry ${source}: ${why}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw fail('is not JSON');
  }
  if (!isRecord(doc)) throw fail('is not a JSON object');
  const { kid, alg, createdAt, notBefore, jwk } = doc;
  if (typeof kid !== 'string' || kid === '') throw fail('kid is missing');
  if (alg !== 'RS256' && alg !== 'ES256') throw fail(`alg ${JSON.stringify(alg)} is not RS256 or ES256`);
  if (
    typeof createdAt !== 'number' ||
    typeof notBefore !== 'number' ||
    !Number.isFinite(createdAt) ||
    !Number.isFinite(notBefore)
  )
    throw fail('createdAt and notBefore must be numbers');
  if (!isRecord(jwk)) throw fail('jwk is missing');
  const privateJwk = stringMembers(jwk);
  if (typeof privateJwk.d !== 'string') throw fail('jwk holds no private key');
  if (
    (alg === 'RS256' && privateJwk.kty !== 'RSA') ||
    (alg === 'ES256' && (privateJwk.kty !== 'EC' || privateJwk.crv !== 'P-256'))
  )
    throw fail(`jwk does not fit ${alg}`);
  const publicJwk = publicOnly({ ...privateJwk, kid, alg });
  let thumbprint: string;
  try {
    thumbprint = await calculateJwkThumbprint(publicJwk, 'sha256');
  } catch {
    throw fail('jwk is not a valid public key');
  }
  if (thumbprint !== kid) throw fail('kid is not the thumbprint of its key');
  return { kid, alg, createdAt, notBefore, privateJwk: { ...privateJwk, kid, alg }, publicJwk };
}
