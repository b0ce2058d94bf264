/**
 * Cutting text to a bound, saying how much was left off: the one way every line, path and
 * detail the webhook and the reports emit is bounded. Pure.
 */

/** The shortest bound `cutText` is asked for: room for some text besides the suffix. */
export const MIN_CUT_CHARS = 40;

/**
 * `text` when it has at most `max` characters (UTF-16 units); otherwise its start and
 * `... (N more characters)`, N the units left off, all within `max`. A surrogate pair is
 * never split.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  // The suffix's length depends on the count it names; the count is below text.length, so
  // a suffix sized for that many digits always fits.
  let keep = Math.max(0, max - suffix(text.length).length);
  const last = text.charCodeAt(keep - 1);
  if (keep > 0 && last >= 0xd800 && last <= 0xdbff) keep -= 1;
  return `${text.slice(0, keep)}${suffix(text.length - keep)}`;
}

function suffix(count: number): string {
  return `... (${count} more characters)`;
}
