/**
 * The key ring in a directory (local runs): one file `<kid>.json` per key, mode 0600, in a
 * directory of mode 0700. The version is a digest of the file names, sizes and modification
 * times; a save re-checks it first, then writes each new key to a temporary file and renames
 * it into place. That is enough for one process, or a few sharing a disk; replicas in a
 * cluster share a Secret instead (key-store-secret.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TenantGuardError } from '../errors.js';
import { serializeKeyRecord } from './key-material.js';
import { entryName, parseEntries, type KeyChange, type KeySnapshot, type KeyStore } from './key-store.js';

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

/** See the file comment. */
export class DirectoryKeyStore implements KeyStore {
  readonly description: string;

  constructor(private readonly dir: string) {
    this.description = `directory ${dir}`;
  }

  private async listing(): Promise<Array<{ name: string; size: number; mtimeMs: number; mode: number }>> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw new TenantGuardError('ERR_KEYRING_STORE', `cannot read key directory ${this.dir}: ${errno(err) ?? 'error'}`, { cause: err });
    }
    const out: Array<{ name: string; size: number; mtimeMs: number; mode: number }> = [];
    for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()) {
      try {
        const s = await stat(join(this.dir, name));
        if (s.isFile()) out.push({ name, size: s.size, mtimeMs: s.mtimeMs, mode: s.mode });
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw new TenantGuardError('ERR_KEYRING_STORE', `cannot read ${join(this.dir, name)}: ${errno(err) ?? 'error'}`, { cause: err });
      }
    }
    return out;
  }

  private static versionOf(listing: Array<{ name: string; size: number; mtimeMs: number }>): string {
    const h = createHash('sha256');
    for (const f of listing) h.update(`${f.name}\0${f.size}\0${f.mtimeMs}\n`);
    return h.digest('hex').slice(0, 32);
  }

  async load(): Promise<KeySnapshot> {
    const listing = await this.listing();
    const entries: Array<[string, string]> = [];
    const problems: string[] = [];
    for (const f of listing) {
      const path = join(this.dir, f.name);
      try {
        entries.push([f.name, await readFile(path, 'utf8')]);
        if ((f.mode & 0o077) !== 0) problems.push(`key file ${path} is readable by others; chmod 600 it`);
      } catch (err) {
        problems.push(`cannot read key file ${path}: ${errno(err) ?? 'error'}`);
      }
    }
    const parsed = await parseEntries(entries, this.dir);
    return { keys: parsed.keys, version: DirectoryKeyStore.versionOf(listing), problems: [...problems, ...parsed.problems] };
  }

  async save(change: KeyChange, version: string | undefined): Promise<string> {
    const current = DirectoryKeyStore.versionOf(await this.listing());
    if (version !== current) throw new TenantGuardError('ERR_KEYRING_CONFLICT', `key directory ${this.dir} changed since it was read`);
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      for (const k of change.add) {
        const tmp = join(this.dir, `.${entryName(k.kid)}.${randomBytes(6).toString('hex')}.tmp`);
        await writeFile(tmp, serializeKeyRecord(k), { mode: 0o600, flag: 'wx' });
        await rename(tmp, join(this.dir, entryName(k.kid)));
      }
      for (const kid of change.remove) {
        await unlink(join(this.dir, entryName(kid))).catch((err: unknown) => {
          if (errno(err) !== 'ENOENT') throw err;
        });
      }
    } catch (err) {
      throw new TenantGuardError('ERR_KEYRING_STORE', `cannot write key directory ${this.dir}: ${errno(err) ?? 'error'}`, { cause: err });
    }
    return DirectoryKeyStore.versionOf(await this.listing());
  }
}
