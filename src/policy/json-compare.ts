/**
 * Comparing untrusted JSON without recursion (a request may nest thousands of levels deep,
 * SPEC issue 10), and reading the JSON paths of denial lines back. Pure.
 */
import { isRecord, sameJson } from '../json.js';

/**
 * True when `after` keeps only what `before` had, at the same place: every key of an
 * object is one `before` had there, holding a value that itself keeps only what it held;
 * an array is `before`'s with elements left out (a subsequence, each element equal to the
 * one it stands for); a scalar is unchanged. `undefined` after keeps only what anything had;
 * a value where there was none adds.
 */
export function keepsOnly(before: unknown, after: unknown): boolean {
  return firstAddition(before, after) === undefined;
}

/** A step of the walk: the key that led here, and the step before (no array per step). */
interface Step {
  readonly up: Step | undefined;
  readonly key: string | number;
}

/**
 * Where `after` first adds to or changes what `before` had (as `keepsOnly` reads it): the
 * keys to that value (an array's own keys when it is no subsequence; `[]` for the whole
 * value), or undefined when `after` keeps only what `before` had. Walks with an explicit
 * stack, so depth costs no call stack.
 */
export function firstAddition(before: unknown, after: unknown): Array<string | number> | undefined {
  const stack: Array<[unknown, unknown, Step | undefined]> = [[before, after, undefined]];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const [x, y, at] = entry;
    if (x === y || y === undefined) continue;
    if (Array.isArray(y)) {
      if (!Array.isArray(x) || !isSubsequence(x, y)) return keysOf(at);
      continue;
    }
    if (!isRecord(x) || !isRecord(y)) return keysOf(at);
    // Pushed in reverse, so the first key of `y` is walked first.
    const keys = Object.keys(y);
    const added = keys.find((key) => !Object.hasOwn(x, key));
    if (added !== undefined) return keysOf({ up: at, key: added });
    for (const key of keys.reverse()) stack.push([x[key], y[key], { up: at, key }]);
  }
  return undefined;
}

/** Greedy: each element of `y` matches the first equal element of `x` after the last match. */
function isSubsequence(x: unknown[], y: unknown[]): boolean {
  let i = 0;
  for (const element of y) {
    while (i < x.length && !sameJson(x[i], element)) i += 1;
    if (i === x.length) return false;
    i += 1;
  }
  return true;
}

function keysOf(step: Step | undefined): Array<string | number> {
  const keys: Array<string | number> = [];
  for (let s = step; s !== undefined; s = s.up) keys.push(s.key);
  return keys.reverse();
}

/**
 * The keys of a denial path as `joinPath` writes it (`spec.generators[0].clusters`,
 * `metadata.labels["tenantguard.dev/tenant"]`), or undefined when it is not one.
 */
export function parseJsonPath(path: string): Array<string | number> | undefined {
  const keys: Array<string | number> = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === '[') {
      const close = path[i + 1] === '"' ? findStringEnd(path, i + 1) : path.indexOf(']', i);
      if (close < 0) return undefined;
      const inner = path[i + 1] === '"' ? path.slice(i + 1, close + 1) : path.slice(i + 1, close);
      if (path[i + 1] === '"') {
        const key: unknown = safeParse(inner);
        if (typeof key !== 'string' || path[close + 1] !== ']') return undefined;
        keys.push(key);
        i = close + 2;
      } else {
        if (!/^\d+$/.test(inner)) return undefined;
        keys.push(Number(inner));
        i = close + 1;
      }
    } else {
      if (path[i] === '.') {
        if (keys.length === 0) return undefined;
        i += 1;
      }
      const m = /^[A-Za-z_$][\w$-]*/.exec(path.slice(i));
      if (m === null) return undefined;
      keys.push(m[0]);
      i += m[0].length;
    }
  }
  return keys.length > 0 ? keys : undefined;
}

/** Index of the closing quote of a JSON string opening at `start`, or -1. */
function findStringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1;
    else if (text[i] === '"') return i;
  }
  return -1;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
