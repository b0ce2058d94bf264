/**
 * The key ring in a directory (local runs): one file `<kid>.json` per key, mode 0600, in a
 * directory of mode 0700. The version is a digest of the file names, sizes and modification
 * times; a save re-checks it first, then writes each new key to a temporary file and renames
 * it into place. That is enough for one process, or a few sharing a disk; replicas in a
 * cluster share a Secret instead (key-store-secret.ts).
 *
 * Whatever lands in the directory is published and may sign, so the directory is trusted only
 * when nobody but the broker's user can write it: a directory writable by group or others or
 * owned by another user, and a key file owned by another user, readable or writable by group
 * or others, or not a regular file (a symlink points anywhere), make every read and write
 * fail with ERR_KEYRING_UNSAFE naming the path and the fix. The ring in memory keeps serving
 * (key-manager.ts) until the store is fixed or the replica's ring goes stale.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  lstat as fsLstat,
  mkdir,
  readdir,
  readFile,
  rename,
  stat as fsStat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, TenantGuardError } from '../../errors.js';
import { serializeKeyRecord } from './key-material.js';
import { entryName, parseEntries, type KeyChange, type KeySnapshot, type KeyStore } from './key-store.js';

/** What the store needs of `fs.Stats`. */
export interface FileFacts {
  uid: number;
  mode: number;
  size: number;
  mtimeMs: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** Options of `DirectoryKeyStore`. */
export interface DirectoryKeyStoreOptions {
  /**
   * The user that must own the directory and every key file. Default: this process's uid
   * (`process.getuid()`); no ownership check where there is none (Windows).
   */
  uid?: number;
  /** `fs.promises.stat` (follows links), for the directory. Tests inject another owner. */
  stat?: (path: string) => Promise<FileFacts>;
  /** `fs.promises.lstat` (does not follow links), for key files. */
  lstat?: (path: string) => Promise<FileFacts>;
}

interface Listed {
  name: string;
  size: number;
  mtimeMs: number;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

/** See the file comment. */
export class DirectoryKeyStore implements KeyStore {
  readonly description: string;
  private readonly uid: number | undefined;
  private readonly stat: (path: string) => Promise<FileFacts>;
  private readonly lstat: (path: string) => Promise<FileFacts>;

  constructor(
    private readonly dir: string,
    options: DirectoryKeyStoreOptions = {},
  ) {
    this.description = `directory ${dir}`;
    this.uid = options.uid ?? process.getuid?.();
    this.stat = options.stat ?? fsStat;
    this.lstat = options.lstat ?? fsLstat;
  }

  private unsafe(message: string): TenantGuardError {
    return new TenantGuardError('ERR_KEYRING_UNSAFE', message);
  }

  /** Refuses a directory others could plant keys in. False when it does not exist. */
  private async checkDirectory(): Promise<boolean> {
    let s: FileFacts;
    try {
      s = await this.stat(this.dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw new TenantGuardError(
        'ERR_KEYRING_STORE',
        `cannot read key directory ${this.dir}: ${errnoCode(err) ?? 'error'}`,
        { cause: err },
      );
    }
    if (!s.isDirectory())
      throw new TenantGuardError('ERR_KEYRING_STORE', `key directory ${this.dir} is not a directory`);
    if (this.uid !== undefined && s.uid !== this.uid)
      throw this.unsafe(
        `key directory ${this.dir} is owned by uid ${s.uid}, not by the broker's user (uid ${this.uid}); refusing its keys: use a directory of the broker's user, mode 0700`,
      );
    if ((s.mode & 0o022) !== 0)
      throw this.unsafe(
        `key directory ${this.dir} is writable by group or others (mode ${octal(s.mode)}); refusing its keys: chmod 700 ${this.dir}`,
      );
    return true;
  }

  /** Refuses a key file another user could have written or may read. */
  private checkFile(path: string, s: FileFacts): void {
    if (s.isSymbolicLink() || !s.isFile())
      throw this.unsafe(`key file ${path} is not a regular file; refusing the key ring: remove it`);
    if (this.uid !== undefined && s.uid !== this.uid)
      throw this.unsafe(
        `key file ${path} is owned by uid ${s.uid}, not by the broker's user (uid ${this.uid}); refusing the key ring: remove it`,
      );
    if ((s.mode & 0o077) !== 0)
      throw this.unsafe(
        `key file ${path} is readable or writable by group or others (mode ${octal(s.mode)}); refusing the key ring: remove it, or chmod 600 it if it is the broker's own`,
      );
  }

  private async listing(): Promise<Listed[]> {
    if (!(await this.checkDirectory())) return [];
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw new TenantGuardError(
        'ERR_KEYRING_STORE',
        `cannot read key directory ${this.dir}: ${errnoCode(err) ?? 'error'}`,
        { cause: err },
      );
    }
    const out: Listed[] = [];
    for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()) {
      const path = join(this.dir, name);
      let s: FileFacts;
      try {
        s = await this.lstat(path);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue;
        throw new TenantGuardError('ERR_KEYRING_STORE', `cannot read ${path}: ${errnoCode(err) ?? 'error'}`, {
          cause: err,
        });
      }
      this.checkFile(path, s);
      out.push({ name, size: s.size, mtimeMs: s.mtimeMs });
    }
    return out;
  }

  private static versionOf(listing: readonly Listed[]): string {
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
      } catch (err) {
        problems.push(`cannot read key file ${path}: ${errnoCode(err) ?? 'error'}`);
      }
    }
    const parsed = await parseEntries(entries, this.dir);
    return {
      keys: parsed.keys,
      version: DirectoryKeyStore.versionOf(listing),
      problems: [...problems, ...parsed.problems],
    };
  }

  async save(change: KeyChange, version: string | undefined): Promise<string> {
    const current = DirectoryKeyStore.versionOf(await this.listing());
    if (version !== current)
      throw new TenantGuardError(
        'ERR_KEYRING_CONFLICT',
        `key directory ${this.dir} changed since it was read`,
      );
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new TenantGuardError(
        'ERR_KEYRING_STORE',
        `cannot write key directory ${this.dir}: ${errnoCode(err) ?? 'error'}`,
        { cause: err },
      );
    }
    // Made just now, or by someone else in between: never write keys where others can.
    await this.checkDirectory();
    try {
      for (const k of change.add) {
        const tmp = join(this.dir, `.${entryName(k.kid)}.${randomBytes(6).toString('hex')}.tmp`);
        await writeFile(tmp, serializeKeyRecord(k), { mode: 0o600, flag: 'wx' });
        await rename(tmp, join(this.dir, entryName(k.kid)));
      }
      for (const kid of change.remove) {
        await unlink(join(this.dir, entryName(kid))).catch((err: unknown) => {
          if (errnoCode(err) !== 'ENOENT') throw err;
        });
      }
    } catch (err) {
      throw new TenantGuardError(
        'ERR_KEYRING_STORE',
        `cannot write key directory ${this.dir}: ${errnoCode(err) ?? 'error'}`,
        { cause: err },
      );
    }
    return DirectoryKeyStore.versionOf(await this.listing());
  }
}
