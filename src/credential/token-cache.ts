/**
 * The plugin's optional on-disk token cache (--cache-dir): one file per broker, target, server
 * (the URL the token is presented to, from KUBERNETES_EXEC_INFO) and caller, in a directory
 * only the plugin's user may write, each token checked again when read. Keyed on the server
 * too: the broker binds a token to it (ADR 0011), and a stale cluster Secret naming another
 * server must not be served the token cached for the right one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, TenantGuardError } from '../errors.js';
import { jwtSubject } from './jwt-claims.js';
import { asSingleToken } from './token-file.js';

/** A cache entry as stored on disk. */
interface CacheEntry {
  v: 1;
  broker: string;
  target: string;
  /** The server the token was issued for; absent when the request named none. */
  server?: string;
  token: string;
  /** The token's checked expiry, ms since the epoch. */
  expiresAt: number;
  /** The audience it was checked against, when it is a JWT. */
  audience?: string;
}

/** A token as cached: checked before it was written (token-checks.ts), and checked again when read. */
export interface CachedToken {
  token: string;
  expiresAt: number;
  audience?: string;
}

/** The plugin's own user id (tests inject another). */
export function ownUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/**
 * Refuses a cache directory another user could plant tokens in or read them from: it must be
 * a directory owned by `uid` and not writable by group or others (issue 15 item 7). A missing
 * directory is fine (it is created 0700 on the first write).
 * @param uid the plugin's user id; undefined (no POSIX ids) skips the owner check
 * @throws TenantGuardError ERR_CREDENTIAL_CACHE naming the directory and what is wrong.
 */
export async function checkCacheDir(
  dir: string,
  uid: number | undefined,
  statDir: (path: string) => Promise<{ isDirectory(): boolean; uid: number; mode: number }> = stat,
): Promise<void> {
  let st;
  try {
    st = await statDir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return;
    throw new TenantGuardError(
      'ERR_CREDENTIAL_CACHE',
      `--cache-dir ${dir} cannot be examined (${errnoCode(err) ?? 'error'})`,
      { cause: err },
    );
  }
  const fix = `use a directory of this user with mode 0700 (chmod 700 ${dir}), or no --cache-dir`;
  if (!st.isDirectory())
    throw new TenantGuardError('ERR_CREDENTIAL_CACHE', `--cache-dir ${dir} is not a directory; ${fix}`);
  if (uid !== undefined && st.uid !== uid)
    throw new TenantGuardError(
      'ERR_CREDENTIAL_CACHE',
      `--cache-dir ${dir} is owned by uid ${st.uid}, not this user (uid ${uid}); ${fix}`,
    );
  if ((st.mode & 0o022) !== 0)
    throw new TenantGuardError(
      'ERR_CREDENTIAL_CACHE',
      `--cache-dir ${dir} is writable by ${(st.mode & 0o002) !== 0 ? 'others' : 'its group'} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); ${fix}`,
    );
}

/** Largest cache file read, in bytes. */
const MAX_CACHE_BYTES = 64 * 1024;

/**
 * Who the caller is, for partitioning the cache: the caller token's `sub` (read unverified;
 * for a projected token `system:serviceaccount:NS:NAME`), else a hash of the token itself.
 * Keyed by identity rather than by token, a cached remote token survives the kubelet's
 * rotation of the caller token (same controller, same right to the target), while another
 * identity sharing the directory never gets it.
 */
export function callerIdentity(callerToken: string): string {
  const sub = jwtSubject(callerToken);
  return sub !== undefined
    ? `sub:${sub}`
    : `sha256:${createHash('sha256').update(callerToken).digest('hex')}`;
}

/**
 * The cache file for a broker endpoint, target, server and caller: `tg-<hash>.json`, the hash
 * over all of them so that the name reveals none.
 */
export function cacheFilePath(
  dir: string,
  brokerUrl: string,
  target: string,
  callerToken: string,
  server?: string,
): string {
  const key =
    server === undefined
      ? [brokerUrl, target, callerIdentity(callerToken)]
      : [brokerUrl, target, server, callerIdentity(callerToken)];
  const hash = createHash('sha256').update(JSON.stringify(key)).digest('hex');
  return join(dir, `tg-${hash.slice(0, 40)}.json`);
}

function parseEntry(
  text: string,
  brokerUrl: string,
  target: string,
  server: string | undefined,
): CacheEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const e: Record<string, unknown> = Object.fromEntries(Object.entries(value));
  const token = typeof e['token'] === 'string' ? asSingleToken(e['token']) : undefined;
  const expiresAt = e['expiresAt'];
  if (e['v'] !== 1 || e['broker'] !== brokerUrl || e['target'] !== target || token === undefined)
    return undefined;
  // An entry for another server (or for none, when one is asked for) is a miss.
  if (e['server'] !== server) return undefined;
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return undefined;
  const audience = e['audience'];
  return {
    v: 1,
    broker: brokerUrl,
    target,
    ...(server === undefined ? {} : { server }),
    token,
    expiresAt,
    ...(typeof audience === 'string' ? { audience } : {}),
  };
}

/**
 * Reads a cached token that is still good: its expiry more than `marginMs` ahead of `now`.
 * Anything else (no file, unreadable, corrupt, for another broker, target or server, a
 * symlink, not the caller's own or readable by others) counts as a miss; the next write
 * replaces it.
 * @returns the token, or undefined on a miss
 */
export async function readCachedToken(
  file: string,
  brokerUrl: string,
  target: string,
  now: number,
  marginMs: number,
  uid: number | undefined = ownUid(),
  server?: string,
): Promise<CachedToken | undefined> {
  let text: string;
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = await handle.stat();
      if (!st.isFile() || (st.mode & 0o077) !== 0 || st.uid !== (uid ?? st.uid) || st.size > MAX_CACHE_BYTES)
        return undefined;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  const entry = parseEntry(text, brokerUrl, target, server);
  if (entry === undefined || entry.expiresAt - marginMs <= now) return undefined;
  return {
    token: entry.token,
    expiresAt: entry.expiresAt,
    ...(entry.audience === undefined ? {} : { audience: entry.audience }),
  };
}

/**
 * Stores a token: written to a private temporary file (mode 0600) and renamed over the
 * cache file, so a concurrent reader sees the old entry or the new one, never half of one.
 * The directory is created with mode 0700 when missing.
 * @throws the file system's error; the caller treats a failed write as a warning
 */
export async function writeCachedToken(
  file: string,
  dir: string,
  brokerUrl: string,
  target: string,
  issued: CachedToken,
  server?: string,
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const entry: CacheEntry = {
    v: 1,
    broker: brokerUrl,
    target,
    ...(server === undefined ? {} : { server }),
    token: issued.token,
    expiresAt: issued.expiresAt,
    ...(issued.audience === undefined ? {} : { audience: issued.audience }),
  };
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(entry), { mode: 0o600, flag: 'wx' });
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
