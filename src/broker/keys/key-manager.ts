/**
 * Runs the key ring of one broker replica: re-reads the store every reload interval, makes
 * and stores a new key when one is due and drops expired ones (optimistic concurrency: on a
 * conflict it reads again and decides again), and answers which key signs now and which keys
 * the JWKS publishes. Both come from the same ring in memory, so this replica never signs
 * with a key it does not publish.
 *
 * Every replica follows one schedule, the stored one: which key is active, retired or
 * expired follows from the stored `notBefore`s alone, so a key stops signing here when its
 * successor's stored `notBefore` passes, and a retired key is removed (and never written
 * back) on the same date everywhere. (A replica that ran its own schedule for a key it saw
 * late kept signing with the retired key, wrote it back after another replica removed it,
 * and the two replicas swapped their active keys every ~17 minutes for good: a red-team
 * review.)
 *
 * What a store says is checked, not believed:
 * - a key this replica first sees after its first read (another replica's, or planted) signs
 *   here no earlier than publish-ahead after this replica first published it, whatever its
 *   `notBefore` says; the key before it signs on for at most half the retire margin past that
 *   `notBefore`, then this replica signs with no key (and is not ready); keys it made itself
 *   and keys of its first read sign from their `notBefore`;
 * - a key whose timestamps are implausible (`notBefore` beyond one rotation period,
 *   `createdAt` in the future) is refused, logged, and left in the store untouched; so is a
 *   key whose `notBefore` is less than publish-ahead after its `createdAt`, unless it is the
 *   ring's oldest (a fresh ring's first key signs at once): no broker makes one for a ring in
 *   use, and on the stored schedule it would retire, even remove, the key in use at once,
 *   while that key's tokens live (a mutation-testing review). Every replica decides this from
 *   the stored records alone, so all of them agree;
 * - a store that lost keys still published here (directory or Secret deleted, emptied, a file
 *   removed) is a fault, not a fresh start: the keys in memory keep being served (a retired
 *   one until its tokens expired plus the margin), the loss is logged as an error, and the
 *   ring is written back. Only a ring that never held a key is fresh: its first key signs at
 *   once, since no verifier can have cached a JWKS without it.
 *
 * Readiness (`readiness()`): the ring was read within its staleness bound and holds a key
 * that may sign now.
 */
import type { JWK } from 'jose';
import type { Logger } from 'pino';
import { isTenantGuardError, TenantGuardError } from '../../errors.js';
import { generateKeyRecord } from './key-material.js';
import {
  acceptedKeys,
  activeKey,
  byActivation,
  isNoop,
  leadMs,
  planRotation,
  publishedKeys,
  viewRing,
  type KeyRecord,
  type KeyView,
  type RingTiming,
  type SigningAlg,
} from './key-ring.js';
import type { KeyStore } from './key-store.js';
import type { Clock } from '../../clock.js';

/** Options of `KeyManager`. */
export interface KeyManagerOptions {
  store: KeyStore;
  alg: SigningAlg;
  /** `spreadMs` defaults to `reloadIntervalMs` here. */
  timing: RingTiming;
  /** How often the store is re-read, in ms. */
  reloadIntervalMs: number;
  logger: Logger;
  now?: Clock;
  /** Read-decide-write rounds before giving up until the next reload. Default 5. */
  maxAttempts?: number;
  /** Key generation (tests may count calls). Default `generateKeyRecord`. */
  generate?: (alg: SigningAlg, createdAt: number, notBefore: number) => Promise<KeyRecord>;
  /**
   * How long after the start of its last successful read the ring counts as current for
   * readiness, in ms. Default half the publish-ahead time: a key another replica stores right
   * after that read signs a publish-ahead later, which leaves the other half for the readiness
   * probe and the endpoints to take this replica (and its stale JWKS) out of the Service.
   */
  readyStaleAfterMs?: number;
  /** Do not re-read on a timer (`start()` reads once); tests drive `reconcile()` on an injected clock. */
  manualReload?: boolean;
}

/** Whether a replica may take traffic, and why not. */
export type KeyRingReadiness = { ready: true } | { ready: false; reason: string };

/** Logged when a round read the ring but could not write what it is due (round()). */
const READ_NOT_WRITTEN =
  'key ring read, but the change it is due could not be written; signing on with the stored keys';

