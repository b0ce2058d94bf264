/**
 * Reading many Kubernetes objects for `check` and `scan`: a file, `-` (stdin) or a directory
 * searched recursively for `.yaml`, `.yml` and `.json`, each file multi-document. Bounded:
 * at most `MAX_FILES` files and `MAX_FILE_BYTES` per file; past either, a clear error.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { TenantGuardError } from '../errors.js';
import { isRecord } from '../json.js';
import type { KubeObject } from '../policy/types.js';
import type { CliIo } from './io.js';
import { fileErrorCode, readInput } from './read-input.js';

export const MAX_FILES = 10_000;
export const MAX_FILE_BYTES = 8 * 1024 * 1024;
const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

/** One object and where it came from (`file` or `file#3` for the third document). */
export interface SourcedObject {
  readonly source: string;
  readonly object: KubeObject;
}

function usage(message: string): TenantGuardError {
  return new TenantGuardError('ERR_USAGE', message);
}

/** Manifest files under `dir`, sorted, recursively (symbolic links to directories are not followed). */
async function manifestFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    const entries = await readdir(current, { withFileTypes: true });
    for (const entry of entries) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile() && MANIFEST_EXTENSIONS.some((e) => entry.name.endsWith(e))) found.push(path);
      if (found.length > MAX_FILES)
        throw usage(`${dir}: more than ${MAX_FILES} manifest files; check a smaller directory`);
    }
  }
  return found.sort();
}

/**
 * Every object of a YAML or JSON text, read as kubectl reads it: empty documents skipped,
 * YAML merge keys (`<<`) merged (go-yaml, under kubectl and kustomize, merges them), and any
 * document with an `items` list unfolded, nested lists too (apimachinery treats any object
 * with `items` as a list, typed or not: `ApplicationList`, a `List` in a `List`). Before, a
 * merge key hid a destination and a typed list was skipped, and `check` exited 0 for
 * objects the webhook denies (a red-team review).
 * @throws TenantGuardError ERR_USAGE naming the source and document.
 */
export function parseObjects(text: string, source: string): SourcedObject[] {
  const out: SourcedObject[] = [];
  const docs = parseAllDocuments(text, { merge: true });
  for (const [i, doc] of docs.entries()) {
    const where = docs.length > 1 ? `${source}#${i + 1}` : source;
    if (doc.errors.length > 0)
      throw usage(`${where}: YAML error: ${doc.errors[0]?.message.split('\n')[0] ?? 'unreadable'}`);
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (err) {
      // The parser's own bounds (an alias bomb): bad input, not a verdict.
      throw usage(`${where}: YAML error: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
    if (value === null || value === undefined) continue;
    const pending: Array<{ item: unknown; at: string }> = [{ item: value, at: where }];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const { item, at } = next;
      if (!isRecord(item)) throw usage(`${at}: is not a mapping; expected a Kubernetes object`);
      if (typeof item.apiVersion !== 'string' || typeof item.kind !== 'string')
        throw usage(`${at}: apiVersion and kind must be strings`);
      if (Array.isArray(item.items)) {
        const items: unknown[] = item.items;
        for (let j = items.length - 1; j >= 0; j -= 1)
          pending.push({ item: items[j], at: `${at} items[${j}]` });
        continue;
      }
      out.push({ source: at, object: item });
    }
  }
  return out;
}

/**
 * Exactly one Kubernetes object (a mapping with string `apiVersion` and `kind`) from YAML or
 * JSON text, read as `parseObjects` reads every document.
 * @throws TenantGuardError ERR_USAGE naming the source and the problem.
 */
export function parseOneObject(text: string, source: string): KubeObject {
  const objects = parseObjects(text, source);
  const [only] = objects;
  if (only === undefined || objects.length !== 1)
    throw usage(`${source}: holds ${objects.length} objects; give exactly one`);
  return only.object;
}

/**
 * The objects of `path`: a file, `-` for stdin, or a directory (recursive).
 * @throws TenantGuardError ERR_USAGE when it cannot be read or parsed.
 */
export async function readObjects(
  path: string,
  io: CliIo,
  checkText: (text: string, source: string) => void = () => undefined,
): Promise<SourcedObject[]> {
  if (path === '-') {
    const text = await readInput('-', io);
    checkText(text, '<stdin>');
    return parseObjects(text, '<stdin>');
  }
  const full = resolve(io.cwd, path);
  let info;
  try {
    info = await stat(full);
  } catch (err) {
    throw usage(`cannot read ${path}: ${fileErrorCode(err)}`);
  }
  const files = info.isDirectory() ? await manifestFiles(full) : [full];
  const out: SourcedObject[] = [];
  for (const file of files) {
    const shown = relative(io.cwd, file) || file;
    const size = (await stat(file)).size;
    if (size > MAX_FILE_BYTES) throw usage(`${shown}: ${size} bytes is over the limit of ${MAX_FILE_BYTES}`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw usage(`cannot read ${shown}: ${fileErrorCode(err)}`);
    }
    checkText(text, shown);
    out.push(...parseObjects(text, shown));
  }
  return out;
}
