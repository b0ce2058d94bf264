/**
 * The service-account issuer's JWKS of the test API server: `GET /openid/v1/jwks` (and with
 * a trailing slash: the API server's RBAC names both), answered as the API server answers it,
 * `Content-Type: application/jwk-set+json` (client-node's OpenidApi asks for
 * `application/json, *\/*;q=0.8` and parses any `+json` answer). Unset: 404 NotFound, an API
 * server without issuer discovery. Fail it with `api.inject({ verb: 'jwks' }, { status: 403 })`.
 */
import type { ServerResponse } from 'node:http';
import { ApiStatusError, failure } from './api-status.js';

/** The paths served. */
export const JWKS_PATHS: readonly string[] = ['/openid/v1/jwks', '/openid/v1/jwks/'];

/** Writes `jwks` (a JWKS object, or text sent as it is). @throws ApiStatusError 404 when unset. */
export function sendJwks(res: ServerResponse, jwks: unknown): void {
  if (jwks === undefined)
    throw new ApiStatusError(failure(404, 'NotFound', 'the server could not find the requested resource'));
  const text = typeof jwks === 'string' ? jwks : JSON.stringify(jwks);
  res.writeHead(200, {
    'Content-Type': 'application/jwk-set+json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}
