/**
 * Work put off to the end of the event loop's turn and run there in the order it came, in
 * two phases: every task, then every answer the tasks returned. The lean path judges the
 * small AdmissionReviews whose bodies one I/O poll finished reading, one after the other,
 * then writes their answers in a row, instead of judging and answering each inside the
 * poll, between the reads of the others.
 *
 * Why: measured on a typical /mutate at 32 connections (docs/capacity.md, "Answers at the
 * end of the turn"), the server's CPU a request went from ~124 µs to ~76 µs judged and
 * answered at the end of the turn (user 96 to 56, system 27 to 11), and to ~61 µs with the
 * answers written after all the judging. Each answer written inside the poll woke the
 * sleeping client through the loopback TCP stack (12% of the server's samples in `perf`,
 * 4% after), and every part of the request, ours and node's, cost more interleaved than in
 * a row.
 *
 * Bounded: at most `maxPerTurn` tasks run in one turn, and once a task ends with the turn's
 * time budget (`budgetMs`) spent, no other starts in it; the rest wait for the next turn,
 * after the loop has polled for I/O again (health checks, other connections), in order. At
 * least one task runs a turn, no task is dropped, and one that throws does not stop the
 * others. The answers of the tasks a turn ran are written at the end of that turn.
 *
 * Why the time budget: a turn ran up to 64 tasks whatever they cost. Findings-heavy
 * ApplicationSets of ~250 KiB (31-50 ms each to judge, under the large-request threshold)
 * held one turn 0.7-1.8 s, and other tenants' small reviews passed the API server's 5 s
 * webhook timeout (a red-team review). Typical reviews (~60 µs) never reach the budget: 64
 * of them still run in one turn, as measured above.
 */

import { afterIoPoll } from '../admission/large-request-gate.js';

/** Tasks run in one turn at most, by default: ~64 typical reviews are a few milliseconds. */
export const DEFAULT_MAX_TASKS_PER_TURN = 64;

/**
 * Milliseconds of tasks one turn runs at most, by default: once a task ends past it, the rest
 * wait for the next turn. 64 typical reviews take a few milliseconds, so they are one turn
 * still; a costly one (tens of ms) ends its turn.
 */
export const DEFAULT_TURN_BUDGET_MS = 10;

/** A task: its work, and what it returns (if anything) is its answer, run after every task of the turn. */
export type TurnTask = () => (() => void) | void;

export interface TurnBatchOptions {
  /** Called with what a task or an answer threw; the others run all the same. */
  readonly onError: (err: unknown) => void;
  /** Tasks run in one turn at most. Default DEFAULT_MAX_TASKS_PER_TURN. */
  readonly maxPerTurn?: number;
  /**
   * Milliseconds (of `now`) a turn runs tasks for: after a task, if this much has passed
   * since the turn's first task started, the rest wait for the next turn. A positive number
   * (`Infinity`: no time bound). Default DEFAULT_TURN_BUDGET_MS (10 ms).
   */
  readonly budgetMs?: number;
  /** A monotonic clock in milliseconds (injected in tests). Default `performance.now`. */
  readonly now?: () => number;
  /** Runs its argument at the end of this turn of the loop (injected in tests). Default `setImmediate`. */
  readonly schedule?: (run: () => void) => void;
}

/** A FIFO of tasks run at the end of the turn; see the module comment. */
export class TurnBatch {
  private readonly onError: (err: unknown) => void;
  private readonly maxPerTurn: number;
  private readonly budgetMs: number;
  private readonly now: () => number;
  private readonly schedule: (run: () => void) => void;
  private pending: TurnTask[] = [];
  private scheduled = false;

  constructor(options: TurnBatchOptions) {
    const max = options.maxPerTurn ?? DEFAULT_MAX_TASKS_PER_TURN;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`maxPerTurn must be a positive integer, not ${max}`);
    const budget = options.budgetMs ?? DEFAULT_TURN_BUDGET_MS;
    if (!(budget > 0)) throw new RangeError(`budgetMs must be a positive number, not ${budget}`);
    this.onError = options.onError;
    this.maxPerTurn = max;
    this.budgetMs = budget;
    this.now = options.now ?? (() => performance.now());
    this.schedule = options.schedule ?? ((run) => void setImmediate(run));
  }

  /** Tasks waiting for their turn. */
  get waiting(): number {
    return this.pending.length;
  }

  /**
   * Runs `task` at the end of this turn (or a later one, behind the tasks before it), and
   * the answer it returns once every task of that turn has run.
   */
  defer(task: TurnTask): void {
    this.pending.push(task);
    this.scheduleRun();
  }

  /**
   * Runs `task` once the loop has polled for I/O again, behind the tasks deferred by that
   * poll's callbacks: a large request's next step waits behind the small requests that
   * arrived meanwhile (issue 10), as with `afterIoPoll`, whose two immediates this adds to.
   */
  deferAfterPoll(task: TurnTask): void {
    afterIoPoll(() => this.defer(task));
  }

  private scheduleRun(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    const tasks = this.pending.splice(0, this.maxPerTurn);
    // The rest (and what the tasks below defer) after the next poll for I/O.
    if (this.pending.length > 0) this.scheduleRun();
    // One task alone reads no clock: a turn runs one at least.
    const started = tasks.length > 1 ? this.now() : 0;
    const answers: Array<() => void> = [];
    for (let i = 0; i < tasks.length; i++) {
      try {
        const answer = tasks[i]!();
        if (answer !== undefined) answers.push(answer);
      } catch (err) {
        this.onError(err);
      }
      if (i + 1 < tasks.length && this.now() - started >= this.budgetMs) {
        // The budget is spent: the tasks not run go first next turn, ahead of later ones.
        this.pending.unshift(...tasks.slice(i + 1));
        this.scheduleRun();
        break;
      }
    }
    for (const answer of answers) {
      try {
        answer();
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
