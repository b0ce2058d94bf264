/**
 * A bounded LRU map whose entries expire at their own time: the caches of positive and of
 * failed TokenReviews, keyed by a hash of the caller token (never the token itself).
 */
import { createHash } from 'node:crypto';

/** SHA-256 of a token, hex: the only form of a caller token the broker keeps. */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** See the file comment. `now` is passed in so tests drive time. */
export class ExpiringLru<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  /** @param maxEntries entries kept; the least recently used goes first. */
  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The value, when present and `now` is before its expiry (a hit makes it most recent). */
  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (now >= entry.expiresAt) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores a value until `expiresAt` (epoch ms); a time not after `now` stores nothing. */
  set(key: string, value: V, expiresAt: number, now: number): void {
    this.entries.delete(key);
    if (expiresAt <= now || this.maxEntries <= 0) return;
    this.entries.set(key, { value, expiresAt });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
