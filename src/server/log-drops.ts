/**
 * Log and audit lines that a blocked stdout could not take, bounded and counted.
 *
 * Lines go to stdout through pino's asynchronous writer (sonic-boom), which keeps what the
 * pipe has not taken yet in memory. While the reader of that pipe (the container runtime's
 * log writer) is stalled, that buffer grew without a bound: a red-team review stalled it and
 * sent denials with 240 KB names, and the webhook reached the shipped 192 MiB heap limit and
 * died, for every tenant. The writer now holds at most MAX_UNWRITTEN_LOG_BYTES; a batch of
 * lines past it is dropped, counted in `tenant_guard_log_lines_dropped_total`, and, once a
 * second at most while lines are being dropped, one warning line says how many (it goes out
 * once the pipe moves again). A replica with a stalled log keeps answering; the counter is
 * what says its log, and so its audit, is incomplete.
 */
import type { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { realTimers, type LineBatchTimers } from './line-batch.js';

/**
 * Most bytes of lines the stdout writer keeps for a blocked pipe: 16 MiB, ~30,000 audit
 * lines of a typical review (several seconds of a busy replica), within the heap beside the
 * largest registry (docs/capacity.md).
 */
export const MAX_UNWRITTEN_LOG_BYTES = 16 * 1024 * 1024;

/** The stdout writer of serve's log and audit lines (fd 1), asynchronous and bounded. */
export function boundedStdout(fd = 1): ReturnType<typeof pino.destination> {
  return pino.destination({ dest: fd, sync: false, maxLength: MAX_UNWRITTEN_LOG_BYTES });
}

/** How often at most a warning says lines were dropped. */
export const DROP_REPORT_MS = 1_000;

/** Counts the lines a writer drops (its `drop` events) and reports them, at most once per DROP_REPORT_MS. */
export class LogDrops {
  private count = 0;
  private reported = 0;
  private timer: unknown = undefined;

  constructor(
    /** Called with the lines dropped since the last report (e.g. a logger's warning). */
    private readonly report: (dropped: number) => void,
    private readonly timers: LineBatchTimers = realTimers,
  ) {}

  /** Counts every `drop` event of `writer` (sonic-boom emits the data it did not keep). */
  watch(writer: EventEmitter): void {
    writer.on('drop', (data: unknown) => this.dropped(typeof data === 'string' ? lineCount(data) : 1));
  }

  /** Lines dropped so far. */
  get total(): number {
    return this.count;
  }

  private dropped(lines: number): void {
    this.count += lines;
    if (this.timer !== undefined) return;
    this.timer = this.timers.set(() => {
      this.timer = undefined;
      const since = this.count - this.reported;
      this.reported = this.count;
      this.report(since);
    }, DROP_REPORT_MS);
  }
}

/** Lines in a batch of lines, each ended by a newline (at least one). */
function lineCount(data: string): number {
  let lines = 0;
  for (let at = data.indexOf('\n'); at !== -1; at = data.indexOf('\n', at + 1)) lines += 1;
  return Math.max(1, lines);
}

/** `tenant_guard_log_lines_dropped_total`: lines stdout's writer dropped, read at every scrape. */
export function registerLogDrops(registry: Registry, total: () => number): void {
  let counted = 0;
  new Counter({
    name: 'tenant_guard_log_lines_dropped_total',
    help: 'Log and audit lines dropped because stdout did not take them (its reader stalled past the buffer bound)',
    registers: [registry],
    collect() {
      const now = total();
      if (now > counted) this.inc(now - counted);
      counted = now;
    },
  });
}
