/**
 * Reading command input: a file or `-` (stdin), and one Kubernetes object from YAML or JSON.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { errnoCode, TenantGuardError } from '../errors.js';
import { isRecord } from '../json.js';
import type { KubeObject } from '../policy/types.js';
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

/**
 * Parses exactly one Kubernetes object (a mapping with string `apiVersion` and `kind`) from
 * YAML or JSON text.
 * @throws TenantGuardError ERR_USAGE naming the source and the problem.
 */
export function parseOneObject(text: string, source: string): KubeObject {
  const docs = parseAllDocuments(text);
  const values: unknown[] = [];
  for (const [i, doc] of docs.entries()) {
    if (doc.errors.length > 0) {
      throw new TenantGuardError(
        'ERR_USAGE',
        `${source} document ${i + 1}: YAML error: ${doc.errors[0]?.message.split('\n')[0] ?? 'unreadable'}`,
      );
    }
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) values.push(value);
  }
  if (values.length !== 1)
    throw new TenantGuardError('ERR_USAGE', `${source}: holds ${values.length} objects; give exactly one`);
  const object = values[0];
  if (!isRecord(object))
    throw new TenantGuardError('ERR_USAGE', `${source}: is not a mapping; expected a Kubernetes object`);
  if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') {
    throw new TenantGuardError('ERR_USAGE', `${source}: apiVersion and kind must be strings`);
  }
  return object;
}
