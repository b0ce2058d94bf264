/**
 * The network address a request came from: what the per-source limits key on (the broker's
 * token limit and refusal lines, the webhook's body budget and large-request gate) and what
 * refusal log lines name. Every route and check reads it here, so they cannot differ.
 * `unknown` once the socket has closed (node then reports no address).
 */
export function requestSource(req: {
  readonly socket: { readonly remoteAddress?: string | undefined };
}): string {
  return req.socket.remoteAddress ?? 'unknown';
}
