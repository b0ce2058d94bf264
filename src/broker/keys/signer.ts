/**
 * Signing a target token (SPEC section 7) with jose.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { signingKeyOf } from './key-material.js';
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

/** Signs `claims` with `key` at `now` (epoch ms): `exp` = `iat` + TTL, `nbf` = `iat` - 30 s. */
export async function signToken(key: KeyRecord, claims: TokenClaims, now: number): Promise<SignedToken> {
  const iat = Math.floor(now / 1000);
  const exp = iat + claims.ttlSeconds;
  const jti = randomBytes(16).toString('base64url');
  const payload: Record<string, unknown> = { act: { sub: claims.caller } };
  if (claims.groups.length > 0) payload.groups = [...claims.groups];
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(claims.issuer)
    .setSubject(claims.subject)
    .setAudience(claims.audience)
    .setIssuedAt(iat)
    .setNotBefore(iat - NBF_SKEW_SECONDS)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(await signingKeyOf(key));
  return { token, jti, kid: key.kid, iat, exp };
}
