/**
 * The callers the broker served, remembered by identity, and the identity a caller token
 * claims: together they choose a TokenReview's lane (review-queue.ts). A token whose caller
 * the broker served before is reviewed first; only the review decides what it is.
 *
 * By identity, not by token: the kubelet rotates a projected ServiceAccount token about
 * every 48 minutes, and a restarted pod has a new one. Vouched per token hash, the Argo CD
 * controller's rotated token waited with a flood of bogus tokens and got 503 for as long as
 * the flood lasted; and a vouched hash could be evicted from the positive-review cache by
 * valid tokens of callers allowed no target (a red-team review).
 *
 * A token's identity is the verified one of its earlier review when that is still cached,
 * else what the token's own claims say (`sub` and the `kubernetes.io` claim of a projected
 * ServiceAccount token). Claims can be forged, so:
 * - when the review stated a uid (a ServiceAccount's: its object's UID), the claims must
 *   name it too, which a tenant that cannot read the ServiceAccount or hold its tokens does
 *   not know;
 * - claims that would have a slot are believed only when the token is signed by the
 *   cluster's service-account issuer keys (issuer-keys.ts: the JWKS of `/openid/v1/jwks`,
 *   checked with node:crypto): a signed token takes the slot as verified (a token the API
 *   server signed for that ServiceAccount is as good as a cached review for choosing a lane;
 *   the review still decides everything else), a forged one (any other signature, algorithm
 *   or key, or expired) takes none. Until the keys have been read (RBAC denies them, an API
 *   server without issuer discovery) the claims choose unverified, as they did before;
 * - an identity has one priority slot per pod name served under its user name, plus one for
 *   its other pods (a restarted Deployment pod's new name), each twice: for verified tokens
 *   (a cached review, or a signature), and for tokens known only by their unverified claims
 *   (a signed token whose verified slot is taken takes this one). A slot holds one review,
 *   queued or running; while it is taken, other reviews of that identity wait in the other
 *   lane. So a flood of tokens claiming the controller's identity takes one place in the
 *   lane, not the lane, and cannot push out the controller's current token (verified, and
 *   re-reviewed every few seconds); and whoever holds a served caller's tokens has at most
 *   its slots in the lane. Someone who knows the ServiceAccount's UID could hold the claimed
 *   slot with forged tokens and so delay a rotated token's first review under a flood: with
 *   the issuer keys read, forged tokens take no slot and the rotated token, signed, is
 *   reviewed in the lane; without them, that delay remains.
 *
 * Bounded, and apart from the positive-review cache: at most `maxUsers` user names, each
 * with its `maxPods` most recently served pod names. Only callers the broker served (allowed
 * a target) are remembered, and their user names come from the settings or Tenants, so
 * other callers cannot push them out. At the cap, the least recently served user name is
 * forgotten: its next new token waits in the other lane until the broker serves it again.
 */
import { decodeJwt } from 'jose';
import { isRecord } from '../../json.js';

/** Who a token is, as far as the lane goes. */
export interface Identity {
  /** The user name (`system:serviceaccount:NS:NAME` for a ServiceAccount). */
  username: string;
  /** The user's uid as the review states it (a ServiceAccount's object UID). */
  uid?: string | undefined;
  /** The name of the pod the token is bound to. */
  pod?: string | undefined;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The identity a JWT states about itself, read without verifying anything: `sub`, and the
 * ServiceAccount UID and pod name of a projected token (`kubernetes.io`) or of a legacy one.
 * Undefined when the token is not a JWT or names no subject. Only ever chooses a lane.
 */
export function claimedIdentity(token: string): Identity | undefined {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
  } catch {
    return undefined;
  }
  const username = nonEmpty(claims.sub);
  if (username === undefined) return undefined;
  const k8s = isRecord(claims['kubernetes.io']) ? claims['kubernetes.io'] : {};
  const sa = isRecord(k8s.serviceaccount) ? k8s.serviceaccount : {};
  const pod = isRecord(k8s.pod) ? k8s.pod : {};
  return {
    username,
    uid: nonEmpty(sa.uid) ?? nonEmpty(claims['kubernetes.io/serviceaccount/service-account.uid']),
    pod: nonEmpty(pod.name),
  };
}

interface ServedUser {
  uid: string | undefined;
  /** Pod names served, least recent first. */
  pods: string[];
}

/** See the file comment. */
export class ServedCallers {
  private readonly users = new Map<string, ServedUser>();
  /** Priority slots now queued or running (see `take`). */
  private readonly busy = new Set<string>();

  /**
   * @param maxUsers user names remembered, >= 0 (least recently served forgotten first)
   * @param maxPods pod names remembered per user name, >= 0
   */
  constructor(
    private readonly maxUsers = 1024,
    private readonly maxPods = 8,
  ) {}

  /** User names remembered (for tests and diagnostics). */
  get size(): number {
    return this.users.size;
  }

  /** The broker served this caller (authorized it for a target). */
  remember(who: Identity): void {
    const pods = (this.users.get(who.username)?.pods ?? []).filter((p) => p !== who.pod);
    if (who.pod !== undefined) pods.push(who.pod);
    while (pods.length > this.maxPods) pods.shift();
    this.users.delete(who.username);
    this.users.set(who.username, { uid: who.uid, pods });
    for (const oldest of this.users.keys()) {
      if (this.users.size <= this.maxUsers) break;
      this.users.delete(oldest);
    }
  }

  /**
   * Whether `take` could give `who` a slot, taken or not (the identity was served, with its
   * uid): the cheap test before a token's signature is checked (caller-auth.ts).
   */
  knows(who: Identity | undefined): boolean {
    return this.servedAs(who) !== undefined;
  }

  private servedAs(who: Identity | undefined): ServedUser | undefined {
    const served = who === undefined ? undefined : this.users.get(who.username);
    return served !== undefined && (served.uid === undefined || served.uid === who?.uid) ? served : undefined;
  }

  /**
   * The priority slot a review of a token of `who` may take: a key to `release` when the
   * review ends, or undefined (the identity was not served, names another uid, or its slot
   * is taken): the review waits in the other lane.
   * @param verified `who` is a cached review's, not the token's unverified claims
   */
  take(who: Identity | undefined, verified: boolean): string | undefined {
    const served = this.servedAs(who);
    if (who === undefined || served === undefined) return undefined;
    const pod = who.pod !== undefined && served.pods.includes(who.pod) ? [who.pod] : [];
    const slot = JSON.stringify([verified, who.username, ...pod]);
    if (this.busy.has(slot)) return undefined;
    this.busy.add(slot);
    return slot;
  }

  release(slot: string): void {
    this.busy.delete(slot);
  }
}
