/**
 * How many bytes of admission bodies the webhook holds while they arrive, in all and per
 * source address. A small body (one the large-request gate does not make wait, so read at
 * once) takes its declared length from the budget before a byte of it is read, and gives
 * it back when its answer is sent or its connection closes; past the budget it is refused
 * with 429 unread.
 *
 * Why: nothing bounded the bodies in flight. 800 connections that each declared 256 KiB
 * and sent all but the last byte held ~300 MB outside the V8 heap within seconds, past the
 * Deployment's memory limit (a red-team review): any pod that reaches port 8443 could have
 * the webhook OOM-killed. The API server sends a body in milliseconds, so a budget of
 * several MiB per source is never its limit; one source cannot spend the others' share.
 * Pure bookkeeping: no I/O.
 */

export const DEFAULT_BODY_BUDGET_BYTES = 32 * 1024 * 1024;
export const DEFAULT_SOURCE_BODY_BUDGET_BYTES = 4 * 1024 * 1024;

/** Gives back what `take` took (idempotent). */
export type BodyRelease = () => void;

export class BodyBudget {
  private inFlight = 0;
  private readonly bySource = new Map<string, number>();

  constructor(
    readonly totalBytes: number = DEFAULT_BODY_BUDGET_BYTES,
    readonly perSourceBytes: number = DEFAULT_SOURCE_BODY_BUDGET_BYTES,
  ) {}

  /** Bytes held now, in all and by how many sources (for tests and logs). */
  get load(): { bytes: number; sources: number } {
    return { bytes: this.inFlight, sources: this.bySource.size };
  }

  /**
   * Takes `bytes` for `source`, or answers undefined (taking nothing) when that would pass
   * the total or the source's share. The map holds only sources with bytes in flight, so it
   * is bounded by the connections open.
   */
  take(source: string, bytes: number): BodyRelease | undefined {
    const held = this.bySource.get(source) ?? 0;
    if (this.inFlight + bytes > this.totalBytes || held + bytes > this.perSourceBytes) return undefined;
    this.inFlight += bytes;
    this.bySource.set(source, held + bytes);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= bytes;
      const left = (this.bySource.get(source) ?? bytes) - bytes;
      if (left <= 0) this.bySource.delete(source);
      else this.bySource.set(source, left);
    };
  }
}
