/**
 * Which namespaces' reports a flush writes, without I/O: first in, first out, a namespace
 * attempted goes to the back, and one whose write keeps failing waits longer each time
 * (doubling from `baseMs` up to `maxMs`) before it is attempted again.
 * Why: namespaces were taken in alphabetical order and a failed one was marked dirty again,
 * so as many namespaces as the per-flush budget whose writes always fail (a ResourceQuota on
 * reports, a policy engine refusing them) came first at every flush and no other namespace
 * was ever written (an operator review).
 */
import { doublingWaitMs } from '../backoff.js';
import type { Clock } from '../clock.js';

/** The first wait after a failed write, in ms. */
export const WRITE_RETRY_BASE_MS = 2_000;
/** The longest wait after failed writes, in ms. */
export const WRITE_RETRY_MAX_MS = 5 * 60_000;

export interface WriteQueueOptions {
  readonly now: Clock;
  /** Default WRITE_RETRY_BASE_MS. */
  readonly baseMs?: number;
  /** Default WRITE_RETRY_MAX_MS. */
  readonly maxMs?: number;
}

interface Failing {
  /** Failed writes in a row. */
  count: number;
  /** Not attempted before this time (epoch ms). */
  retryAt: number;
}

export class WriteQueue {
  /** Namespaces to write, in the order they are attempted (a Set keeps insertion order). */
  private readonly pending = new Set<string>();
  /** Namespaces whose last write failed; an entry leaves on the next success. */
  private readonly failing = new Map<string, Failing>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(private readonly options: WriteQueueOptions) {
    this.baseMs = options.baseMs ?? WRITE_RETRY_BASE_MS;
    this.maxMs = options.maxMs ?? WRITE_RETRY_MAX_MS;
  }

  /** Queues a namespace at the back; one already queued keeps its place (and its wait). */
  add(namespace: string): void {
    this.pending.add(namespace);
  }

  /** Up to `max` namespaces due now, the longest queued first; they leave the queue. */
  take(max: number): string[] {
    const now = this.options.now();
    const out: string[] = [];
    for (const namespace of this.pending) {
      if (out.length >= max) break;
      const failing = this.failing.get(namespace);
      if (failing !== undefined && failing.retryAt > now) continue;
      out.push(namespace);
    }
    for (const namespace of out) this.pending.delete(namespace);
    return out;
  }

  /** The namespace's write succeeded: a later failure waits `baseMs` again. */
  succeeded(namespace: string): void {
    this.failing.delete(namespace);
  }

  /**
   * The namespace's write failed: queued again at the back, not attempted for a wait that
   * doubles with each failure in a row. Returns the failures in a row and the wait in ms.
   */
  failed(namespace: string): { count: number; waitMs: number } {
    const count = (this.failing.get(namespace)?.count ?? 0) + 1;
    const waitMs = doublingWaitMs(count, this.baseMs, this.maxMs);
    this.failing.set(namespace, { count, retryAt: this.options.now() + waitMs });
    this.pending.delete(namespace);
    this.pending.add(namespace);
    return { count, waitMs };
  }

  /** The queued namespaces, in order. */
  namespaces(): IterableIterator<string> {
    return this.pending.values();
  }

  /** Namespaces whose last write failed (and that wait to be attempted again). */
  get failingCount(): number {
    return this.failing.size;
  }
}
