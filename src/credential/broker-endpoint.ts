/**
 * The BROKER argument of the exec plugin: where it asks for a token and in which of the two
 * forms (the JSON `/v1/tokens` endpoint, or the drop-in `/api/get-target-token` of the
 * original OpenUnison design; SPEC section 6).
 */
import { TenantGuardError } from '../errors.js';

/** Path of the broker's JSON token endpoint (SPEC section 6). */
export const TOKENS_PATH = '/v1/tokens';
/** Path of the drop-in endpoint of the original OpenUnison design (SPEC section 6). */
export const TARGET_TOKEN_PATH = '/api/get-target-token';

/**
 * Where and how the plugin asks for a token:
 * - `tokens`: `POST url` with `{"target": NAME}`, answered with `{token, expirationTimestamp}`;
 * - `target-token`: `GET url?targetName=NAME`, answered with the token as plain text.
 */
export interface BrokerEndpoint {
  kind: 'tokens' | 'target-token';
  /** The endpoint URL, without a query. */
  url: URL;
  /** `scheme://host[:port]`, for messages. */
  origin: string;
}

function invalid(raw: string, why: string): TenantGuardError {
  return new TenantGuardError(
    'ERR_CREDENTIAL_USAGE',
    `BROKER "${raw}" ${why}; give a host name or an https URL`,
  );
}

/**
 * Interprets the BROKER argument.
 *
 * - `host`, `host:port`: `https://host[:port]`, the JSON endpoint at `/v1/tokens`.
 * - `https://host[:port]`: the same.
 * - a path ending in `/v1/tokens`: that URL is the JSON endpoint.
 * - a path ending in `/api/get-target-token` (the original shell plugin's `host/api/get-target-token`
 *   style, also without scheme): that URL is the drop-in GET endpoint, so the plugin also works
 *   against the original OpenUnison broker; the expiry then comes from the token's `exp`.
 * - any other path: a prefix the broker is served under (behind an ingress), the JSON endpoint
 *   at `<prefix>/v1/tokens`.
 *
 * @throws TenantGuardError ERR_CREDENTIAL_USAGE for anything but https, for user info, a query or a fragment.
 */
export function resolveBrokerEndpoint(raw: string): BrokerEndpoint {
  const text = raw.trim();
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  if (hasScheme && !/^https:\/\//i.test(text))
    throw invalid(raw, 'is not an https URL (the caller token must not travel in clear)');
  let url: URL;
  try {
    url = new URL(hasScheme ? text : `https://${text}`);
  } catch (cause) {
    throw new TenantGuardError(
      'ERR_CREDENTIAL_USAGE',
      `BROKER "${raw}" is not a host name or URL; give a host name or an https URL`,
      { cause },
    );
  }
  if (url.hostname === '') throw invalid(raw, 'has no host');
  if (url.username !== '' || url.password !== '') throw invalid(raw, 'carries user info');
  if (url.search !== '' || text.endsWith('?')) throw invalid(raw, 'carries a query');
  if (url.hash !== '' || text.endsWith('#')) throw invalid(raw, 'carries a fragment');

  const path = url.pathname.replace(/\/+$/, '');
  const origin = url.origin;
  if (path.endsWith(TARGET_TOKEN_PATH)) return { kind: 'target-token', url: new URL(path, origin), origin };
  if (path.endsWith(TOKENS_PATH)) return { kind: 'tokens', url: new URL(path, origin), origin };
  return { kind: 'tokens', url: new URL(`${path}${TOKENS_PATH}`, origin), origin };
}
