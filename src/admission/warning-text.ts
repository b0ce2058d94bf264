/**
 * Admission warnings people can read: the API server may truncate a warning over 120
 * characters (and kubectl prints each on one line), so the warning sent back is kept under
 * that. A long "use one of: a, b, c" list keeps the items that fit and says how many more;
 * other text is cut with an ellipsis; a closing "(enforcement: warn)" is always kept. The
 * audit record keeps the full text.
 */
export const MAX_WARNING_CHARS = 120;

const MODE_TAIL = /( \(enforcement: \w+\))$/;
const LIST_MARK = 'use one of: ';

/** `text` in at most `max` characters. */
export function shortWarning(text: string, max = MAX_WARNING_CHARS): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  const tail = MODE_TAIL.exec(text)?.[1] ?? '';
  const body = text.slice(0, text.length - tail.length);
  const at = body.lastIndexOf(LIST_MARK);
  if (at >= 0) {
    const head = body.slice(0, at + LIST_MARK.length);
    const items = body.slice(at + LIST_MARK.length).split(', ');
    for (let keep = items.length - 1; keep >= 1; keep -= 1) {
      const candidate = `${head}${items.slice(0, keep).join(', ')} (+${items.length - keep} more)${tail}`;
      if ([...candidate].length <= max) return candidate;
    }
  }
  return `${[...body].slice(0, Math.max(0, max - [...tail].length - 1)).join('')}…${tail}`;
}
