/**
 * The key ring, as pure data and pure decisions. A ring is a set of immutable key records;
 * whether a key is next, active or retired follows from the clock alone, so replicas that
 * hold the same records agree without talking to each other:
 *
 * - a key is published (in the JWKS) from the moment it is stored;
 * - it signs from `notBefore` (its creation plus the lead: publish-ahead plus the time every
 *   replica takes to re-read the store) until a newer key reaches its own `notBefore`: the
 *   newest key whose `notBefore` has passed is active. Only the first key of a fresh ring
 *   (no key ever, so no verifier can have cached a JWKS without it) signs at once;
 * - a superseded (retired) key stays published until every token it may have signed has
 *   expired plus the retire margin, then it is dropped.
 */
import type { JWK } from 'jose';

/** Signing algorithms an API server accepts (`--oidc-signing-algs`); EdDSA is not one. */
export type SigningAlg = 'RS256' | 'ES256';

/** One key as stored. Never changes once stored. */
export interface KeyRecord {
  /** RFC 7638 thumbprint of the public key. */
  readonly kid: string;
  readonly alg: SigningAlg;
  /** Epoch ms the key was made and first stored. */
  readonly createdAt: number;
  /** Epoch ms from which it may sign. */
  readonly notBefore: number;
  /** The private JWK (which includes the public parameters). Never logged. */
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

/** The timing rules of a ring, in ms. */
export interface RingTiming {
  rotationPeriodMs: number;
  publishAheadMs: number;
  retireMarginMs: number;
  /** The longest token TTL any target may have (SPEC: 900 s). */
  maxTokenTtlMs: number;
  /**
   * How long every replica may take to see a key another one stored (its reload interval),
   * in ms. A new key signs `publishAheadMs + spreadMs` after it was stored, so a replica that
   * counts publish-ahead from the moment it saw the key switches at the same time. Default 0.
   */
  spreadMs?: number;
}

/** How long a new key (not the first of a fresh ring) is stored before it signs, in ms. */
export function leadMs(timing: Pick<RingTiming, 'publishAheadMs' | 'spreadMs'>): number {
  return timing.publishAheadMs + (timing.spreadMs ?? 0);
}

/** Clock skew tolerated on a stored key's `createdAt`, in ms. */
export const CREATED_AT_SKEW_MS = 60_000;

/**
 * Why a stored key must not enter the ring at `now`, or undefined when its timestamps are
 * plausible: a `notBefore` more than one rotation period (or one lead, if longer) ahead would
 * hold rotation up for as long as it says (a waiting key stops new ones); a `createdAt` in the
 * future or after `notBefore` was not written by a broker.
 */
export function implausibleTimes(
  key: KeyRecord,
  now: number,
  timing: Pick<RingTiming, 'rotationPeriodMs' | 'publishAheadMs' | 'spreadMs'>,
): string | undefined {
  const horizon = Math.max(timing.rotationPeriodMs, leadMs(timing));
  if (key.notBefore > now + horizon)
    return `key ${key.kid} would sign from ${new Date(key.notBefore).toISOString()}, more than one rotation period (${horizon / 1000}s) ahead; refused`;
  if (key.createdAt > now + CREATED_AT_SKEW_MS)
    return `key ${key.kid} claims to be created at ${new Date(key.createdAt).toISOString()}, in the future; refused`;
  if (key.notBefore < key.createdAt) return `key ${key.kid} would sign before it was created; refused`;
  return undefined;
}

/**
 * Why a key that is not a ring's oldest must not enter it, or undefined: its `notBefore` is
 * less than publish-ahead after its `createdAt`. Every key a broker adds to a ring holding
 * keys signs a lead after it was made (planRotation); only a fresh ring's first key signs at
 * once, and it is the oldest.
 */
export function backdated(key: KeyRecord, timing: Pick<RingTiming, 'publishAheadMs'>): string | undefined {
  if (key.notBefore - key.createdAt >= timing.publishAheadMs) return undefined;
  return `key ${key.kid} would sign ${Math.round((key.notBefore - key.createdAt) / 1000)} s after it was created, less than the publish-ahead time (${timing.publishAheadMs / 1000} s); no broker makes such a key for a ring in use; refused`;
}

/** The stored keys a ring may hold at `now`, and why each other one is refused. */
export function acceptedKeys(
  keys: readonly KeyRecord[],
  now: number,
  timing: Pick<RingTiming, 'rotationPeriodMs' | 'publishAheadMs' | 'spreadMs'>,
): { accepted: KeyRecord[]; refused: string[] } {
  const refused: string[] = [];
  const plausible = keys.filter((k) => {
    const why = implausibleTimes(k, now, timing);
    if (why !== undefined) refused.push(why);
    return why === undefined;
  });
  const oldest = [...plausible].sort(byActivation)[0];
  const accepted = plausible.filter((k) => {
    const why = k === oldest ? undefined : backdated(k, timing);
    if (why !== undefined) refused.push(why);
    return why === undefined;
  });
  return { accepted, refused };
}

export type KeyState = 'next' | 'active' | 'retired' | 'expired';

/** A key with its state at some moment. */
export interface KeyView {
  readonly record: KeyRecord;
  readonly state: KeyState;
  /** For a retired key: when it stopped signing. */
  readonly retiredAt?: number;
  /** For a retired key: when it leaves the JWKS. */
  readonly removeAt?: number;
}

/** Oldest activation first (ties by kid), as every replica orders a ring. */
export function byActivation(a: KeyRecord, b: KeyRecord): number {
  return a.notBefore - b.notBefore || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0);
}

