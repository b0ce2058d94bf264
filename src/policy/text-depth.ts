/**
 * The nesting depth of JSON or YAML text, measured before it is parsed: the `yaml` parser
 * recurses and aborts the process (out of memory) near 1,000 nested `[`, so text nested
 * deeper than the limit (limits.ts) is refused unparsed. Pure: no I/O.
 */

/**
 * Nesting depth of JSON text (brackets outside strings), or of YAML text: flow brackets
 * outside quotes, plus the block levels of each line (indentation steps and the `- `/`? `
 * indicators that open a level on one line). An over-estimate for YAML, never an
 * under-estimate, so a document that passes cannot nest deeper than the limit. Iterative.
 */
export function textDepth(text: string, yaml: boolean): number {
  let max = 0;
  let flow = 0;
  let quote: '"' | "'" | undefined;
  // The last character outside quotes and spaces: a YAML quote opens a scalar only after
  // an indicator or at the start of a line (`it's` is a plain scalar), else brackets after
  // it would be missed.
  let previous = '';
  const indents: number[] = [];
  let i = 0;
  let lineDone = -1;
  while (i < text.length) {
    if (
      yaml &&
      quote === undefined &&
      flow === 0 &&
      lineDone < i &&
      (i === 0 || text.charAt(i - 1) === '\n')
    ) {
      // Block context: indentation steps, then `- `, `? ` and `: ` indicators each opening a level.
      let j = i;
      while (j < text.length && (text.charAt(j) === ' ' || text.charAt(j) === '\t')) j += 1;
      if (j < text.length && text.charAt(j) !== '\n' && text.charAt(j) !== '#') {
        const indent = j - i;
        while (indents.length > 0 && (indents.at(-1) ?? 0) > indent) indents.pop();
        if (indents.length === 0 || (indents.at(-1) ?? 0) < indent) indents.push(indent);
        let inline = 0;
        while (
          j + 1 < text.length &&
          '-?:'.includes(text.charAt(j)) &&
          (text.charAt(j + 1) === ' ' || text.charAt(j + 1) === '\t')
        ) {
          inline += 1;
          j += 2;
          while (j < text.length && (text.charAt(j) === ' ' || text.charAt(j) === '\t')) j += 1;
        }
        max = Math.max(max, indents.length + inline);
      }
      previous = '';
      i = j;
      lineDone = j;
      continue;
    }
    const c = text.charAt(i);
    i += 1;
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i += 1;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') continue;
    const opensScalar = !yaml || previous === '' || '[{,:-?'.includes(previous);
    if ((c === '"' || (yaml && c === "'")) && opensScalar) quote = c;
    else if (c === '[' || c === '{') {
      flow += 1;
      max = Math.max(max, flow + indents.length);
    } else if (c === ']' || c === '}') flow = Math.max(0, flow - 1);
    else if (yaml && c === '#' && (i === 1 || /\s/.test(text.charAt(i - 2)))) {
      while (i < text.length && text.charAt(i) !== '\n') i += 1;
    }
    previous = c;
  }
  return max;
}

/**
 * True when the JSON text in `bytes` (UTF-8) nests brackets deeper than `max` outside
 * strings: `textDepth(text, false) > max`, read from the bytes without decoding them (no
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
