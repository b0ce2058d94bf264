/**
 * Parses the `config` of an Argo CD cluster Secret the way it matters for admission: as JSON
 * that Go's `encoding/json` will decode. Two things differ from `JSON.parse`, and both are
 * reported rather than smoothed over:
 * - a key given twice: `JSON.parse` keeps the last, Go decodes both into the same struct,
 *   so fields of the first survive (`{"execProviderConfig":{"env":..},"execProviderConfig":{..}}`);
 * - keys are matched case-insensitively by Go; that is left to the allowlist (TG-CS-03).
 * Pure; never throws.
 */
import { joinPath } from './object-paths.js';
import { describeJsonType, isRecord } from '../json.js';

/** The result of `parseClusterConfig`. */
export type ParsedConfig =
  | { readonly ok: true; readonly value: Record<string, unknown>; readonly duplicateKeys: readonly string[] }
  | { readonly ok: false; readonly reason: string };

/** Deeper than this, the duplicate-key scan stops (the allowlist already denies anything that deep). */
const MAX_SCAN_DEPTH = 16;
/**
 * Duplicate keys recorded at most: one is enough to deny, and each becomes a finding (a
 * config of 5,889 duplicates under a 30,000-character key made as many 30 KB paths).
 */
const MAX_DUPLICATES = 50;

const SCALAR = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;

/** Walks valid JSON text and records the path of every key that repeats within one object. */
class DuplicateScanner {
  private i = 0;
  readonly duplicates: string[] = [];

  constructor(private readonly text: string) {}

  scan(): void {
    this.value('', 0);
  }

  private skipSpace(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text.charAt(this.i))) this.i += 1;
  }

  private match(pattern: RegExp): string {
    pattern.lastIndex = this.i;
    const found = pattern.exec(this.text);
    if (found === null) throw new SyntaxError(`unexpected input at ${this.i}`);
    this.i = pattern.lastIndex;
    return found[0];
  }

  /** Reads a string token (the text is valid JSON, so it is closed) and returns its raw text. */
  private stringToken(): string {
    const start = this.i;
    let j = start + 1;
    while (j < this.text.length && this.text.charAt(j) !== '"') j += this.text.charAt(j) === '\\' ? 2 : 1;
    this.i = j + 1;
    return this.text.slice(start, this.i);
  }

  private value(path: string, depth: number): void {
    this.skipSpace();
    const c = this.text.charAt(this.i);
    if (c === '{') this.object(path, depth + 1);
    else if (c === '[') this.array(path, depth + 1);
    else if (c === '"') this.stringToken();
    else this.match(SCALAR);
  }

  private object(path: string, depth: number): void {
    this.i += 1;
    const keys = new Set<string>();
    this.skipSpace();
    if (this.text.charAt(this.i) === '}') {
      this.i += 1;
      return;
    }
    for (;;) {
      this.skipSpace();
      const key: unknown = JSON.parse(this.stringToken());
      const name = typeof key === 'string' ? key : '';
      const at = joinPath(path, name);
      if (depth <= MAX_SCAN_DEPTH && keys.has(name) && this.duplicates.length < MAX_DUPLICATES)
        this.duplicates.push(at);
      keys.add(name);
      this.skipSpace();
      this.i += 1; // ':'
      this.value(at, depth);
      this.skipSpace();
      const next = this.text.charAt(this.i);
      this.i += 1;
      if (next !== ',') return;
    }
  }

  private array(path: string, depth: number): void {
    this.i += 1;
    this.skipSpace();
    if (this.text.charAt(this.i) === ']') {
      this.i += 1;
      return;
    }
    for (let index = 0; ; index += 1) {
      this.value(joinPath(path, index), depth);
      this.skipSpace();
      const next = this.text.charAt(this.i);
      this.i += 1;
      if (next !== ',') return;
    }
  }
}

/**
 * Parses a cluster Secret `config`: a JSON object, with the paths (relative to the config,
 * e.g. `execProviderConfig.command`) of keys that occur twice in one object.
 */
export function parseClusterConfig(text: string): ParsedConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      reason: `is not valid JSON (${err instanceof SyntaxError ? 'syntax error' : 'unreadable'})`,
    };
  }
  if (!isRecord(value)) return { ok: false, reason: `is JSON ${describeJsonType(value)}, not an object` };
  const scanner = new DuplicateScanner(text);
  try {
    scanner.scan();
  } catch {
    // Only a nesting deep enough to exhaust the stack gets here; JSON.parse accepted the text.
    return { ok: false, reason: 'nests too deeply to be checked' };
  }
  return { ok: true, value, duplicateKeys: scanner.duplicates };
}
