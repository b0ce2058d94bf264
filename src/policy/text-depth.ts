/**
 * The nesting depth of JSON text, measured before it is parsed, so that text nested deeper
 * than a limit is refused unparsed (YAML's is measured on its syntax tree: src/yaml-depth.ts).
 * Pure: no I/O.
 */

/** Nesting depth of JSON text: brackets outside strings. Iterative. */
export function jsonTextDepth(text: string): number {
  let max = 0;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i += 1;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth += 1;
      if (depth > max) max = depth;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth -= 1;
  }
  return max;
}

/**
 * True when the JSON text in `bytes` (UTF-8) nests brackets deeper than `max` outside
 * strings: `jsonTextDepth(text) > max`, read from the bytes without decoding them (no
 * byte of a multi-byte UTF-8 character is an ASCII bracket, quote or backslash), stopping
 * at the first level past `max`. Iterative.
 */
export function jsonNestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c) i += 1;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      depth += 1;
      if (depth > max) return true;
    } else if ((b === 0x5d || b === 0x7d) && depth > 0) depth -= 1;
  }
  return false;
}
