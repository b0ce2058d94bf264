/**
 * Caller authentication: who presents a caller token, by TokenReview, with a short cache of
 * positive reviews and one shared review for concurrent requests with the same token.
 * Whether that caller may have a given target's token is `authorizeCaller`, a pure check.
 */
import { TenantGuardError } from '../errors.js';
import { peekExpiry } from './bearer.js';
import { ExpiringLru, tokenKey } from './review-cache.js';
import type { ReviewOutcome, TokenReviewer } from './token-review.js';

export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';

/** An authenticated caller. */
export interface Caller {
  username: string;
  uid?: string;
  groups: readonly string[];
  /** The pod the token is bound to, when it is. */
  pod?: { name: string; uid?: string };
}

/** Options of `CallerAuthenticator`. */
export interface CallerAuthenticatorOptions {
  reviewer: TokenReviewer;
  /** Audience asked of the review and required in `status.audiences`; '' asks none. */
  audience: string;
  /** Review timeout in ms. */
  timeoutMs: number;
  /** How long a positive review is reused, in ms (0: never). */
  cacheTtlMs: number;
  /** Positive reviews kept. */
  cacheSize: number;
  now?: () => number;
  /** Told of every review made (not of cache hits), for metrics; seconds it took. */
  onReview?: (outcome: 'authenticated' | 'unauthenticated' | 'error', seconds: number) => void;
}

/**
 * Interprets a review: authenticated, with a user name, and (when an audience is set) with
 * that audience among `status.audiences`.
 * @throws TenantGuardError ERR_BROKER_UNAUTHENTICATED with a reason fit for the caller.
 */
export function callerFromReview(outcome: ReviewOutcome, audience: string): Caller {
  if (!outcome.authenticated || outcome.username === undefined) {
    throw new TenantGuardError('ERR_BROKER_UNAUTHENTICATED', 'caller token is not valid (TokenReview: not authenticated)');
  }
  if (audience !== '' && !(outcome.audiences ?? []).includes(audience)) {
    throw new TenantGuardError('ERR_BROKER_UNAUTHENTICATED', `caller token is not valid for audience "${audience}"`);
  }
  const caller: Caller = { username: outcome.username, groups: outcome.groups };
  if (outcome.uid !== undefined) caller.uid = outcome.uid;
  const podName = outcome.extra[POD_NAME_EXTRA]?.[0];
  if (podName !== undefined && podName !== '') {
    const podUid = outcome.extra[POD_UID_EXTRA]?.[0];
    caller.pod = podUid !== undefined && podUid !== '' ? { name: podName, uid: podUid } : { name: podName };
  }
  return caller;
}

/** The policy of who may have which target's token. */
export interface CallerPolicy {
  /** User names allowed for every target. */
  allowedCallers: readonly string[];
  /** Accept tokens not bound to a pod. */
  allowUnbound: boolean;
}

/** The answer of `authorizeCaller`. */
export type CallerDecision = { allowed: true } | { allowed: false; code: 'ERR_BROKER_UNAUTHENTICATED' | 'ERR_BROKER_FORBIDDEN'; message: string };

/**
 * Decides whether an authenticated caller may have a token for `target`: its token must be
 * bound to a pod (unless allowed otherwise; a legacy or long-lived token is refused as a
 * credential, 401), and its user name must be allowed (403).
 */
export function authorizeCaller(caller: Caller, target: string, policy: CallerPolicy): CallerDecision {
  if (caller.pod === undefined && !policy.allowUnbound) {
    return { allowed: false, code: 'ERR_BROKER_UNAUTHENTICATED', message: 'caller token is not bound to a pod; use a projected ServiceAccount token' };
  }
  if (!policy.allowedCallers.includes(caller.username)) {
    return { allowed: false, code: 'ERR_BROKER_FORBIDDEN', message: `caller "${caller.username}" may not obtain tokens for target "${target}"` };
  }
  return { allowed: true };
}

/** See the file comment. */
export class CallerAuthenticator {
  private readonly cache: ExpiringLru<Caller>;
  private readonly inflight = new Map<string, Promise<Caller>>();
  private readonly now: () => number;
  private readonly audiences: readonly string[];

  constructor(private readonly options: CallerAuthenticatorOptions) {
    this.cache = new ExpiringLru(options.cacheSize);
    this.now = options.now ?? Date.now;
    this.audiences = options.audience === '' ? [] : [options.audience];
  }

  /**
   * The caller a token belongs to.
   * @throws TenantGuardError ERR_BROKER_UNAUTHENTICATED (the review says no),
   *   ERR_BROKER_REVIEW_UNAVAILABLE (no review in time, or an API error).
   */
  authenticate(token: string): Promise<Caller> {
    const key = tokenKey(token);
    const cached = this.cache.get(key, this.now());
    if (cached !== undefined) return Promise.resolve(cached);
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    const started = this.review(token, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, started);
    return started;
  }

  private async review(token: string, key: string): Promise<Caller> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new TenantGuardError('ERR_BROKER_REVIEW_UNAVAILABLE', `TokenReview failed: no answer in ${this.options.timeoutMs} ms`));
      }, this.options.timeoutMs);
    });
    let outcome: ReviewOutcome;
    const started = performance.now();
    const report = (what: 'authenticated' | 'unauthenticated' | 'error'): void => this.options.onReview?.(what, (performance.now() - started) / 1000);
    try {
      outcome = await Promise.race([this.options.reviewer.review(token, this.audiences, controller.signal), timeout]);
    } catch (err) {
      report('error');
      if (err instanceof TenantGuardError) throw err;
      throw new TenantGuardError('ERR_BROKER_REVIEW_UNAVAILABLE', 'TokenReview failed', { cause: err });
    } finally {
      clearTimeout(timer);
    }
    let caller: Caller;
    try {
      caller = callerFromReview(outcome, this.options.audience);
    } catch (err) {
      report('unauthenticated');
      throw err;
    }
    report('authenticated');
    const now = this.now();
    const tokenExp = peekExpiry(token);
    const until = Math.min(now + this.options.cacheTtlMs, tokenExp ?? Number.POSITIVE_INFINITY);
    this.cache.set(key, caller, until, now);
    return caller;
  }
}