/** Every key with its state at `now`, oldest activation first. */
export function viewRing(
  keys: readonly KeyRecord[],
  now: number,
  timing: Pick<RingTiming, 'maxTokenTtlMs' | 'retireMarginMs'>,
): KeyView[] {
  const sorted = [...keys].sort(byActivation);
  const started = sorted.filter((k) => k.notBefore <= now);
  const active = started.at(-1);
  return sorted.map((record, i) => {
    if (record.notBefore > now) return { record, state: 'next' };
    if (record === active) return { record, state: 'active' };
    const successor = sorted[i + 1];
    const retiredAt = successor?.notBefore ?? now;
    const removeAt = retiredAt + timing.maxTokenTtlMs + timing.retireMarginMs;
    return { record, state: removeAt <= now ? 'expired' : 'retired', retiredAt, removeAt };
  });
}

/** The key that signs at `now`, if any. */
export function activeKey(keys: readonly KeyRecord[], now: number): KeyRecord | undefined {
  let best: KeyRecord | undefined;
  for (const k of keys) if (k.notBefore <= now && (best === undefined || byActivation(best, k) < 0)) best = k;
  return best;
}

/** The keys to publish at `now`: next, active and retired ones (not those past their removal). */
export function publishedKeys(
  keys: readonly KeyRecord[],
  now: number,
  timing: Pick<RingTiming, 'maxTokenTtlMs' | 'retireMarginMs'>,
): KeyRecord[] {
  return viewRing(keys, now, timing)
    .filter((v) => v.state !== 'expired')
    .map((v) => v.record);
}

/** What a replica should change in the ring at `now`. */
export interface RotationPlan {
  /** When set, make a new key that signs from this time. */
  addNotBefore?: number;
  /** Keys to drop from the store. */
  remove: string[];
}

/**
 * Decides the next change: a new key when none is waiting and the active one is due to be
 * replaced within the lead time (or there is no key at all); the removal of retired keys
 * whose tokens have all expired. `fresh`: the ring never held a key, so nobody can have
 * cached a JWKS without the first one, which therefore signs at once.
 */
export function planRotation(
  keys: readonly KeyRecord[],
  now: number,
  timing: RingTiming,
  fresh = false,
): RotationPlan {
  const views = viewRing(keys, now, timing);
  const remove = views.filter((v) => v.state === 'expired').map((v) => v.record.kid);
  const hasNext = views.some((v) => v.state === 'next');
  const active = views.find((v) => v.state === 'active')?.record;
  const lead = leadMs(timing);
  if (hasNext) return { remove };
  if (active === undefined) return { addNotBefore: fresh && keys.length === 0 ? now : now + lead, remove };
  const due = active.notBefore + timing.rotationPeriodMs;
  if (now < due - lead) return { remove };
  return { addNotBefore: Math.max(due, now + lead), remove };
}

/** True when the plan changes nothing. */
export function isNoop(plan: RotationPlan): boolean {
  return plan.addNotBefore === undefined && plan.remove.length === 0;
}

/** Applies a plan: the records without the removed ones, plus `added`. */
export function applyPlan(
  keys: readonly KeyRecord[],
  plan: RotationPlan,
  added: KeyRecord | undefined,
): KeyRecord[] {
  const kept = keys.filter((k) => !plan.remove.includes(k.kid));
  return added === undefined ? kept : [...kept, added];
}

/** When the ring next needs a decision (a key due, a key to remove), for scheduling. */
export function nextDecisionAt(
  keys: readonly KeyRecord[],
  now: number,
  timing: RingTiming,
): number | undefined {
  const views = viewRing(keys, now, timing);
  const times: number[] = [];
  for (const v of views) {
    if (v.state === 'retired' && v.removeAt !== undefined) times.push(v.removeAt);
    if (v.state === 'next') times.push(v.record.notBefore);
    if (v.state === 'active' && !views.some((w) => w.state === 'next'))
      times.push(v.record.notBefore + timing.rotationPeriodMs - leadMs(timing));
  }
  const future = times.filter((t) => t > now);
  return future.length === 0 ? undefined : Math.min(...future);
}
