/**
 * Caller tokens for tests: JWT-shaped strings like a projected ServiceAccount token (the
 * broker reads only their `exp` and identity claims, unverified; the TokenReview decides the
 * rest), plus the identity the test API server's TokenReview should report for them.
 */
import { randomBytes } from 'node:crypto';
import { serviceAccountUser, type KnownToken } from './test-api-server.js';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/**
 * A JWT-shaped caller token with a fake signature; `exp` in epoch seconds (undefined: none);
 * `more`: further claims (a projected token's `kubernetes.io`, say).
 */
export function makeCallerToken(claims: {
  sub: string;
  aud?: string[];
  exp?: number;
  more?: Record<string, unknown>;
}): string {
  const payload: Record<string, unknown> = {
    iss: 'https://kubernetes.default.svc.cluster.local',
    sub: claims.sub,
    aud: claims.aud ?? ['tenant-guard'],
    iat: Math.floor(Date.now() / 1000),
    jti: randomBytes(8).toString('hex'),
  };
  if (claims.exp !== undefined) payload.exp = claims.exp;
  Object.assign(payload, claims.more);
  return `${b64url({ alg: 'RS256', kid: 'test' })}.${b64url(payload)}.${randomBytes(32).toString('base64url')}`;
}

/** Options of `serviceAccountToken`. */
export interface CallerTokenOptions {
  namespace?: string;
  name?: string;
  /** Pod the token is bound to; null: an unbound (legacy Secret-style) token. Default `argocd-application-controller-0`. */
  pod?: string | null;
  /** Audiences of the token. Default ['tenant-guard']. */
  audiences?: string[];
  /** `exp` in epoch seconds. Default an hour from now. */
  exp?: number;
}

/** A caller token and what the TokenReview says of it; register it with `api.addToken(token, known)`. */
export function serviceAccountToken(o: CallerTokenOptions = {}): {
  token: string;
  known: KnownToken;
  username: string;
} {
  const namespace = o.namespace ?? 'argocd';
  const name = o.name ?? 'argocd-application-controller';
  const exp = o.exp ?? Math.floor(Date.now() / 1000) + 3600;
  const user = serviceAccountUser(
    namespace,
    name,
    o.pod === null ? undefined : { name: o.pod ?? `${name}-0` },
  );
  const token = makeCallerToken({ sub: user.username, aud: o.audiences ?? ['tenant-guard'], exp });
  return {
    token,
    username: user.username,
    known: { ...user, tokenAudiences: o.audiences ?? ['tenant-guard'], expiresAt: exp * 1000 },
  };
}
