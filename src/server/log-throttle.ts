/**
 * At most one log line per interval for an event a client can repeat at will (a refusal
 * under load): the first is written, later ones within `intervalMs` are counted, and the
 * next line written says how many were not. Every one is still counted in the metrics.
 * Why: a 429 per request with a warning each let one client write log lines as fast as it
 * could send requests (a red-team review found the same for the broker's refusals).
 */
export class LogThrottle {
  private lastAt = -Infinity;
  private skipped = 0;

  constructor(
    private readonly intervalMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Undefined when this occurrence is only counted; otherwise how many before it were not
   * written (0 for the first), to put on its line.
   */
  take(): number | undefined {
    const now = this.now();
    if (now - this.lastAt < this.intervalMs) {
      this.skipped += 1;
      return undefined;
    }
    this.lastAt = now;
    const skipped = this.skipped;
    this.skipped = 0;
    return skipped;
  }
}
