/**
 * OIDC discovery for the broker's issuer: the document, the JWKS location, and the path the
 * issuer is served under. Pure: the router serves what these return.
 */
import { TenantGuardError } from '../errors.js';

/** Where the JWKS lives under the issuer (the path API servers use for their own). */
export const JWKS_SUFFIX = '/openid/v1/jwks';
export const DISCOVERY_SUFFIX = '/.well-known/openid-configuration';

/**
 * Checks an issuer URL: https (http only for loopback), no user info, query or fragment.
 * @throws TenantGuardError ERR_SETTINGS_INVALID naming --issuer.
 */
export function checkIssuer(issuer: string): URL {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new TenantGuardError(
      'ERR_SETTINGS_INVALID',
      `setting --issuer "${issuer}" is not a URL; use https://HOST[:PORT][/PATH]`,
    );
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw new TenantGuardError(
      'ERR_SETTINGS_INVALID',
      `setting --issuer "${issuer}" must be an https URL (API servers only accept https issuers)`,
    );
  if (
    url.username !== '' ||
    url.password !== '' ||
    url.search !== '' ||
    url.hash !== '' ||
    issuer.includes('?') ||
    issuer.includes('#')
  ) {
    throw new TenantGuardError(
      'ERR_SETTINGS_INVALID',
      `setting --issuer "${issuer}" must not carry user info, a query or a fragment`,
    );
  }
  return url;
}

/**
 * The issuer a broker serving on `host:port` has when none is configured (`--issuer` and
 * TG_ISSUER unset): `https://<host>:<port>`, where its discovery document is, with a wildcard
 * host read as 127.0.0.1 (as `serve` prints its URL). Undefined for port 0 (any free port),
 * which is known only once listening: give `--issuer` then.
 */
export function defaultIssuer(host: string, port: number): string | undefined {
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  const shown =
    host === '0.0.0.0' || host === '::' || host === ''
      ? '127.0.0.1'
      : host.includes(':') && !host.startsWith('[')
        ? `[${host}]`
        : host;
  return `https://${shown}:${port}`;
}

/** The issuer without a trailing slash: what discovery and JWKS URLs are built on (as go-oidc does). */
function base(issuer: string): string {
  return issuer.replace(/\/+$/, '');
}

/** The path the issuer's documents are served under: '' for `https://host`, '/broker' for `https://host/broker/`. */
export function issuerPath(issuer: string): string {
  return checkIssuer(issuer).pathname.replace(/\/+$/, '');
}

export function jwksUri(issuer: string): string {
  return `${base(issuer)}${JWKS_SUFFIX}`;
}

/** The discovery document: `issuer` byte for byte as configured. */
export function discoveryDocument(issuer: string, algorithms: readonly string[]): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: jwksUri(issuer),
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [...algorithms],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'groups', 'act'],
  };
}

/** `Cache-Control` of discovery and JWKS. */
export function cacheControl(maxAgeSeconds: number): string {
  return `public, max-age=${maxAgeSeconds}`;
}
