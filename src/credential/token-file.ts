/**
 * Reading the caller's projected service account token: re-read on every run (the kubelet
 * rotates it in place), bounded in size, exactly one token; errors name the path, never the
 * content.
 */
import { readFile } from 'node:fs/promises';
import { errnoCode, TenantGuardError } from '../errors.js';

/** Largest caller token file read, in bytes (projected tokens are about 1 KiB). */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

function describeReadError(err: unknown): string {
  switch (errnoCode(err)) {
    case 'ENOENT':
      return 'does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'is not readable (permission denied)';
    case 'EISDIR':
      return 'is a directory';
    default:
      return `could not be read (${errnoCode(err) ?? 'unknown error'})`;
  }
}

/**
 * Checks that text is one bearer token: no whitespace or control characters inside.
 * @returns the token, trimmed, or undefined when it is empty or not one token
 */
export function asSingleToken(text: string): string | undefined {
  const token = text.trim();
  // eslint-disable-next-line no-control-regex -- a token with control characters is refused
  if (token === '' || /[\s\x00-\x1f\x7f]/.test(token)) return undefined;
  return token;
}

/**
 * Reads the caller token. Called on every run: the kubelet rotates projected tokens in place.
 * @throws TenantGuardError ERR_CREDENTIAL_TOKEN_FILE when the file is missing, unreadable,
 *         empty or holds more than one token (the message names the path, never the content).
 */
export async function readCallerToken(path: string): Promise<string> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_TOKEN_FILE_BYTES) {
      throw new TenantGuardError(
        'ERR_CREDENTIAL_TOKEN_FILE',
        `caller token file ${path} is larger than ${MAX_TOKEN_FILE_BYTES} bytes`,
      );
    }
    text = buf.toString('utf8');
  } catch (cause) {
    if (cause instanceof TenantGuardError) throw cause;
    throw new TenantGuardError(
      'ERR_CREDENTIAL_TOKEN_FILE',
      `caller token file ${path} ${describeReadError(cause)}`,
      { cause },
    );
  }
  if (text.trim() === '')
    throw new TenantGuardError('ERR_CREDENTIAL_TOKEN_FILE', `caller token file ${path} is empty`);
  const token = asSingleToken(text);
  if (token === undefined)
    throw new TenantGuardError(
      'ERR_CREDENTIAL_TOKEN_FILE',
      `caller token file ${path} does not hold a single token (whitespace inside)`,
    );
  return token;
}
