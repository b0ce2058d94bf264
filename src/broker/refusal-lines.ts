/**
 * The broker's refusal audit lines, within a budget per source or caller, and never lost.
 *
 * A refusal costs no TokenReview before the per-source limit, but it cost a ~500-byte line,
 * and one client with no token at all wrote 6 MB of audit a second (a red-team review). So
 * each budget (a source address, or an identified caller) writes REFUSAL_LINES_BURST lines at
 * once and REFUSAL_LINES_PER_SECOND after. A refusal past its budget is answered and counted
 * (the requests metric), and its line waits: the budget's next line says how many were not
 * written (`suppressed`). That next line used to come only with the budget's next refusal,
 * so a client that made 500 forbidden requests and stopped left 20 lines and no trace of the
 * other 480 (a second red-team review). Now a line waiting is also written
 *
 * - by `sweep()` (every SWEEP_MS on the broker's timer) once its budget allows a line again:
 *   the last refusal not written, with `suppressed` the others;
 * - when the budget is forgotten to keep the map bounded (MAX_WAITING_BUDGETS, least
 *   recently refused first), whatever its budget;
 * - on `close()`, whatever its budget.
 *
 * Every refusal is then either a line or counted in `suppressed` on a line of its budget.
 */
import type { TokenAuditRecord } from '../audit/record.js';
import type { Clock } from '../clock.js';
import { CallerRateLimiter } from './callers/rate-limiter.js';

/** Refusal audit lines a budget may write at once, then per second. */
export const REFUSAL_LINES_BURST = 20;
export const REFUSAL_LINES_PER_SECOND = 1;
/** Budgets with refusals waiting to be written; past it the least recently refused is written and forgotten. */
export const MAX_WAITING_BUDGETS = 10_000;
/** How often the broker's timer writes what waits (`sweep`). */
export const SWEEP_MS = 1_000;

/** The refusals of one budget not written yet: how many, and the last of them. */
interface Waiting {
  count: number;
  last: TokenAuditRecord;
}

/** See the file comment. */
export class RefusalLines {
  private readonly budgets = new CallerRateLimiter(
    REFUSAL_LINES_PER_SECOND,
    REFUSAL_LINES_BURST,
    MAX_WAITING_BUDGETS,
  );
  /** In the order of each budget's last refusal, oldest first. */
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly write: (record: TokenAuditRecord) => void,
    private readonly now: Clock,
  ) {}

  /** A refusal of `budget`: its line now, or counted until the budget allows one. */
  refused(budget: string, record: TokenAuditRecord): void {
    const waiting = this.waiting.get(budget);
    if (!this.budgets.take(budget, this.now()).allowed) {
      // Deleted and set again: the map's order is that of the last refusal.
      this.waiting.delete(budget);
      this.waiting.set(budget, { count: (waiting?.count ?? 0) + 1, last: record });
      if (this.waiting.size > MAX_WAITING_BUDGETS) {
        const oldest = this.waiting.entries().next();
        if (oldest.done !== true) this.writeWaiting(oldest.value[0], oldest.value[1]);
      }
      return;
    }
    if (waiting === undefined) this.write(record);
    else {
      this.waiting.delete(budget);
      this.write({ ...record, suppressed: waiting.count });
    }
  }

  /** Writes what waits of every budget that allows a line again. */
  sweep(): void {
    const now = this.now();
    // A Map's iteration goes on past the entry deleted under it: no copy is needed.
    for (const [budget, waiting] of this.waiting) {
      if (this.budgets.take(budget, now).allowed) this.writeWaiting(budget, waiting);
    }
  }

  /** Writes everything that waits, whatever its budget (the broker is closing). */
  close(): void {
    for (const [budget, waiting] of this.waiting) this.writeWaiting(budget, waiting);
  }

  /** Refusals counted and not written yet (tests). */
  get waitingCount(): number {
    let sum = 0;
    for (const w of this.waiting.values()) sum += w.count;
    return sum;
  }

  /** The last refusal waiting, the others counted in `suppressed` (none: no key). */
  private writeWaiting(budget: string, waiting: Waiting): void {
    this.waiting.delete(budget);
    const others = waiting.count - 1;
    this.write(others === 0 ? waiting.last : { ...waiting.last, suppressed: others });
  }
}
