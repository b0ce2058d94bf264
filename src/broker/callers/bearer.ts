/**
 * Reading the caller's bearer token and, without verifying it, its expiry.
 */
import { decodeJwt } from 'jose';

/** RFC 6750 `b64token`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/**
 * Longest caller token read, in characters. Projected ServiceAccount tokens are about 1 KB
 * (1.5 KB with node and credential claims); anything longer is refused before any work, so
 * that large bogus tokens cost neither a review nor memory held while one is waited for.
 */
export const MAX_TOKEN_LENGTH = 8 * 1024;

/** The outcome of reading an Authorization header. */
export type BearerResult =
  { ok: true; token: string } | { ok: false; reason: 'missing' | 'malformed' | 'too-long' };

/** Reads `Authorization: Bearer <token>` (scheme case-insensitive). */
export function parseBearer(header: string | undefined): BearerResult {
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
  if (header.length > MAX_TOKEN_LENGTH + 64) return { ok: false, reason: 'too-long' };
  const m = /^Bearer +(\S+)\s*$/i.exec(header);
  const token = m?.[1];
  if (token !== undefined && token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'too-long' };
  if (token === undefined || !B64TOKEN.test(token)) return { ok: false, reason: 'malformed' };
  return { ok: true, token };
}

/**
 * The `exp` of a JWT in epoch ms, read without verifying anything (the TokenReview does
 * that): only to keep a cached review from outliving the token. Undefined when the token is
 * not a JWT or has no numeric `exp`.
 */
export function peekExpiry(token: string): number | undefined {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
