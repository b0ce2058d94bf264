/**
 * The network address a request came from: what the per-source limits key on (the broker's
 * token limit and refusal lines, the webhook's body budget and large-request gate) and what
 * refusal log lines name. Every route and check reads it here, so they cannot differ.
 * `unknown` once the socket has closed (node then reports no address).
 */
import { isRecord, ownValue } from './json.js';

export function requestSource(req: {
  readonly socket: { readonly remoteAddress?: string | undefined };
}): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** Longest username `requesterSource` keys on; a longer one falls back to the address. */
export const MAX_REQUESTER_CHARS = 1_024;

/** What a requester's key starts with: no address does (digits, hex, `:` and `unknown`). */
const REQUESTER_PREFIX = 'user:';

/**
 * The key a parsed AdmissionReview takes its share of the large-request gate under: its
 * `request.userInfo.username` (after REQUESTER_PREFIX, so no address can be the same key),
 * or `address` when that is missing, not a string, empty or longer than MAX_REQUESTER_CHARS.
 *
 * Why: every tenant's review comes from the API server's address, so a share keyed on it
 * was one share for all: one tenant keeping 4 large ApplicationSets in flight had 56% of
 * another tenant's costly small reviews refused (429) at once (a red-team review). A large
 * body takes its slot before it is parsed, so only its address is known then; a review that
 * takes its turn once parsed (much elementsYaml, many values) is keyed on who sent it. The
 * API server sets userInfo from the requester it authenticated.
 */
export function requesterSource(body: unknown, address: string): string {
  const request = isRecord(body) ? ownValue(body, 'request') : undefined;
  const userInfo = isRecord(request) ? ownValue(request, 'userInfo') : undefined;
  const username = isRecord(userInfo) ? ownValue(userInfo, 'username') : undefined;
  if (typeof username !== 'string' || username.length === 0 || username.length > MAX_REQUESTER_CHARS)
    return address;
  return `${REQUESTER_PREFIX}${username}`;
}
