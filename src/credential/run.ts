/**
 * One run of the exec plugin (`tenant-guard-credential BROKER TARGET`): caller token, cache or
 * broker, checks, then an ExecCredential on stdout, or nothing on stdout and exactly one line on
 * stderr. Everything outside the arguments (time, files, output) comes through CredentialIo.
 */
import { readFile } from 'node:fs/promises';
import { errnoCode, TenantGuardError } from '../errors.js';
import { requestToken } from './broker-client.js';
import { resolveBrokerEndpoint } from './broker-endpoint.js';
import { buildExecCredential, readExecInfo } from './exec-credential.js';
import { CREDENTIAL_USAGE, parseCredentialArgs, type CredentialOptions } from './options.js';
import { withRetries } from './retry.js';
import { checkIssuedToken, type CheckedToken, type TokenExpectations } from './token-checks.js';
import { cacheFilePath, checkCacheDir, ownUid, readCachedToken, writeCachedToken } from './token-cache.js';
import { readCallerToken } from './token-file.js';
import type { Clock } from '../clock.js';

/** Prefix of every line the plugin writes on stderr. */
export const STDERR_PREFIX = 'tenant-guard-credential';

/** What a run touches outside its arguments; injected so tests control time and output. */
export interface CredentialIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Milliseconds since the epoch. Default Date.now. */
  now?: Clock;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** The plugin's user id, which must own `--cache-dir`. Default process.getuid(). */
  uid?: number | undefined;
}

/** Exit codes: 0 a credential was printed; 1 no credential (the line on stderr says why); 2 bad usage. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

async function readCa(path: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (cause) {
    const why =
      errnoCode(cause) === 'ENOENT'
        ? 'does not exist'
        : `could not be read (${errnoCode(cause) ?? 'unknown error'})`;
    throw new TenantGuardError('ERR_CREDENTIAL_TLS', `broker CA file ${path} ${why}`, { cause });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new TenantGuardError('ERR_CREDENTIAL_TLS', `broker CA file ${path} holds no PEM certificate`);
  }
  return pem;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** CredentialIo with its defaults filled in (`uid` stays undefined where there are no POSIX ids). */
type FullIo = Required<Omit<CredentialIo, 'uid'>> & { uid: number | undefined };

/** `server`: where the token will be presented (KUBERNETES_EXEC_INFO), sent to the broker and part of the cache key. */
async function obtainToken(
  options: CredentialOptions,
  io: FullIo,
  server: string | undefined,
): Promise<CheckedToken> {
  const endpoint = resolveBrokerEndpoint(options.broker);
  const callerToken = await readCallerToken(options.tokenFile);
  const brokerUrl = endpoint.url.href;
  const expect = (): TokenExpectations => ({
    target: options.target,
    now: io.now(),
    marginMs: options.expiryMarginMs,
    ...(options.audience === undefined ? {} : { audience: options.audience }),
  });
  const cache =
    options.cacheDir === undefined
      ? undefined
      : {
          dir: options.cacheDir,
          file: cacheFilePath(options.cacheDir, brokerUrl, options.target, callerToken, server),
        };
  if (cache !== undefined) {
    await checkCacheDir(cache.dir, io.uid);
    const cached = await readCachedToken(
      cache.file,
      brokerUrl,
      options.target,
      io.now(),
      options.expiryMarginMs,
      io.uid,
      server,
    );
    if (cached !== undefined) {
      try {
        return checkIssuedToken(
          {
            token: cached.token,
            statedExpiresAt: cached.expiresAt,
            ...(cached.audience === undefined ? {} : { audience: cached.audience }),
          },
          expect(),
        );
      } catch {
        // An entry that no longer passes (another --audience, a clock change): ask the broker.
      }
    }
  }
  const ca = options.caFile === undefined ? undefined : await readCa(options.caFile);
  const issued = await withRetries(
    (timeoutMs) =>
      requestToken({
        endpoint,
        target: options.target,
        ...(server === undefined ? {} : { server }),
        callerToken,
        timeoutMs,
        ...(ca === undefined ? {} : { ca }),
      }),
    { timeoutMs: options.timeoutMs, now: io.now, sleep: io.sleep, random: io.random },
  );
  // Checked before it is cached or printed: never another cluster's token, never a spent one.
  const checked = checkIssuedToken(issued, expect());
  if (cache !== undefined) {
    try {
      await writeCachedToken(cache.file, cache.dir, brokerUrl, options.target, checked, server);
    } catch (err) {
      // The credential is still good; say once why the next run will call the broker again.
      io.stderr(
        `${STDERR_PREFIX}: warning: token cache ${cache.file} not written: ${oneLine(err instanceof Error ? err.message : String(err))}\n`,
      );
    }
  }
  return checked;
}

/**
 * One run of the exec plugin: parse the arguments, read the caller token, take the token from
 * the cache or the broker (retrying network errors, 5xx and 429, after the broker's
 * Retry-After when given, within `--timeout`), check it (token-checks.ts), print the
 * ExecCredential on stdout. On failure nothing goes to stdout and exactly one line to stderr:
 * `tenant-guard-credential: <code>: <cause and the broker's reason>`.
 * @returns the exit code (EXIT_OK, EXIT_FAILED, EXIT_USAGE)
 */
export async function runCredential(argv: readonly string[], io: CredentialIo): Promise<number> {
  const full: FullIo = {
    now: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    random: Math.random,
    uid: ownUid(),
    ...io,
  };
  try {
    const parsed = parseCredentialArgs(argv, io.env);
    if (parsed.help) {
      full.stdout(`${CREDENTIAL_USAGE}\n`);
      return EXIT_OK;
    }
    const execInfo = readExecInfo(io.env['KUBERNETES_EXEC_INFO']);
    const issued = await obtainToken(parsed.options, full, execInfo.server);
    const credential = buildExecCredential(
      execInfo.apiVersion,
      issued.token,
      issued.expiresAt,
      parsed.options.expiryMarginMs,
    );
    full.stdout(`${JSON.stringify(credential)}\n`);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof TenantGuardError) {
      full.stderr(`${STDERR_PREFIX}: ${err.code}: ${oneLine(err.message)}\n`);
      return err.code === 'ERR_CREDENTIAL_USAGE' ? EXIT_USAGE : EXIT_FAILED;
    }
    full.stderr(
      `${STDERR_PREFIX}: ERR_CREDENTIAL_BROKER: unexpected failure: ${oneLine(err instanceof Error ? err.message : String(err))}\n`,
    );
    return EXIT_FAILED;
  }
}
