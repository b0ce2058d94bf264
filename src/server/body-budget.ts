/**
 * How many bytes of admission bodies the webhook holds while they arrive and until they are
 * answered, in all and per source address. A small body (read at once) takes its declared
 * length from the budget before a byte of it is read; so does a large one (over the
 * large-request gate's threshold), which is read in full before it waits for its turn; a
 * body of unknown length (chunked) takes its bytes as they arrive. Each gives them back when
 * its answer is sent or its connection closes; past the budget it is refused with 429 (unread,
 * or, past it mid-body, with the connection closed).
 *
 * Why: nothing bounded the bodies in flight. 800 connections that each declared 256 KiB
 * and sent all but the last byte held ~300 MB outside the V8 heap within seconds, past the
 * Deployment's memory limit (a red-team review): any pod that reaches port 8443 could have
 * the webhook OOM-killed. The API server sends a body in milliseconds, so a budget of
 * several MiB per source is never its limit; one source cannot spend the others' share.
 * Large bodies were left out while they waited for their turn unread, with their bytes in
 * the socket; that let a client that trickled one hold the turn (large-admission.ts), and
 * read first they count here instead. Pure bookkeeping: no I/O.
 */

export const DEFAULT_BODY_BUDGET_BYTES = 32 * 1024 * 1024;
export const DEFAULT_SOURCE_BODY_BUDGET_BYTES = 4 * 1024 * 1024;

/** Gives back what `take` took (idempotent). */
export type BodyRelease = () => void;

/** Bytes of one body, taken as it arrives (`BodyBudget.hold`). */
export interface BodyHold {
  grow(bytes: number): boolean;
  readonly release: BodyRelease;
}

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
    const hold = this.hold(source);
    return hold.grow(bytes) ? hold.release : undefined;
  }

  /**
   * An empty hold for `source` that grows as a body of unknown length arrives: `grow` takes
   * more bytes, or answers false (taking nothing) when that would pass the total or the
   * source's share; `release` gives back all it took (idempotent; a hold released grows no more).
   */
  hold(source: string): BodyHold {
    let held = 0;
    let released = false;
    return {
      grow: (bytes) => {
        if (bytes <= 0) return !released;
        const bySource = this.bySource.get(source) ?? 0;
        if (released || this.inFlight + bytes > this.totalBytes || bySource + bytes > this.perSourceBytes)
          return false;
        this.inFlight += bytes;
        this.bySource.set(source, bySource + bytes);
        held += bytes;
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        if (held === 0) return;
        this.inFlight -= held;
        const left = (this.bySource.get(source) ?? held) - held;
        if (left <= 0) this.bySource.delete(source);
        else this.bySource.set(source, left);
      },
    };
  }
}
