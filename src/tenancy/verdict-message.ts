/**
 * The one bound on what the registry says about a Tenant: its status message, the message
 * of its Accepted condition, the log line and the Kubernetes Event all hold at most
 * MAX_VERDICT_MESSAGE_CHARS characters. A message is bounded where it is made: it names the
 * first few items (lost claims, problems) and counts the rest, so a Tenant that lists 20,000
 * contested namespaces is described in one short sentence, not in 20,000 (a red-team review
 * found a 5.5 MiB status the API server could not store). Pure functions.
 */
import { cutText } from '../text-cut.js';

/**
 * Characters a verdict message may have: the events.k8s.io API's bound on an Event's note
 * (1 KiB), which the Events of tenant-events.ts always kept to. The CRD schema gives
 * `status.message` and the conditions' messages this maxLength, so the API server refuses a
 * longer one from any writer.
 */
export const MAX_VERDICT_MESSAGE_CHARS = 1024;

/** Items named in full before the rest are counted. */
export const NAMED_ITEMS = 3;

/** A quoted value in a message is cut to this many characters (a server may have 2,048). */
export const MAX_QUOTED_CHARS = 100;

const ELLIPSIS = '…';

/**
 * `text` cut to at most `max` characters (UTF-16 code units, so never more Unicode
 * characters than the API server counts), ending in an ellipsis when cut (src/text-cut.ts).
 */
export function capMessage(text: string, max = MAX_VERDICT_MESSAGE_CHARS): string {
  return cutText(text, max, 'ellipsis');
}

/**
 * A value for a message: JSON-quoted, and cut (with its length said) when it is longer than
 * MAX_QUOTED_CHARS, so a 14 KiB caData or a 1,000-character server never fills a message.
 */
export function quoteValue(value: string): string {
  if (value.length <= MAX_QUOTED_CHARS) return JSON.stringify(value);
  return `${JSON.stringify(capMessage(value, MAX_QUOTED_CHARS))} (${formatCount(value.length)} characters)`;
}

/** One item of a message: its sentence, and how it is counted once past the named ones. */
export interface MessageItem {
  readonly text: string;
  /** The item's noun, singular and plural: `['namespace', 'namespaces']`. */
  readonly noun: readonly [string, string];
  /** What the counted items share, after the noun: `held by tenant "team-a"`; '' for nothing. */
  readonly where: string;
}

/** `19,996`: counts are written as people read them. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Groups of the rest named at most, by noun and holder; further ones are one count. */
const COUNTED_GROUPS = 3;

/** `… and 19,996 more namespaces held by tenant "team-a", 2 more servers held by tenant "b"`. */
function countRest(rest: readonly MessageItem[]): string {
  if (rest.length === 0) return '';
  const groups = new Map<string, { item: MessageItem; n: number }>();
  for (const item of rest) {
    const key = `${item.noun[1]}\u0000${item.where}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { item, n: 1 });
    else group.n += 1;
  }
  const listed = [...groups.values()].slice(0, COUNTED_GROUPS);
  const parts = listed.map(({ item, n }) => {
    const noun = n === 1 ? item.noun[0] : item.noun[1];
    return `${formatCount(n)} more ${noun}${item.where === '' ? '' : ` ${item.where}`}`;
  });
  const others = rest.length - listed.reduce((sum, g) => sum + g.n, 0);
  if (others > 0) parts.push(`${formatCount(others)} more of other kinds or holders`);
  return `${ELLIPSIS} and ${parts.join(', ')}`;
}

/**
 * The items as one message of at most `max` characters: the first `named` in full (fewer
 * when they do not fit), joined by `; `, then a count of the rest by noun and holder.
 */
export function nameFirstAndCount(
  items: readonly MessageItem[],
  options: { named?: number; max?: number } = {},
): string {
  const max = options.max ?? MAX_VERDICT_MESSAGE_CHARS;
  const named = Math.max(1, Math.min(options.named ?? NAMED_ITEMS, items.length));
  for (let k = named; k >= 1; k -= 1) {
    const head = items
      .slice(0, k)
      .map((i) => i.text)
      .join('; ');
    const tail = countRest(items.slice(k));
    const text = tail === '' ? head : `${head}; ${tail}`;
    if (text.length <= max) return text;
  }
  // Not even the first item fits beside the count: the first is cut, the count kept.
  const tail = countRest(items.slice(1));
  if (tail === '') return capMessage(items[0]?.text ?? '', max);
  const room = max - tail.length - 2;
  return room > ELLIPSIS.length
    ? `${capMessage(items[0]?.text ?? '', room)}; ${tail}`
    : capMessage(tail, max);
}
