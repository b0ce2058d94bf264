/**
 * The review-lane tests' pieces: projected ServiceAccount tokens of the Argo CD controller and
 * another served caller, what the TokenReview says of them, and a CallerAuthenticator over a
 * fake reviewer whose answers a test holds back (deferred, never slept on).
 */
import { CallerAuthenticator, type Caller } from '../../../src/broker/callers/caller-auth.js';
import type { SignatureChecker } from '../../../src/broker/callers/issuer-keys.js';
import type { ReviewOutcome } from '../../../src/broker/callers/token-review.js';
import { isTenantGuardError } from '../../../src/errors.js';
import { makeCallerToken, signCallerToken, type TestIssuerKey } from '../../support/caller-tokens.js';
import { CONTROLLER } from '../helpers.js';

export const UPDATER = 'system:serviceaccount:argocd:argocd-image-updater';
export const CTL_UID = '6f1c2a9e-0b7d-4c55-9d1e-3a8f0e2b7c41'; // the controller ServiceAccount's UID
export const UPDATER_UID = '0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f';

/** A projected ServiceAccount token's shape: `sub` and the `kubernetes.io` claim. */
export interface Projected {
  sub: string;
  saUid?: string;
  pod?: string;
  podUid?: string;
}

/** A projected token of `p` expiring at `exp` (epoch s): signed with `key`, else a fake signature. */
export function projectedToken(p: Projected, exp: number, key?: TestIssuerKey): string {
  const k8s: Record<string, unknown> = { namespace: p.sub.split(':')[2] };
  if (p.saUid !== undefined) k8s.serviceaccount = { name: p.sub.split(':')[3], uid: p.saUid };
  if (p.pod !== undefined) k8s.pod = { name: p.pod, uid: p.podUid ?? `${p.pod}-uid` };
  const claims = { sub: p.sub, exp, more: { 'kubernetes.io': k8s } };
  return key === undefined ? makeCallerToken(claims) : signCallerToken(claims, key);
}

/** What the API server's TokenReview says of a genuine projected token. */
export function reviewOf(p: Projected): ReviewOutcome {
  const extra: Record<string, string[]> = {};
  if (p.pod !== undefined) {
    extra['authentication.kubernetes.io/pod-name'] = [p.pod];
    extra['authentication.kubernetes.io/pod-uid'] = [p.podUid ?? `${p.pod}-uid`];
  }
  const outcome: ReviewOutcome = {
    authenticated: true,
    username: p.sub,
    groups: [],
    extra,
    audiences: ['tenant-guard'],
  };
  if (p.saUid !== undefined) outcome.uid = p.saUid;
  return outcome;
}

export const CTL: Projected = {
  sub: CONTROLLER,
  saUid: CTL_UID,
  pod: 'argocd-application-controller-0',
  podUid: 'p-1',
};

/**
 * A CallerAuthenticator over a fake reviewer and an injected clock: genuine tokens are
 * registered by `mint` (signed with `signedBy` when given); every other token is not
 * authenticated. Reviews of tokens for which `holding` is true wait until `release`.
 */
export function harness(o: {
  concurrent: number;
  queued: number;
  cacheSize?: number;
  issuerKeys?: SignatureChecker;
  signedBy?: TestIssuerKey;
  clock?: number;
}) {
  const t = {
    clock: o.clock ?? 1_000_000,
    holding: (_token: string): boolean => false,
    genuine: new Map<string, ReviewOutcome>(),
    held: [] as Array<() => void>,
    /** Tokens whose review started, in order. */
    reviewed: [] as string[],
    authenticator: undefined as unknown as CallerAuthenticator,
    mint(p: Projected): string {
      const token = projectedToken(p, Math.floor(t.clock / 1000) + 3600, o.signedBy);
      t.genuine.set(token, reviewOf(p));
      return token;
    },
    release(): void {
      t.holding = () => false;
      for (let next = t.held.shift(); next !== undefined; next = t.held.shift()) next();
    },
    /** Authenticates and vouches: the broker served this token's caller. */
    async serve(token: string): Promise<Caller> {
      const caller = await t.authenticator.authenticate(token, '10.0.0.1');
      t.authenticator.vouch(caller);
      return caller;
    },
  };
  t.authenticator = new CallerAuthenticator({
    reviewer: {
      review: async (token) => {
        t.reviewed.push(token);
        if (t.holding(token)) await new Promise<void>((go) => t.held.push(go));
        return t.genuine.get(token) ?? { authenticated: false, groups: [], extra: {} };
      },
    },
    audience: 'tenant-guard',
    timeoutMs: 60_000,
    cacheTtlMs: 5_000,
    cacheSize: o.cacheSize ?? 100,
    maxConcurrentReviews: o.concurrent,
    maxQueuedReviews: o.queued,
    issuerKeys: o.issuerKeys,
    now: () => t.clock,
  });
  return t;
}

export type Harness = ReturnType<typeof harness>;

export const tick = () => new Promise((r) => setImmediate(r));
export const isBusy = (e: unknown) => isTenantGuardError(e, 'ERR_BROKER_BUSY');

/** Fills the other lane with held bogus tokens: `n` requests, from distinct sources. */
export function flood(t: Harness, n: number): Promise<PromiseSettledResult<Caller>[]> {
  t.holding = (token) => token.startsWith('bogus-');
  return Promise.allSettled(
    Array.from({ length: n }, (_v, i) =>
      t.authenticator.authenticate(`bogus-${t.clock}-${i}`, `10.1.0.${i}`),
    ),
  );
}
