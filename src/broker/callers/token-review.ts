/**
 * The TokenReview call, through @kubernetes/client-node: the one network operation of caller
 * authentication, apart from the checks on its result (caller-auth.ts).
 */
import { AuthenticationV1Api, type KubeConfig, type V1TokenReview } from '@kubernetes/client-node';
import { TenantGuardError } from '../../errors.js';
import { isRecord } from '../../json.js';
import { describeApiFailure, withSignal } from '../../kube/kube-call.js';

/** What a TokenReview said, narrowed. */
export interface ReviewOutcome {
  authenticated: boolean;
  username?: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
  /** `status.audiences`, when the API server stated them. */
  audiences?: string[];
  /** `status.error`, for the log (never shown to callers). */
  error?: string;
}

/** Reviews a caller token. Implementations throw ERR_BROKER_REVIEW_UNAVAILABLE when no answer is to be had. */
export interface TokenReviewer {
  review(token: string, audiences: readonly string[], signal: AbortSignal): Promise<ReviewOutcome>;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Narrows a TokenReview answer (it is an API server's, but our code must not assume its shape). */
export function readReviewStatus(review: V1TokenReview | undefined): ReviewOutcome {
  const s: unknown = review?.status;
  if (!isRecord(s))
    return { authenticated: false, groups: [], extra: {}, error: 'no status in the TokenReview answer' };
  const user = isRecord(s.user) ? s.user : {};
  const extra: Record<string, string[]> = {};
  if (isRecord(user.extra)) {
    for (const [k, v] of Object.entries(user.extra)) extra[k] = strings(v);
  }
  const outcome: ReviewOutcome = {
    authenticated: s.authenticated === true,
    groups: strings(user.groups),
    extra,
  };
  if (typeof user.username === 'string' && user.username !== '') outcome.username = user.username;
  if (typeof user.uid === 'string' && user.uid !== '') outcome.uid = user.uid;
  if (Array.isArray(s.audiences)) outcome.audiences = strings(s.audiences);
  if (typeof s.error === 'string' && s.error !== '') outcome.error = s.error;
  return outcome;
}

/**
 * A TokenReviewer that calls `POST /apis/authentication.k8s.io/v1/tokenreviews` with the
 * given KubeConfig's credentials. The request is aborted when `signal` fires.
 */
export function createKubeTokenReviewer(kc: KubeConfig): TokenReviewer {
  const api = kc.makeApiClient(AuthenticationV1Api);
  return {
    async review(token, audiences, signal) {
      const body: V1TokenReview = {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, ...(audiences.length > 0 ? { audiences: [...audiences] } : {}) },
      };
      try {
        return readReviewStatus(await api.createTokenReview({ body }, withSignal(signal)));
      } catch (err) {
        // Never the error's own message: client-node puts the response body and headers in it.
        throw new TenantGuardError(
          'ERR_BROKER_REVIEW_UNAVAILABLE',
          `TokenReview failed: ${describeApiFailure(err, signal.aborted)}`,
        );
      }
    },
  };
}
