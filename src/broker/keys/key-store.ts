/**
 * Where the key ring is kept. A store holds one entry per key (`<kid>.json`, see
 * key-material.ts) and a version; a change names the keys to add and remove and is written
 * only if the store is still at the version it was read at (optimistic concurrency), so
 * replicas never lose each other's keys. Entries a store cannot parse are reported and left
 * alone, never dropped.
 */
import { TenantGuardError } from '../../errors.js';
import { parseKeyRecord, serializeKeyRecord } from './key-material.js';
import type { KeyRecord } from './key-ring.js';

/** What a store held when read. */
export interface KeySnapshot {
  keys: KeyRecord[];
  /** Opaque version for `save`; undefined when the store does not exist yet. */
  version: string | undefined;
  /** Entries that could not be read (for the log). */
  problems: string[];
}

/** A change to the ring. */
export interface KeyChange {
  add: readonly KeyRecord[];
  remove: readonly string[];
}

/** See the file comment. */
export interface KeyStore {
  /** For messages: `directory /x`, `Secret ns/name`. */
  readonly description: string;
  /**
   * @throws TenantGuardError ERR_KEYRING_STORE when the store cannot be read,
   *   ERR_KEYRING_UNSAFE when it may hold keys nobody vouches for (see key-store-directory.ts).
   */
  load(): Promise<KeySnapshot>;
  /**
   * Applies `change` if the store is still at `version`; returns the new version.
   * @throws TenantGuardError ERR_KEYRING_CONFLICT when it is not (read again and re-decide),
   *   ERR_KEYRING_STORE when it cannot be written, ERR_KEYRING_UNSAFE as for `load`.
   */
  save(change: KeyChange, version: string | undefined): Promise<string>;
}

/** The entry name of a key in a store. */
export function entryName(kid: string): string {
  return `${kid}.json`;
}

/** Parses the entries of a store (name to JSON text), collecting the unreadable ones. */
export async function parseEntries(
  entries: ReadonlyArray<[string, string]>,
  where: string,
): Promise<{ keys: KeyRecord[]; problems: string[] }> {
  const keys: KeyRecord[] = [];
  const problems: string[] = [];
  for (const [name, text] of entries) {
    if (!name.endsWith('.json')) continue;
    try {
      const record = await parseKeyRecord(text, `${where} ${name}`);
      if (entryName(record.kid) !== name)
        throw new TenantGuardError(
          'ERR_KEYRING_STORE',
          `key ring entry ${where} ${name}: holds key ${record.kid}`,
        );
      keys.push(record);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  return { keys, problems };
}

/**
 * A ring in memory: for a single process without a configured store (keys are lost on
 * restart) and for tests (two brokers may share one).
 */
export class MemoryKeyStore implements KeyStore {
  readonly description = 'memory';
  private entries = new Map<string, string>();
  private version = 0;

  async load(): Promise<KeySnapshot> {
    // Entries and version are taken together, before any await: a save while the entries are
    // parsed must not pair the old entries with the new version (a save based on that read
    // would pass the version check and drop the other replica's key).
    const entries = [...this.entries.entries()];
    const version = this.version === 0 ? undefined : String(this.version);
    const { keys, problems } = await parseEntries(entries, 'memory');
    return { keys, version, problems };
  }

  /** Drops every entry, as an operator deleting the store would (tests of a lost store). */
  clear(): void {
    this.entries = new Map();
    this.version += 1;
  }

  async save(change: KeyChange, version: string | undefined): Promise<string> {
    const current = this.version === 0 ? undefined : String(this.version);
    if (version !== current)
      throw new TenantGuardError(
        'ERR_KEYRING_CONFLICT',
        `key ring in memory changed since it was read (${String(version)} != ${String(current)})`,
      );
    const next = new Map(this.entries);
    for (const kid of change.remove) next.delete(entryName(kid));
    for (const k of change.add) next.set(entryName(k.kid), serializeKeyRecord(k));
    this.entries = next;
    this.version += 1;
    return String(this.version);
  }
}
