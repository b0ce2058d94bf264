/**
 * Reading command input: a file or `-` (stdin). Objects are parsed in manifests.ts.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { errnoCode, TenantGuardError } from '../errors.js';
import type { CliIo } from './io.js';

/** The `code` of a file system error (`ENOENT`...), never its message. */
export function fileErrorCode(err: unknown): string {
  return errnoCode(err) ?? 'error';
}

/**
 * The text of `path` (relative to `io.cwd`), or of stdin for `-`.
 * @throws TenantGuardError ERR_USAGE when the file cannot be read.
 */
export async function readInput(path: string, io: CliIo): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin)
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(resolve(io.cwd, path), 'utf8');
  } catch (err) {
    throw new TenantGuardError('ERR_USAGE', `cannot read ${path}: ${fileErrorCode(err)}`, { cause: err });
  }
}
