/**
 * A bounded queue in front of TokenReviews: at most `maxConcurrent` run at once and at most
 * `maxQueued` wait in each of two lanes. The priority lane is for tokens of callers the
 * broker served before (a controller whose cached review just expired, or whose token was
 * just rotated: by identity, at most one review per identity at once, served-callers.ts);
 * they are served before other tokens, and one slot is kept for them, so a flood of bogus
 * tokens, or of valid tokens of callers allowed no target, never holds every review slot.
 * A full lane refuses at once, so waiting work stays bounded.
 */
import { TenantGuardError } from '../../errors.js';

/** A full queue: the caller should retry after this many seconds. */
export class ReviewQueueFull extends TenantGuardError {
  readonly retryAfterSeconds = 1;
  constructor() {
    super('ERR_BROKER_BUSY', 'too many caller tokens are being reviewed; retry in 1s');
  }
}

interface Waiter {
  start: () => void;
}

/** See the file comment. */
export class ReviewQueue {
  private running = 0;
  private readonly lanes: { priority: Waiter[]; other: Waiter[] } = { priority: [], other: [] };

  /**
   * @param maxConcurrent reviews at once, >= 1 (with 2 or more, one is kept for the priority lane)
   * @param maxQueued waiting reviews per lane, >= 0
   */
  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueued: number,
  ) {}

  /** Reviews running now and waiting (for tests and metrics). */
  get depth(): { running: number; priority: number; other: number } {
    return { running: this.running, priority: this.lanes.priority.length, other: this.lanes.other.length };
  }

  private hasSlot(priority: boolean): boolean {
    const limit = priority || this.maxConcurrent < 2 ? this.maxConcurrent : this.maxConcurrent - 1;
    return this.running < limit;
  }

  /**
   * Runs `work` when a slot is free. Rejects with `ReviewQueueFull` when the lane is full, and
   * with `signal.reason` when `signal` fires while waiting (the waiter leaves the queue).
   */
  async run<T>(work: () => Promise<T>, priority: boolean, signal: AbortSignal): Promise<T> {
    await this.acquire(priority, signal);
    try {
      return await work();
    } finally {
      this.running--;
      this.next();
    }
  }

  private acquire(priority: boolean, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const lane = priority ? this.lanes.priority : this.lanes.other;
    if (lane.length === 0 && this.hasSlot(priority) && (priority || this.lanes.priority.length === 0)) {
      this.running++;
      return Promise.resolve();
    }
    if (lane.length >= this.maxQueued) return Promise.reject(new ReviewQueueFull());
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = lane.indexOf(waiter);
        if (i !== -1) lane.splice(i, 1);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        start: () => {
          signal.removeEventListener('abort', onAbort);
          this.running++;
          resolve();
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      lane.push(waiter);
    });
  }

  private next(): void {
    for (;;) {
      const waiter =
        this.hasSlot(true) && this.lanes.priority.length > 0
          ? this.lanes.priority.shift()
          : this.hasSlot(false)
            ? this.lanes.other.shift()
            : undefined;
      if (waiter === undefined) return;
      waiter.start();
    }
  }
}
