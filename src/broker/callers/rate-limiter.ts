/**
 * Token buckets per key: each key (a caller's pod, or a source address) may take `burst`
 * tokens at once and `ratePerSecond` sustained. The least recently seen buckets are dropped
 * beyond `maxCallers`, so the map stays bounded whatever the keys.
 */

/** The answer of `take`. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** See the file comment. */
export class CallerRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /**
   * @param ratePerSecond sustained rate per caller, > 0
   * @param burst bucket size per caller, >= 1
   * @param maxCallers buckets kept (least recently used dropped). Default 10000.
   */
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly maxCallers = 10_000,
  ) {}

  /** Takes one token from `caller`'s bucket at `now` (epoch ms). */
  take(caller: string, now: number): RateDecision {
    const found = this.buckets.get(caller);
    let tokens = this.burst;
    if (found !== undefined) {
      this.buckets.delete(caller);
      tokens = Math.min(this.burst, found.tokens + (Math.max(0, now - found.at) / 1000) * this.ratePerSecond);
    }
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    this.buckets.set(caller, { tokens, at: now });
    if (this.buckets.size > this.maxCallers) {
      const oldest = this.buckets.keys().next();
      if (oldest.done !== true) this.buckets.delete(oldest.value);
    }
    if (allowed) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.ratePerSecond)) };
  }
}
