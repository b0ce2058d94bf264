/**
 * The cluster's ServiceAccount issuer keys, fetched from the API server (`/openid/v1/jwks`)
 * and kept, so that a caller token's signature can be checked before its TokenReview: only
 * ever to choose the review's lane (served-callers.ts), never to authenticate: the review
 * alone decides who a token is and whether it is still valid (a deleted pod, a recreated
 * ServiceAccount).
 *
 * Why: the lane is chosen by identity, and for a token with no cached review that identity
 * is the token's own claims. Anyone who knows the Argo CD controller's ServiceAccount UID
 * could forge tokens claiming it and hold the controller's claimed slot, delaying a rotated
 * controller token's first review under a flood. A signature made by the cluster's issuer
 * keys cannot be forged, so a signed token takes the slot as verified and a forged one none.
 *
 * Kept keys are refreshed every `refreshIntervalMs` and, at most once per `minRefreshGapMs`,
 * when a token names a `kid` the keys lack (the cluster's keys may have changed). A failed
 * fetch keeps the keys held; until a fetch has succeeded the check answers `unknown` and the
 * lane is chosen as before (a cluster whose RBAC denies the JWKS keeps working as it did).
 * Keys not refreshed for `staleAfterMs` still judge the tokens they name, but a `kid` they
 * lack is `unknown` then, not `forged`: a cluster that rotated its signing key while the
 * JWKS could not be read must not send its controller's tokens to the other lane for good.
 * So is a `kid` of a JWKS entry that could not be used (issuer-jwks.ts: a weak RSA key, an
 * algorithm Kubernetes does not sign with): what that key signs cannot be told here.
 */
import { OpenidApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import { isTenantGuardError, TenantGuardError } from '../../errors.js';
import { describeApiFailure, withSignal } from '../../kube/kube-call.js';
import { LogThrottle } from '../../server/log-throttle.js';
import { checkTokenSignature, readIssuerJwks, type IssuerKey } from './issuer-jwks.js';
import { unrefInterval, type Every } from '../../every.js';

const NO_KEYS = { keys: [] as readonly IssuerKey[], unusable: new Set<string>() as ReadonlySet<string> };

/**
 * A token's signature, as far as the lane goes: `signed` by a current issuer key (and not
 * expired), `forged` (any other signature, algorithm or `kid`), or `unknown`: no keys to
 * tell by.
 */
export type SignatureCheck = 'signed' | 'forged' | 'unknown';

/** What caller-auth.ts needs of the issuer keys. */
export interface SignatureChecker {
  /** Synchronous, bounded; never throws. */
  check(token: string): SignatureCheck;
}

/** Where the JWKS comes from. */
export interface IssuerKeySource {
  /**
   * The JWKS: its JSON text, or that text parsed. Rejects with a message fit for the log.
   * @param signal aborts the request (timeout, or `close()`)
   */
  fetch(signal: AbortSignal): Promise<unknown>;
}

/** Options of `IssuerKeys`. */
export interface IssuerKeysOptions {
  source: IssuerKeySource;
  logger: Logger;
  now?: Clock;
  /** How often the keys are fetched again, in ms. Default 10 minutes. */
  refreshIntervalMs?: number;
  /** Least time between two fetches asked for by unknown `kid`s (or by a check with no keys), in ms. Default 30 s. */
  minRefreshGapMs?: number;
  /** How long keys not refreshed still call a `kid` they lack `forged`, in ms. Default 3 refresh intervals. */
  staleAfterMs?: number;
  /** How long a fetch may take, in ms. Default 5 s. */
  fetchTimeoutMs?: number;
  /** Runs `task` every `ms`, returning its stopper. Default an unref'd setInterval (tests inject theirs). */
  every?: Every;
}

/** See the file comment. */
export class IssuerKeys implements SignatureChecker {
  private jwks = NO_KEYS;
  /** When the keys held were last read (epoch ms). */
  private loadedAt = Number.NEGATIVE_INFINITY;
  /** When the last fetch started (epoch ms), for `minRefreshGapMs`. */
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private running: Promise<void> | undefined;
  private stopTimer: (() => void) | undefined;
  private readonly stopper = new AbortController();
  private readonly failures: LogThrottle;
  private readonly now: Clock;
  private readonly refreshIntervalMs: number;
  private readonly minRefreshGapMs: number;
  private readonly staleAfterMs: number;

  constructor(private readonly options: IssuerKeysOptions) {
    this.now = options.now ?? Date.now;
    this.refreshIntervalMs = options.refreshIntervalMs ?? 600_000;
    this.minRefreshGapMs = options.minRefreshGapMs ?? 30_000;
    this.staleAfterMs = options.staleAfterMs ?? 3 * this.refreshIntervalMs;
    // A failing fetch is retried at most every minRefreshGapMs: one line per refresh interval.
    this.failures = new LogThrottle(this.refreshIntervalMs, this.now);
  }

  /** Keys held (the tenant_guard_broker_issuer_keys gauge, tests). */
  get size(): number {
    return this.jwks.keys.length;
  }

  /** Fetches the keys once (never rejects) and then every refresh interval until `close()`. */
  start(): Promise<void> {
    if (this.stopTimer === undefined && !this.stopper.signal.aborted)
      this.stopTimer = (this.options.every ?? unrefInterval)(
        this.refreshIntervalMs,
        () => void this.refresh(),
      );
    return this.refresh();
  }

  /** Stops the schedule and aborts a fetch under way. */
  close(): void {
    this.stopTimer?.();
    this.stopper.abort();
  }

  /** Fetches the keys now, or joins the fetch under way. Never rejects; a failure is logged. */
  refresh(): Promise<void> {
    if (this.stopper.signal.aborted) return Promise.resolve();
    this.running ??= this.load().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** See `SignatureCheck`. */
  check(token: string): SignatureCheck {
    const now = this.now();
    if (this.jwks.keys.length === 0) {
      this.refreshSoon(now);
      return 'unknown';
    }
    const signature = checkTokenSignature(token, this.jwks, now);
    if (signature === 'unusable-key') return 'unknown';
    if (signature !== 'unknown-kid') return signature;
    this.refreshSoon(now);
    return now - this.loadedAt > this.staleAfterMs ? 'unknown' : 'forged';
  }

  /** A fetch, unless one started less than `minRefreshGapMs` ago: tokens choose how often. */
  private refreshSoon(now: number): void {
    if (now - this.fetchedAt >= this.minRefreshGapMs) void this.refresh();
  }

  private async load(): Promise<void> {
    const started = this.now();
    this.fetchedAt = started;
    const timeoutMs = this.options.fetchTimeoutMs ?? 5_000;
    let answer: unknown;
    try {
      answer = await this.options.source.fetch(
        AbortSignal.any([this.stopper.signal, AbortSignal.timeout(timeoutMs)]),
      );
    } catch (err) {
      if (this.stopper.signal.aborted) return;
      return this.fail(isTenantGuardError(err) ? err.message : 'cannot read the JWKS');
    }
    const reading = readIssuerJwks(answer);
    if (!reading.ok) return this.fail(reading.reason);
    const kids = (keys: readonly IssuerKey[]): string =>
      keys.map((k) => `${k.alg}:${k.kid ?? '-'}`).join(',');
    if (kids(reading.keys) !== kids(this.jwks.keys))
      this.options.logger.info(
        { keys: reading.keys.length, skipped: reading.skipped },
        'service-account issuer keys read: signed caller tokens of served callers take their review lane as verified',
      );
    this.jwks = reading;
    this.loadedAt = started;
  }

  private fail(reason: string): void {
    const skipped = this.failures.take();
    if (skipped === undefined) return;
    const held =
      this.size === 0
        ? 'caller tokens choose their review lane by their unverified claims'
        : `the ${this.size} keys read before are kept`;
    this.options.logger.warn(
      { code: 'ERR_ISSUER_KEYS', ...(skipped > 0 ? { notLogged: skipped } : {}) },
      `service-account issuer keys not read: ${reason}; ${held}`,
    );
  }
}

/**
 * The source of a cluster's issuer keys: `GET /openid/v1/jwks` with the KubeConfig's
 * credentials (RBAC: `get` on that non-resource URL; Kubernetes grants it to every
 * ServiceAccount by default through `system:service-account-issuer-discovery`).
 */
export function createKubeIssuerKeySource(kc: KubeConfig): IssuerKeySource {
  const api = kc.makeApiClient(OpenidApi);
  return {
    async fetch(signal) {
      try {
        // Typed string, but client-node parses the API server's application/jwk-set+json.
        const answer: unknown = await api.getServiceAccountIssuerOpenIDKeyset({}, withSignal(signal));
        return answer;
      } catch (err) {
        // Never the error's own message: client-node puts the response body and headers in it.
        throw new TenantGuardError(
          'ERR_ISSUER_KEYS',
          `GET /openid/v1/jwks: ${describeApiFailure(err, signal.aborted)}`,
        );
      }
    },
  };
}
