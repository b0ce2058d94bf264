/**
 * Cutting text to a bound: the one way every line, path and detail the webhook and the
 * reports emit, and every message the registry says about a Tenant, is bounded. Pure.
 *
 * It sits at the root of src/, beside json.ts, because two layers cut text with it: the
 * policy core (denial lines, finding paths) and the Tenant model (status messages), which
 * may not import the policy core (test/architecture/layers.ts). Each had its own copy, and
 * the copies had already drifted once (two formulas, one past its bound).
 */

/** The shortest bound `cutText` is asked for with the `count` ending: room for some text besides it. */
export const MIN_CUT_CHARS = 40;

/**
 * How a cut text ends: `count` says how much was left off (`... (N more characters)`), for
 * lines a person reads to the end; `ellipsis` is a bare `…`, for a message whose bound is
 * tight (a status reason of 64 characters) or that states a length itself.
 */
export type CutEnding = 'count' | 'ellipsis';

/**
 * `text` when it has at most `max` characters (UTF-16 units, so never more Unicode
 * characters than the API server counts); otherwise its start and the ending, all within
 * `max` (for `count`, `max` is at least MIN_CUT_CHARS). A surrogate pair is never split.
 */
export function cutText(text: string, max: number, ending: CutEnding = 'count'): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  // The count's length depends on the count; the count is below text.length, so an ending
  // sized for that many digits always fits.
  let keep = Math.max(0, max - suffix(ending, text.length).length);
  const last = text.charCodeAt(keep - 1);
  if (keep > 0 && last >= 0xd800 && last <= 0xdbff) keep -= 1;
  return `${text.slice(0, keep)}${suffix(ending, text.length - keep)}`;
}

function suffix(ending: CutEnding, count: number): string {
  return ending === 'ellipsis' ? '…' : `... (${count} more characters)`;
}
