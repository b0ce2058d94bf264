/**
 * TokenReview for the test API server: what a test decides a caller token is.
 */
import { randomUUID } from 'node:crypto';

/** The audiences a default (non-projected) token carries: the API server's own. */
export const API_SERVER_AUDIENCES = ['https://kubernetes.default.svc.cluster.local'];

/** `spec` of a TokenReview as received. */
export interface TokenReviewRequest {
  token: string;
  audiences: string[];
}

/** What the reviewed token is (the `status.user` of a positive review). */
export interface ReviewedUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/**
 * How the server answers one TokenReview:
 * - `{authenticated: true, user, audiences}`: a positive review (`status.audiences` as given);
 * - `{authenticated: false, error}`: a negative review (HTTP 201, `status.error`);
 * - `{apiError: {code, message}}`: the request itself fails with an API error Status;
 * - `{hang: true}`: never answered.
 */
export type TokenReviewAnswer =
  | { authenticated: true; user: ReviewedUser; audiences?: string[] }
  | { authenticated: false; error?: string }
  | { apiError: { code: number; reason?: string; message?: string } }
  | { hang: true };

export type TokenReviewHandler = (
  request: TokenReviewRequest,
) => TokenReviewAnswer | Promise<TokenReviewAnswer>;

/** A token the default handler knows. */
export interface KnownToken extends ReviewedUser {
  /** Audiences the token was issued for. Default: the API server's (a legacy or default token). */
  tokenAudiences?: string[];
  /** When the token expires (ms since the epoch); a review after that is negative. */
  expiresAt?: number;
}

/** A pod-bound ServiceAccount identity, as the API server reports a projected token's. */
export function serviceAccountUser(
  namespace: string,
  name: string,
  pod?: { name: string; uid?: string; node?: string },
): ReviewedUser {
  const extra: Record<string, string[]> = {};
  if (pod !== undefined) {
    extra['authentication.kubernetes.io/pod-name'] = [pod.name];
    extra['authentication.kubernetes.io/pod-uid'] = [pod.uid ?? randomUUID()];
    if (pod.node !== undefined) extra['authentication.kubernetes.io/node-name'] = [pod.node];
    extra['authentication.kubernetes.io/credential-id'] = [`JTI=${randomUUID()}`];
  }
  return {
    username: `system:serviceaccount:${namespace}:${name}`,
    uid: randomUUID(),
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
    extra,
  };
}

/**
 * The default handler: looks the token up among the known ones and answers as the API
 * server's authenticator does: unknown token or expired: not authenticated; requested
 * audiences (or, when none are requested, the API server's) must intersect the token's,
 * and `status.audiences` is that intersection.
 */
export function knownTokensHandler(known: Map<string, KnownToken>, now: () => number): TokenReviewHandler {
  return ({ token, audiences }) => {
    const entry = known.get(token);
    if (entry === undefined)
      return { authenticated: false, error: '[invalid bearer token, token lookup failed]' };
    if (entry.expiresAt !== undefined && now() >= entry.expiresAt)
      return {
        authenticated: false,
        error: '[invalid bearer token, square/go-jose/jwt: validation failed, token is expired (exp)]',
      };
    const wanted = audiences.length > 0 ? audiences : API_SERVER_AUDIENCES;
    const has = entry.tokenAudiences ?? API_SERVER_AUDIENCES;
    const both = wanted.filter((a) => has.includes(a));
    if (both.length === 0)
      return {
        authenticated: false,
        error:
          '[invalid bearer token, token audiences ["' +
          has.join('","') +
          '"] is invalid for the target audiences ["' +
          wanted.join('","') +
          '"]]',
      };
    const { tokenAudiences: _a, expiresAt: _e, ...user } = entry;
    return { authenticated: true, user, audiences: both };
  };
}

/** The TokenReview object the API server answers (it echoes the spec). */
export function tokenReviewBody(
  request: TokenReviewRequest,
  answer: Extract<TokenReviewAnswer, { authenticated: boolean }>,
): Record<string, unknown> {
  const spec =
    request.audiences.length > 0
      ? { token: request.token, audiences: request.audiences }
      : { token: request.token };
  const status = answer.authenticated
    ? {
        authenticated: true,
        user: { groups: [], ...answer.user },
        ...(answer.audiences !== undefined ? { audiences: answer.audiences } : {}),
      }
    : { user: {}, error: answer.error ?? 'token not recognised' };
  return {
    kind: 'TokenReview',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec,
    status,
  };
}