/** See the file comment. */
export class KeyManager {
  /** The stored records this replica publishes (its ring in memory): their `notBefore`s decide which key is active, retired or expired. */
  private held: readonly KeyRecord[] = [];
  /** From when each held key may sign here (its `notBefore`, or later: see the file comment). */
  private readonly signsFrom = new Map<string, number>();
  /** Whether this replica ever held a key: after that, an empty store is a loss, not a fresh ring. */
  private everHeld = false;
  private lastLoadAt: number | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: Clock;
  private readonly timing: RingTiming;
  private readonly generate: NonNullable<KeyManagerOptions['generate']>;
  private readonly reported = new Set<string>();
  private lastError: string | undefined;

  constructor(private readonly options: KeyManagerOptions) {
    this.now = options.now ?? Date.now;
    this.generate = options.generate ?? generateKeyRecord;
    this.timing = { ...options.timing, spreadMs: options.timing.spreadMs ?? options.reloadIntervalMs };
  }

  /** Reads (and if due, rotates) the ring once, then every reload interval. Never throws: failures are logged and retried. */
  async start(): Promise<void> {
    await this.reconcile().catch(() => undefined);
    if (this.options.manualReload === true) return;
    this.timer = setInterval(
      () => void this.reconcile().catch(() => undefined),
      this.options.reloadIntervalMs,
    );
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One read-decide-write round (concurrent calls share it). @throws the store's error, after logging it. */
  reconcile(): Promise<void> {
    if (this.running === undefined) {
      this.running = this.round().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /**
   * Keys held here but gone from the store while the stored schedule still publishes them:
   * next, active, or retired and not close to removal. The schedule counts the store's keys
   * too: a key held here that a newer stored key retired long ago was removed on schedule by
   * another replica, and is not written back.
   */
  private lost(stored: readonly KeyRecord[], now: number): KeyRecord[] {
    const storedKids = new Set(stored.map((k) => k.kid));
    const heldKids = new Set(this.held.map((k) => k.kid));
    const views = viewRing([...this.held, ...stored.filter((k) => !heldKids.has(k.kid))], now, this.timing);
    // Another replica removes a retired key once its own clock passed the removal time: a key
    // that close to removal here is not a loss.
    const tolerance = this.timing.retireMarginMs + this.options.reloadIntervalMs;
    const kept = new Set(
      views
        .filter(
          (v) =>
            v.state === 'next' ||
            v.state === 'active' ||
            (v.state === 'retired' && (v.removeAt ?? 0) > now + tolerance),
        )
        .map((v) => v.record.kid),
    );
    return this.held.filter((k) => kept.has(k.kid) && !storedKids.has(k.kid));
  }

  private async round(): Promise<void> {
    const { store, logger } = this.options;
    const timing = this.timing;
    let pending: KeyRecord | undefined;
    const attempts = this.options.maxAttempts ?? 5;
    let readButNotWritten = false;
    try {
      for (let attempt = 1; attempt <= attempts; attempt++) {
        const readAt = this.now();
        const snap = await store.load();
        this.report(snap.problems);
        const now = this.now();
        const { accepted, refused } = acceptedKeys(snap.keys, now, timing);
        this.report(refused, 'error');
        const missing = this.lost(accepted, now);
        if (missing.length > 0) {
          logger.error(
            {
              event: 'key-ring-lost',
              store: store.description,
              kids: missing.map((k) => k.kid),
              storeEmpty: snap.keys.length === 0,
            },
            `KEY RING STORE LOST KEYS: ${store.description} no longer holds ${missing.length} key(s) still published here; serving them from memory and writing them back (a deleted key Secret is created again; to withdraw keys on purpose, empty the store with no replica running: docs/upgrade.md)`,
          );
        }
        const ring = [...accepted, ...missing];
        const fresh = !this.everHeld && ring.length === 0;
        const plan = planRotation(ring, now, timing, fresh);
        if (isNoop(plan) && missing.length === 0) return this.adopt(ring, readAt);
        let added: KeyRecord | undefined;
        if (plan.addNotBefore !== undefined) {
          pending ??= await this.generate(this.options.alg, this.now(), plan.addNotBefore);
          const createdAt = this.now();
          added = {
            ...pending,
            createdAt,
            notBefore: fresh ? createdAt : Math.max(plan.addNotBefore, createdAt + leadMs(timing)),
          };
        }
        const add = [...missing, ...(added === undefined ? [] : [added])];
        const remove = plan.remove.filter((kid) => snap.keys.some((k) => k.kid === kid));
        // A save succeeds only if the store is still at the version read: the ring is current
        // as of the save (key generation between read and save may take a while).
        const savedAt = this.now();
        try {
          await store.save({ add, remove }, snap.version);
        } catch (err) {
          if (!isTenantGuardError(err, 'ERR_KEYRING_CONFLICT')) {
            // The read stands: the ring is current as of `readAt`, which is all the staleness
            // bound asks (another replica's successor would be in it), so the stored keys go
            // on signing and are published. The rotation itself waits for a write, and the
            // alerts on the key's age say so. Before, a store readable but not writable took
            // every replica out of readiness 30 s after a key fell due, and stopped signing 2
            // minutes later: the whole broker at once (an operator's review).
            this.adopt(ring, readAt, true);
            readButNotWritten = true;
            throw err;
          }
          logger.debug(
            { store: store.description, attempt },
            'key ring changed by another replica; reading it again',
          );
          continue;
        }
        if (added !== undefined) {
          this.signsFrom.set(added.kid, added.notBefore);
          logger.info(
            {
              event: 'key-added',
              kid: added.kid,
              alg: added.alg,
              signsFrom: new Date(added.notBefore).toISOString(),
              store: store.description,
              fresh,
            },
            'signing key added to the key ring',
          );
          pending = undefined;
        }
        if (missing.length > 0)
          logger.warn(
            { event: 'key-ring-restored', store: store.description, kids: missing.map((k) => k.kid) },
            'key ring written back to its store',
          );
        if (plan.remove.length > 0)
          logger.info(
            { event: 'keys-removed', kids: plan.remove, store: store.description },
            'retired signing keys removed from the key ring',
          );
        const next = ring.filter((k) => !plan.remove.includes(k.kid));
        return this.adopt(added === undefined ? next : [...next, added], savedAt);
      }
      throw new TenantGuardError(
        'ERR_KEYRING_CONFLICT',
        `key ring ${store.description} kept changing during ${attempts} attempts; trying again at the next reload`,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const code = isTenantGuardError(err) ? err.code : undefined;
      if (message !== this.lastError) {
        const line = { err: { code, message }, store: store.description };
        if (code === 'ERR_KEYRING_UNSAFE')
          logger.error(
            line,
            'key ring store refused: keys there may have been planted; serving the ring in memory',
          );
        else if (readButNotWritten) logger.error(line, READ_NOT_WRITTEN);
        else logger.warn(line, 'key ring not refreshed');
      }
      this.lastError = message;
      throw err;
    }
  }

  /** Holds `keys`, read at `readAt`; `keepError`: the last error stays (logged once while it is the same). */
  private adopt(keys: readonly KeyRecord[], readAt: number, keepError = false): void {
    const now = this.now();
    const firstRead = !this.everHeld;
    for (const k of keys) {
      if (this.signsFrom.has(k.kid)) continue;
      // The first read takes the ring as the store has it (nothing else says when its keys
      // were published); after that a key is published from now, whatever its file says.
      this.signsFrom.set(
        k.kid,
        firstRead ? k.notBefore : Math.max(k.notBefore, now + this.timing.publishAheadMs),
      );
    }
    for (const kid of [...this.signsFrom.keys()])
      if (!keys.some((k) => k.kid === kid)) this.signsFrom.delete(kid);
    this.held = keys;
    if (keys.length > 0) this.everHeld = true;
    this.lastLoadAt = readAt;
    if (!keepError) this.lastError = undefined;
  }

  private report(problems: string[], level: 'warn' | 'error' = 'warn'): void {
    for (const p of problems) {
      if (this.reported.has(p)) continue;
      // A store full of distinct bad entries must not grow this set without bound.
      if (this.reported.size >= 1000) this.reported.clear();
      this.reported.add(p);
      this.options.logger[level]({ store: this.options.store.description }, p);
    }
  }

  /** From when a held key may sign here: its `notBefore`, or later for a key seen late (the file comment). */
  private signsHereFrom(key: KeyRecord): number {
    return this.signsFrom.get(key.kid) ?? key.notBefore;
  }

  /**
   * How long this replica may go on signing without re-reading the ring: another replica
   * can add a successor right after our last read, and may drop our key `publishAhead +
   * retireMargin` later than every token we sign now expires; past that we stop signing.
   */
  private get staleAfterMs(): number {
    return this.timing.publishAheadMs + this.timing.retireMarginMs;
  }

  private get readyStaleAfterMs(): number {
    return this.options.readyStaleAfterMs ?? Math.floor(this.timing.publishAheadMs / 2);
  }

  /**
   * The key that signs now, or why there is none.
   */
  signingKey(now = this.now()): { key: KeyRecord } | { key: undefined; reason: string } {
    if (this.lastLoadAt === undefined)
      return {
        key: undefined,
        reason: `the key ring (${this.options.store.description}) has not been read yet`,
      };
    if (now - this.lastLoadAt > this.staleAfterMs)
      return {
        key: undefined,
        reason: `the key ring (${this.options.store.description}) could not be re-read since ${new Date(this.lastLoadAt).toISOString()}`,
      };
    const keys = this.held;
    const key = activeKey(keys, now);
    if (key !== undefined && this.signsHereFrom(key) > now) {
      // Seen late here. The key before it may go on signing for half the retire margin past
      // the new key's notBefore: its tokens still expire before it is removed (at notBefore
      // plus the longest TTL plus the margin, on every replica), with half the margin left for
      // clock skew. Past that, no key signs here until this replica published the new one
      // for the publish-ahead time.
      const before = keys
        .filter((k) => k.notBefore < key.notBefore)
        .sort(byActivation)
        .at(-1);
      if (
        before !== undefined &&
        this.signsHereFrom(before) <= now &&
        now < key.notBefore + this.timing.retireMarginMs / 2
      )
        return { key: before };
      return {
        key: undefined,
        reason: `key ${key.kid} signs from ${new Date(key.notBefore).toISOString()}, but this replica first saw it late and publishes it for the publish-ahead time before signing with it (from ${new Date(this.signsHereFrom(key)).toISOString()}); the key before it is retired`,
      };
    }
    if (key === undefined) {
      const first = keys.reduce<number | undefined>(
        (t, k) => (t === undefined || k.notBefore < t ? k.notBefore : t),
        undefined,
      );
      return {
        key: undefined,
        reason:
          first === undefined
            ? 'no signing key yet'
            : `the first signing key is published and signs from ${new Date(first).toISOString()}`,
      };
    }
    return { key };
  }

  /**
   * Ready: the ring was read within its staleness bound (`readyStaleAfterMs`) and holds a key
   * that signs now. A replica that cannot read its store leaves the Service before another
   * replica's new key (missing from this one's JWKS) can sign.
   */
  readiness(now = this.now()): KeyRingReadiness {
    if (this.lastLoadAt !== undefined && now - this.lastLoadAt > this.readyStaleAfterMs) {
      return {
        ready: false,
        reason: `the key ring (${this.options.store.description}) has not been re-read since ${new Date(this.lastLoadAt).toISOString()}${this.lastError === undefined ? '' : `: ${this.lastError}`}`,
      };
    }
    const signing = this.signingKey(now);
    if (signing.key === undefined)
      return {
        ready: false,
        reason: this.lastError === undefined ? signing.reason : `${signing.reason}: ${this.lastError}`,
      };
    return { ready: true };
  }

  /** The JWKS: public keys of next, active and retired keys. */
  jwks(now = this.now()): { keys: JWK[] } {
    return { keys: publishedKeys(this.held, now, this.timing).map((k) => k.publicJwk) };
  }

  /** Every key with its state (for tests and diagnostics; no key material is needed to read it). */
  view(now = this.now()): KeyView[] {
    return viewRing(this.held, now, this.timing);
  }

  /** Algorithms of the published keys plus the configured one. */
  algorithms(): SigningAlg[] {
    return [...new Set([this.options.alg, ...this.held.map((k) => k.alg)])];
  }
}
