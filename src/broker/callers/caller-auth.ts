/**
 * Caller authentication: who presents a caller token, by TokenReview, with a short cache of
 * positive reviews, a shorter one of failed reviews, a per-source limit before any review,
 * one shared review for concurrent requests with the same token, and a bounded review queue
 * in which callers the broker served before go first (by identity: served-callers.ts; a new
 * token's claimed identity is checked against the cluster's issuer keys when they could be
 * read, issuer-keys.ts).
 * Whether that caller may have a given target's token is `authorizeCaller`, a pure check.
 */
import { TenantGuardError } from '../../errors.js';
import { peekExpiry } from './bearer.js';
import type { CallerRateLimiter } from './rate-limiter.js';
import type { SignatureCheck, SignatureChecker } from './issuer-keys.js';
import { ExpiringLru, tokenKey } from './review-cache.js';
import { ReviewQueue, ReviewQueueFull } from './review-queue.js';
import { claimedIdentity, ServedCallers, type Identity } from './served-callers.js';
import type { ReviewOutcome, TokenReviewer } from './token-review.js';
import type { Clock } from '../../clock.js';

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
  /** Time a review may take, waiting in the queue included, in ms. */
  timeoutMs: number;
  /** How long a positive review is reused, in ms (0: never). */
  cacheTtlMs: number;
  /** Positive reviews kept. */
  cacheSize: number;
  /** TokenReviews at once. Default 8 (one kept for callers served before). */
  maxConcurrentReviews?: number;
  /** TokenReviews waiting, per lane; beyond, 503 ERR_BROKER_BUSY. Default 64. */
  maxQueuedReviews?: number;
  /** How long a failed review (not authenticated) is remembered, in ms (0: never). Default 5000. */
  failureCacheTtlMs?: number;
  /** Failed reviews remembered. Default 10000. */
  failureCacheSize?: number;
  /**
   * Per source address: requests whose token is not cached as authenticated take one token
   * from the source's bucket before any review. Undefined: no limit.
   */
  sourceLimiter?: CallerRateLimiter;
  /**
   * The cluster's service-account issuer keys (issuer-keys.ts): a new token claiming a
   * served identity takes its lane slot as verified when signed, none when forged. Undefined,
   * or no keys read: the claims choose, unverified (served-callers.ts).
   */
  issuerKeys?: SignatureChecker | undefined;
  now?: Clock;
  /** Told of every signature check that chose a review's lane, for metrics. */
  onLaneSignature?: (result: SignatureCheck) => void;
  /** Told of every review made (not of cache hits), for metrics; seconds it took. */
  onReview?: (outcome: 'authenticated' | 'unauthenticated' | 'error', seconds: number) => void;
}

/** A refusal the caller should retry later: 429 (source limit) or 503 (review queue full). */
export class RetryLaterError extends TenantGuardError {
  declare readonly code: 'ERR_BROKER_RATE_LIMITED' | 'ERR_BROKER_BUSY';

  constructor(
    code: 'ERR_BROKER_RATE_LIMITED' | 'ERR_BROKER_BUSY',
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(code, message);
  }
}

/**
 * Interprets a review: authenticated, with a user name, and (when an audience is set) with
 * that audience among `status.audiences`.
 * @throws TenantGuardError ERR_BROKER_UNAUTHENTICATED with a reason fit for the caller.
 */
