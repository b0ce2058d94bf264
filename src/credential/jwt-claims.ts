/**
 * Reads a JWT's payload WITHOUT verifying it. The plugin only uses what it reads for its own
 * bookkeeping (when to stop reusing a token, whose cache entry it is); the remote cluster
 * and the broker verify tokens, not the plugin.
 * @returns the claims object, or undefined when `token` is not a JWS compact serialisation
 *          whose payload is a JSON object
 */
export function decodeJwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined || !/^[A-Za-z0-9_-]+$/.test(parts[1])) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
    return Object.fromEntries(Object.entries(payload));
  } catch {
    return undefined;
  }
}

/**
 * The `exp` claim of a JWT, unverified.
 * @returns milliseconds since the epoch, or undefined when absent or not a positive number
 */
export function jwtExpiry(token: string): number | undefined {
  const exp = decodeJwtClaims(token)?.['exp'];
  return typeof exp === 'number' && Number.isFinite(exp) && exp > 0 ? exp * 1000 : undefined;
}

/** The `sub` claim of a JWT, unverified; undefined when absent or not a non-empty string. */
export function jwtSubject(token: string): string | undefined {
  const sub = decodeJwtClaims(token)?.['sub'];
  return typeof sub === 'string' && sub !== '' ? sub : undefined;
}
