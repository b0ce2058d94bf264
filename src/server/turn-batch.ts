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
 * Bounded: at most `maxPerTurn` tasks run in one turn; the rest wait for the next turn, after
 * the loop has polled for I/O again (health checks, other connections). No task is dropped,
 * and one that throws does not stop the others.
 */

import { afterIoPoll } from '../admission/large-request-gate.js';

/** Tasks run in one turn at most, by default: ~64 typical reviews are a few milliseconds. */
export const DEFAULT_MAX_TASKS_PER_TURN = 64;

/** A task: its work, and what it returns (if anything) is its answer, run after every task of the turn. */
export type TurnTask = () => (() => void) | void;

export interface TurnBatchOptions {
  /** Called with what a task or an answer threw; the others run all the same. */
  readonly onError: (err: unknown) => void;
  /** Tasks run in one turn at most. Default DEFAULT_MAX_TASKS_PER_TURN. */
  readonly maxPerTurn?: number;
  /** Runs its argument at the end of this turn of the loop (injected in tests). Default `setImmediate`. */
  readonly schedule?: (run: () => void) => void;
}

/** A FIFO of tasks run at the end of the turn; see the module comment. */
export class TurnBatch {
  private readonly onError: (err: unknown) => void;
  private readonly maxPerTurn: number;
  private readonly schedule: (run: () => void) => void;
  private pending: TurnTask[] = [];
  private scheduled = false;

  constructor(options: TurnBatchOptions) {
    const max = options.maxPerTurn ?? DEFAULT_MAX_TASKS_PER_TURN;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`maxPerTurn must be a positive integer, not ${max}`);
    this.onError = options.onError;
    this.maxPerTurn = max;
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
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.run());
    }
  }

  /**
   * Runs `task` once the loop has polled for I/O again, behind the tasks deferred by that
   * poll's callbacks: a large request's next step waits behind the small requests that
   * arrived meanwhile (issue 10), as with `afterIoPoll`, whose two immediates this adds to.
   */
  deferAfterPoll(task: TurnTask): void {
    afterIoPoll(() => this.defer(task));
  }

  private run(): void {
    this.scheduled = false;
    const tasks = this.pending.splice(0, this.maxPerTurn);
    // The rest (and what the tasks below defer) after the next poll for I/O.
    if (this.pending.length > 0) {
      this.scheduled = true;
      this.schedule(() => this.run());
    }
    const answers: Array<() => void> = [];
    for (const task of tasks) {
      try {
        const answer = task();
        if (answer !== undefined) answers.push(answer);
      } catch (err) {
        this.onError(err);
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
