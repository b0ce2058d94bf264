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

/** Where the character (code point) that starts at UTF-16 index `at` of `text` ends. */
function codePointEnd(text: string, at: number): number {
  const unit = text.charCodeAt(at);
  // A high surrogate followed by a low one is one character.
  if (unit >= 0xd800 && unit <= 0xdbff && at + 1 < text.length) {
    const next = text.charCodeAt(at + 1);
    if (next >= 0xdc00 && next <= 0xdfff) return at + 2;
  }
  return at + 1;
}

/**
 * Characters (code points, as the limit counts them) of `text`, counted without building
 * an array of them: this runs on every warning of every request.
 */
function codePointCount(text: string): number {
  let count = 0;
  for (let at = 0; at < text.length; at = codePointEnd(text, at)) count += 1;
  return count;
}

/** The first `count` characters (code points) of `text`. */
function firstCodePoints(text: string, count: number): string {
  let end = 0;
  for (let taken = 0; taken < count && end < text.length; taken++) end = codePointEnd(text, end);
  return text.slice(0, end);
}

/** `text` in at most `max` characters. */
export function shortWarning(text: string, max = MAX_WARNING_CHARS): string {
  // UTF-16 units never undercount characters: most warnings stop here.
  if (text.length <= max || codePointCount(text) <= max) return text;
  const tail = MODE_TAIL.exec(text)?.[1] ?? '';
  const body = text.slice(0, text.length - tail.length);
  const at = body.lastIndexOf(LIST_MARK);
  if (at >= 0) {
    const head = body.slice(0, at + LIST_MARK.length);
    const items = body.slice(at + LIST_MARK.length).split(', ');
    for (let keep = items.length - 1; keep >= 1; keep -= 1) {
      const candidate = `${head}${items.slice(0, keep).join(', ')} (+${items.length - keep} more)${tail}`;
      if (codePointCount(candidate) <= max) return candidate;
    }
  }
  return `${firstCodePoints(body, Math.max(0, max - codePointCount(tail) - 1))}…${tail}`;
}
