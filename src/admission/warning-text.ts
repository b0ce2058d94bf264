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
 * Characters (code points, as the limit counts them) of `text` from UTF-16 index `from` to
 * `to`, counted without building an array or a slice of them: this runs on every warning.
 */
function codePointCount(text: string, from = 0, to = text.length): number {
  let count = 0;
  for (let at = from; at < to; at = codePointEnd(text, at)) count += 1;
  return count;
}

/** The first `count` characters (code points) of `text`. */
function firstCodePoints(text: string, count: number): string {
  let end = 0;
  for (let taken = 0; taken < count && end < text.length; taken++) end = codePointEnd(text, end);
  return text.slice(0, end);
}

const SEPARATOR = ', ';

/** What stands for the `count` items left off a list (ASCII: its length is its characters). */
function moreItems(count: number): string {
  return ` (+${count} more)`;
}

/**
 * `head` and as many of the first items of `list` (items joined by ", ") as fit in `max`
 * characters with "(+N more)" and `tail`; undefined when not even one fits (or all do).
 * One pass over the text, whatever the number of items: the text holds the finding's path,
 * which the tenant chooses, and a key of "use one of: a, a, a, ..." made the former search
 * (every shorter prefix, each joined and counted again) quadratic, 12 s for one request.
 * The total grows with each item kept (an item adds at least its separator, 2 characters,
 * and "(+N more)" shrinks by at most 1), so the first item that does not fit ends the search.
 */
function keepListed(head: string, list: string, tail: string, max: number): string | undefined {
  let items = 1;
  for (let at = list.indexOf(SEPARATOR); at >= 0; at = list.indexOf(SEPARATOR, at + SEPARATOR.length))
    items += 1;
  const fixed = codePointCount(head) + codePointCount(tail);
  let kept = 0;
  let keptChars = 0;
  let keptEnd = 0;
  for (let start = 0; kept < items - 1; kept += 1) {
    const end = list.indexOf(SEPARATOR, start);
    const chars = keptChars + (kept > 0 ? SEPARATOR.length : 0) + codePointCount(list, start, end);
    if (fixed + chars + moreItems(items - kept - 1).length > max) break;
    keptChars = chars;
    keptEnd = end;
    start = end + SEPARATOR.length;
  }
  return kept === 0 ? undefined : `${head}${list.slice(0, keptEnd)}${moreItems(items - kept)}${tail}`;
}

/** `text` in at most `max` characters. Linear in the length of `text`. */
export function shortWarning(text: string, max = MAX_WARNING_CHARS): string {
  // UTF-16 units never undercount characters: most warnings stop here.
  if (text.length <= max || codePointCount(text) <= max) return text;
  const tail = MODE_TAIL.exec(text)?.[1] ?? '';
  const body = text.slice(0, text.length - tail.length);
  const at = body.lastIndexOf(LIST_MARK);
  const listed =
    at < 0
      ? undefined
      : keepListed(body.slice(0, at + LIST_MARK.length), body.slice(at + LIST_MARK.length), tail, max);
  return listed ?? `${firstCodePoints(body, Math.max(0, max - codePointCount(tail) - 1))}…${tail}`;
}
