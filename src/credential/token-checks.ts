/**
 * What the plugin checks before it prints or caches a token (SPEC section 6, issue 15 item 6).
 * The plugin verifies no signature (the remote API server does), but it refuses to hand over
 * a token that cannot be the one asked for or that is already spent:
 *
 * - a JWT must carry the target's audience in `aud`, and no other (expected: `--audience`,
 *   else the audience the broker's JSON answer states, else the target name), and a numeric
 *   `exp`: a token whose `aud` also names another audience is accepted by that cluster too;
 * - its expiry is the earlier of `exp` and the broker's `expirationTimestamp`;
 * - an opaque (non-JWT) token needs a stated `expirationTimestamp`; without one it is refused;
 * - any token counts as expiring at most `MAX_TOKEN_REUSE_MS` from now (the longest TTL a
 *   Tenant may set), whatever it or the broker says: a JWT whose `exp` is in 2100 (or
 *   1e300, past what a Date holds) is not cached and handed to client-go as a long-lived
 *   credential;
 * - a token whose expiry minus the margin is not after now is refused: client-go would
 *   treat it as expired at once (and a token printed expired only fails on the remote side).
 */
import { TenantGuardError } from '../errors.js';
import type { IssuedToken } from './broker-answer.js';
import { decodeJwtClaims, jwtExpiry } from './jwt-claims.js';

/** Longest any token is reused: 900 s, the longest token TTL a Tenant may set. */
export const MAX_TOKEN_REUSE_MS = 900_000;

/** What a token handed over must match. */
export interface TokenExpectations {
  target: string;
  /** `--audience`; undefined: the broker's stated audience, else the target name. */
  audience?: string;
  /** ms since the epoch */
  now: number;
  /** `--expiry-margin`, ms */
  marginMs: number;
}

/** A token fit to print: its effective expiry (ms since the epoch) is more than the margin ahead. */
export interface CheckedToken {
  token: string;
  expiresAt: number;
  audience?: string;
}

function refuse(message: string): TenantGuardError {
  return new TenantGuardError('ERR_CREDENTIAL_BROKER', message);
}

function audiences(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Checks a token from the broker or the cache against `e` (see the file comment).
 * @throws TenantGuardError ERR_CREDENTIAL_BROKER saying what is wrong (never the token).
 */
export function checkIssuedToken(issued: IssuedToken, e: TokenExpectations): CheckedToken {
  const claims = decodeJwtClaims(issued.token);
  let expiresAt: number;
  let audience: string | undefined;
  if (claims !== undefined) {
    audience = e.audience ?? issued.audience ?? e.target;
    const aud = audiences(claims['aud']);
    if (aud.length === 0)
      throw refuse(`the token for target "${e.target}" has no aud claim; expected "${audience}"`);
    const others = aud.filter((a) => a !== audience);
    if (others.length > 0 && others.length < aud.length)
      // Valid at every API server it names: a token for one cluster names only that one.
      throw refuse(
        `the token for target "${e.target}" is for audiences ${JSON.stringify(aud.slice(0, 3)).slice(0, 200)}, not only "${audience}"; refusing a token other clusters accept too`,
      );
    if (others.length > 0) {
      const how =
        e.audience !== undefined
          ? '--audience'
          : issued.audience !== undefined
            ? "the broker's stated audience"
            : 'the target name; give --audience when the Tenant sets another';
      throw refuse(
        `the token for target "${e.target}" is for audience ${JSON.stringify(aud.slice(0, 3)).slice(0, 200)}, not "${audience}" (${how}); refusing another cluster's token`,
      );
    }
    const exp = jwtExpiry(issued.token);
    if (exp === undefined) throw refuse(`the token for target "${e.target}" has no numeric exp claim`);
    expiresAt = Math.min(exp, issued.statedExpiresAt ?? Number.POSITIVE_INFINITY, e.now + MAX_TOKEN_REUSE_MS);
  } else {
    if (issued.statedExpiresAt === undefined) {
      throw refuse(
        `the broker answered an opaque (non-JWT) token for target "${e.target}" without expirationTimestamp; its audience and expiry cannot be checked`,
      );
    }
    expiresAt = Math.min(issued.statedExpiresAt, e.now + MAX_TOKEN_REUSE_MS);
  }
  if (expiresAt - e.marginMs <= e.now) {
    throw refuse(
      `the token for target "${e.target}" expires at ${rfc3339(expiresAt)}, not more than --expiry-margin ${e.marginMs / 1000}s after now (${rfc3339(e.now)}); check the broker's and this host's clocks`,
    );
  }
  return audience === undefined
    ? { token: issued.token, expiresAt }
    : { token: issued.token, expiresAt, audience };
}
