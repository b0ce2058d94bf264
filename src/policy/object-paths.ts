/**
 * Small readers for untrusted JSON. They narrow instead of casting, so a wrongly typed
 * field reads as absent (and the rules then say what they expected).
 */
import type { KubeObject } from './types.js';
import { isRecord } from '../json.js';

/** Reads a nested field by keys; undefined when any step is missing or not an object. */
export function getPath(object: unknown, keys: readonly (string | number)[]): unknown {
  let current: unknown = object;
  for (const key of keys) {
    if (typeof key === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[key];
    } else {
      if (!isRecord(current)) return undefined;
      current = current[key];
    }
  }
  return current;
}

export function getString(object: unknown, keys: readonly (string | number)[]): string | undefined {
  const value = getPath(object, keys);
  return typeof value === 'string' ? value : undefined;
}

export function getRecord(
  object: unknown,
  keys: readonly (string | number)[],
): Record<string, unknown> | undefined {
  const value = getPath(object, keys);
  return isRecord(value) ? value : undefined;
}

/**
 * `metadata.labels` as a string map (non-string values dropped). The map has no prototype:
 * a label named `__proto__` or `constructor` is an own key like any other, and a lookup of a
 * missing key never reaches Object.prototype.
 */
export function getLabels(object: KubeObject | undefined): Record<string, string> {
  const labels = getRecord(object, ['metadata', 'labels']) ?? {};
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Renders a JSON path: `spec.generators[0].clusters`. Keys that are not identifiers are quoted. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  const plain = /^[A-Za-z_$][\w$-]*$/.test(key);
  if (!plain) return `${base}[${JSON.stringify(key)}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** Renders the path of `keys` below `base`: `joinPaths('spec', ['sources', 1])` is `spec.sources[1]`. */
export function joinPaths(base: string, keys: ReadonlyArray<string | number>): string {
  return keys.reduce<string>(joinPath, base);
}

/** Quotes a value for a denial line: strings in JSON quotes, long values cut. */
export function show(value: unknown): string {
  const text =
    typeof value === 'string'
      ? JSON.stringify(value)
      : value === undefined
        ? '(missing)'
        : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** True when a string holds Argo CD template syntax (`{{ ... }}`, Go or fasttemplate). */
export function isTemplated(value: string): boolean {
  return value.includes('{{');
}
