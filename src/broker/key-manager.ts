/**
 * Runs the key ring of one broker replica: re-reads the store every reload interval, makes
 * and stores a new key when one is due and drops expired ones (optimistic concurrency: on a
 * conflict it reads again and decides again), and answers which key signs now and which keys
 * the JWKS publishes. Both come from the same loaded ring, so this replica never signs with
 * a key it does not publish, and a new key signs only `publishAhead` after it was stored,
 * by which time every replica has re-read the store.
 */
import type { JWK } from 'jose';
import type { Logger } from 'pino';
import { isTenantGuardError, TenantGuardError } from '../errors.js';
import { generateKeyRecord } from './key-material.js';
import { activeKey, applyPlan, isNoop, planRotation, publishedKeys, viewRing, type KeyRecord, type KeyView, type RingTiming } from './key-ring.js';
import type { KeyStore } from './key-store.js';
import type { SigningAlg } from './options.js';

/** Options of `KeyManager`. */
export interface KeyManagerOptions {
  store: KeyStore;
  alg: SigningAlg;
  timing: RingTiming;
  /** How often the store is re-read, in ms. */
  reloadIntervalMs: number;
  logger: Logger;
  now?: () => number;
  /** Read-decide-write rounds before giving up until the next reload. Default 5. */
  maxAttempts?: number;
  /** Key generation (tests may count calls). Default `generateKeyRecord`. */
  generate?: (alg: SigningAlg, createdAt: number, notBefore: number) => Promise<KeyRecord>;
}

/** See the file comment. */
export class KeyManager {
  private keys: readonly KeyRecord[] = [];
  private lastLoadAt: number | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly generate: NonNullable<KeyManagerOptions['generate']>;
  private readonly reported = new Set<string>();
  private lastError: string | undefined;

  constructor(private readonly options: KeyManagerOptions) {
    this.now = options.now ?? Date.now;
    this.generate = options.generate ?? generateKeyRecord;
  }

  /** Reads (and if due, rotates) the ring once, then every reload interval. Never throws: failures are logged and retried. */
  async start(): Promise<void> {
    await this.reconcile().catch(() => undefined);
    this.timer = setInterval(() => void this.reconcile().catch(() => undefined), this.options.reloadIntervalMs);
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

  private async round(): Promise<void> {
    const { store, timing, logger } = this.options;
    let pending: KeyRecord | undefined;
    const attempts = this.options.maxAttempts ?? 5;
    try {
      for (let attempt = 1; attempt <= attempts; attempt++) {
        const snap = await store.load();
        this.report(snap.problems);
        const plan = planRotation(snap.keys, this.now(), timing);
        if (isNoop(plan)) return this.adopt(snap.keys);
        let added: KeyRecord | undefined;
        if (plan.addNotBefore !== undefined) {
          pending ??= await this.generate(this.options.alg, this.now(), plan.addNotBefore);
          const createdAt = this.now();
          const delay = snap.keys.length === 0 ? timing.firstKeyDelayMs : timing.publishAheadMs;
          added = { ...pending, createdAt, notBefore: Math.max(plan.addNotBefore, createdAt + delay) };
        }
        try {
          await store.save({ add: added === undefined ? [] : [added], remove: plan.remove }, snap.version);
        } catch (err) {
          if (!isTenantGuardError(err, 'ERR_KEYRING_CONFLICT')) throw err;
          logger.debug({ store: store.description, attempt }, 'key ring changed by another replica; reading it again');
          continue;
        }
        if (added !== undefined) {
          logger.info({ event: 'key-added', kid: added.kid, alg: added.alg, signsFrom: new Date(added.notBefore).toISOString(), store: store.description }, 'signing key added to the key ring');
          pending = undefined;
        }
        if (plan.remove.length > 0) logger.info({ event: 'keys-removed', kids: plan.remove, store: store.description }, 'retired signing keys removed from the key ring');
        return this.adopt(applyPlan(snap.keys, plan, added));
      }
      throw new TenantGuardError('ERR_KEYRING_CONFLICT', `key ring ${store.description} kept changing during ${attempts} attempts; trying again at the next reload`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.lastError) logger.warn({ err: { code: isTenantGuardError(err) ? err.code : undefined, message } }, 'key ring not refreshed');
      this.lastError = message;
      throw err;
    }
  }

  private adopt(keys: readonly KeyRecord[]): void {
    this.keys = keys;
    this.lastLoadAt = this.now();
    this.lastError = undefined;
  }

  private report(problems: string[]): void {
    for (const p of problems) {
      if (this.reported.has(p)) continue;
      this.reported.add(p);
      this.options.logger.warn({ store: this.options.store.description }, p);
    }
  }

  /**
   * How long this replica may go on signing without re-reading the ring: another replica
   * can add a successor right after our last read, and may drop our key `publishAhead +
   * retireMargin` later than every token we sign now expires; past that we stop signing.
   */
  private get staleAfterMs(): number {
    return this.options.timing.publishAheadMs + this.options.timing.retireMarginMs;
  }

  /**
   * The key that signs now, or why there is none.
   */
  signingKey(now = this.now()): { key: KeyRecord } | { key: undefined; reason: string } {
    if (this.lastLoadAt === undefined) return { key: undefined, reason: `the key ring (${this.options.store.description}) has not been read yet` };
    if (now - this.lastLoadAt > this.staleAfterMs) return { key: undefined, reason: `the key ring (${this.options.store.description}) could not be re-read since ${new Date(this.lastLoadAt).toISOString()}` };
    const key = activeKey(this.keys, now);
    if (key === undefined) {
      const first = this.keys.reduce<number | undefined>((t, k) => (t === undefined || k.notBefore < t ? k.notBefore : t), undefined);
      return { key: undefined, reason: first === undefined ? 'no signing key yet' : `the first signing key is published and signs from ${new Date(first).toISOString()}` };
    }
    return { key };
  }

  /** The JWKS: public keys of next, active and retired keys. */
  jwks(now = this.now()): { keys: JWK[] } {
    return { keys: publishedKeys(this.keys, now, this.options.timing).map((k) => k.publicJwk) };
  }

  /** Every key with its state (for tests and diagnostics; no key material is needed to read it). */
  view(now = this.now()): KeyView[] {
    return viewRing(this.keys, now, this.options.timing);
  }

  /** Algorithms of the published keys plus the configured one. */
  algorithms(): SigningAlg[] {
    return [...new Set([this.options.alg, ...this.keys.map((k) => k.alg)])];
  }
}