export function callerFromReview(outcome: ReviewOutcome, audience: string): Caller {
  if (!outcome.authenticated || outcome.username === undefined) {
    throw new TenantGuardError(
      'ERR_BROKER_UNAUTHENTICATED',
      'caller token is not valid (TokenReview: not authenticated)',
    );
  }
  if (audience !== '' && !(outcome.audiences ?? []).includes(audience)) {
    throw new TenantGuardError(
      'ERR_BROKER_UNAUTHENTICATED',
      `caller token is not valid for audience "${audience}"`,
    );
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
  /** User names allowed for every target (the `--broker-allowed-callers` setting). */
  allowedCallers: readonly string[];
  /** Accept tokens not bound to a pod. */
  allowUnbound: boolean;
}

/** The answer of `authorizeCaller`. */
export type CallerDecision =
  | { allowed: true }
  | { allowed: false; code: 'ERR_BROKER_UNAUTHENTICATED' | 'ERR_BROKER_FORBIDDEN'; message: string };

/**
 * Decides whether an authenticated caller may have a token for `target`: its token must be
 * bound to a pod (unless allowed otherwise; a legacy or long-lived token is refused as a
 * credential, 401), and its user name must be allowed for every target or named by the
 * target's Tenant or cluster (`targetCallers`) (403).
 */
export function authorizeCaller(
  caller: Caller,
  target: string,
  policy: CallerPolicy,
  targetCallers: readonly string[] = [],
): CallerDecision {
  if (caller.pod === undefined && !policy.allowUnbound) {
    return {
      allowed: false,
      code: 'ERR_BROKER_UNAUTHENTICATED',
      message: 'caller token is not bound to a pod; use a projected ServiceAccount token',
    };
  }
  if (!policy.allowedCallers.includes(caller.username) && !targetCallers.includes(caller.username)) {
    return {
      allowed: false,
      code: 'ERR_BROKER_FORBIDDEN',
      message: `caller "${caller.username}" may not obtain tokens for target "${target}"; allow it in --broker-allowed-callers, or in the Tenant's spec.allowedCallers or its cluster's allowedCallers`,
    };
  }
  return { allowed: true };
}

/**
 * A positive review: the caller, reused until `reuseUntil`; the entry itself lives until the
 * token expires, and names the token's identity for its next review's lane.
 */
interface KnownCaller {
  caller: Caller;
  reuseUntil: number;
}

/** The identity of a reviewed caller, for the lane (served-callers.ts). */
function identityOf(caller: Caller): Identity {
  return { username: caller.username, uid: caller.uid, pod: caller.pod?.name };
}

/** Longest a positive review is kept (for its identity) when the token carries no `exp`, in ms. */
const KNOWN_WITHOUT_EXP_MS = 3_600_000;

/**
 * See the file comment. The order of checks, cheapest first, keeps unauthenticated work
 * bounded: a reusable positive review answers at once; otherwise the source address takes a
 * token from its bucket (429 when empty); a recently failed token is refused without a
 * review; concurrent requests with one token share one review; reviews pass through a
 * bounded queue (503 when full) in which tokens of callers served before go first. Only
 * served counts, not authenticated: any pod can hold a token the review accepts, and a
 * caller allowed no target once took the lane and its kept slot from the Argo CD controller
 * with 700 such tokens (a red-team review).
 */
export class CallerAuthenticator {
  private readonly known: ExpiringLru<KnownCaller>;
  private readonly failed: ExpiringLru<string>;
  private readonly inflight = new Map<string, Promise<Caller>>();
  private readonly queue: ReviewQueue;
  private readonly served = new ServedCallers();
  private readonly now: Clock;
  private readonly audiences: readonly string[];
  private readonly failureTtlMs: number;

  constructor(private readonly options: CallerAuthenticatorOptions) {
    this.known = new ExpiringLru(options.cacheSize);
    this.failed = new ExpiringLru(options.failureCacheSize ?? 10_000);
    this.failureTtlMs = options.failureCacheTtlMs ?? 5_000;
    this.queue = new ReviewQueue(options.maxConcurrentReviews ?? 8, options.maxQueuedReviews ?? 64);
    this.now = options.now ?? Date.now;
    this.audiences = options.audience === '' ? [] : [options.audience];
  }

  /** Reviews running and waiting (for tests and diagnostics). */
  get queueDepth(): { running: number; priority: number; other: number } {
    return this.queue.depth;
  }

  /**
   * The caller a token belongs to.
   * @param source the caller's network address, for the per-source limit (required: a
   *   route that left it out would skip that limit)
   * @throws TenantGuardError ERR_BROKER_UNAUTHENTICATED (the review says no, now or a moment ago),
   *   ERR_BROKER_REVIEW_UNAVAILABLE (no review in time, or an API error);
   *   RetryLaterError ERR_BROKER_RATE_LIMITED (the source's bucket is empty),
   *   ERR_BROKER_BUSY (the review queue is full).
   */
  authenticate(token: string, source: string): Promise<Caller> {
    const key = tokenKey(token);
    const now = this.now();
    const known = this.known.get(key, now);
    if (known !== undefined && now < known.reuseUntil) return Promise.resolve(known.caller);
    if (this.options.sourceLimiter !== undefined) {
      const rate = this.options.sourceLimiter.take(source, now);
      if (!rate.allowed) {
        return Promise.reject(
          new RetryLaterError(
            'ERR_BROKER_RATE_LIMITED',
            `too many unauthenticated token requests from ${source}; retry in ${rate.retryAfterSeconds}s`,
            rate.retryAfterSeconds,
          ),
        );
      }
    }
    const failure = this.failed.get(key, now);
    if (failure !== undefined)
      return Promise.reject(new TenantGuardError('ERR_BROKER_UNAUTHENTICATED', failure));
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    // A cached review's identity is verified; a new token's own claims are not, unless signed.
    const slot =
      known !== undefined ? this.served.take(identityOf(known.caller), true) : this.slotByClaims(token);
    const started = this.review(token, key, slot).finally(() => this.inflight.delete(key));
    this.inflight.set(key, started);
    return started;
  }

  /**
   * The lane slot of a token no cached review names, by its claims (served-callers.ts): the
   * signature is checked only for claims that could have a slot (a served identity and
   * uid), so other tokens cost no verification. It only ever chooses a lane.
   */
  private slotByClaims(token: string): string | undefined {
    const claimed = claimedIdentity(token);
    const keys = this.options.issuerKeys;
    if (keys === undefined || !this.served.knows(claimed)) return this.served.take(claimed, false);
    const signature = keys.check(token);
    this.options.onLaneSignature?.(signature);
    switch (signature) {
      case 'signed':
        return this.served.take(claimed, true) ?? this.served.take(claimed, false);
      case 'forged':
        return undefined;
      case 'unknown':
        return this.served.take(claimed, false);
    }
  }

  /** @param slot the priority slot taken for this review (released here), or undefined: the other lane */
  private async review(token: string, key: string, slot: string | undefined): Promise<Caller> {
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(
          new TenantGuardError(
            'ERR_BROKER_REVIEW_UNAVAILABLE',
            `TokenReview failed: no answer in ${this.options.timeoutMs} ms`,
          ),
        ),
      this.options.timeoutMs,
    );
    const aborted = new Promise<never>((_resolve, reject) =>
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }),
    );
    aborted.catch(() => undefined);
    let outcome: ReviewOutcome;
    const started = performance.now();
    const report = (what: 'authenticated' | 'unauthenticated' | 'error'): void =>
      this.options.onReview?.(what, (performance.now() - started) / 1000);
    try {
      outcome = await this.queue.run(
        () => Promise.race([this.options.reviewer.review(token, this.audiences, controller.signal), aborted]),
        slot !== undefined,
        controller.signal,
      );
    } catch (err) {
      if (err instanceof ReviewQueueFull)
        throw new RetryLaterError('ERR_BROKER_BUSY', err.message, err.retryAfterSeconds);
      report('error');
      if (err instanceof TenantGuardError) throw err;
      throw new TenantGuardError('ERR_BROKER_REVIEW_UNAVAILABLE', 'TokenReview failed', { cause: err });
    } finally {
      clearTimeout(timer);
      if (slot !== undefined) this.served.release(slot);
    }
    const now = this.now();
    let caller: Caller;
    try {
      caller = callerFromReview(outcome, this.options.audience);
    } catch (err) {
      report('unauthenticated');
      // Remembered briefly, as the API server's own token authenticator does, so that a
      // repeated bad token costs no review; an API failure (above) is never remembered.
      if (err instanceof TenantGuardError) this.failed.set(key, err.message, now + this.failureTtlMs, now);
      this.known.delete(key);
      throw err;
    }
    report('authenticated');
    const tokenExp = peekExpiry(token);
    const reuseUntil = Math.min(now + this.options.cacheTtlMs, tokenExp ?? Number.POSITIVE_INFINITY);
    this.known.set(key, { caller, reuseUntil }, tokenExp ?? now + KNOWN_WITHOUT_EXP_MS, now);
    return caller;
  }

  /**
   * The broker authorized this caller for a target: reviews of its tokens, this one and the
   * ones it gets next (rotated, or after a restart), go first in the queue from now on
   * (callers that were only authenticated wait with the others).
   */
  vouch(caller: Caller): void {
    this.served.remember(identityOf(caller));
  }
}
