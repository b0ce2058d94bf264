/**
 * Chunked lists of the test API server (`?limit=N`, then `?continue=TOKEN`), as the API
 * server serves them: every page comes from the snapshot the first one was cut from, at its
 * resourceVersion; `metadata.continue` (an opaque token) and `remainingItemCount` while more
 * remain; a token the server does not know is a 410 Expired, as an expired one is.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks
 */
import { ApiStatusError, failure } from './api-status.js';
import type { KubeJson } from './api-store.js';

interface Snapshot {
  readonly items: readonly KubeJson[];
  readonly resourceVersion: string;
}

export class ListChunks {
  private readonly snapshots = new Map<string, Snapshot>();
  private next = 1;

  /** Lists cut in pages so far (first pages with a continue token). */
  get chunked(): number {
    return this.next - 1;
  }

  /** The page a list request gets. @throws 410 Expired for an unknown continue token, 400 for a bad limit. */
  page(
    all: readonly KubeJson[],
    resourceVersion: string,
    limitParam: string | undefined,
    continueParam: string | undefined,
  ): { items: KubeJson[]; metadata: Record<string, unknown> } {
    let snapshot: Snapshot = { items: all, resourceVersion };
    let offset = 0;
    if (continueParam !== undefined && continueParam !== '') {
      const [id, at] = Buffer.from(continueParam, 'base64url').toString('utf8').split(':');
      const found = id === undefined ? undefined : this.snapshots.get(id);
      if (found === undefined || at === undefined)
        throw new ApiStatusError(
          failure(
            410,
            'Expired',
            'The provided continue parameter is too old to display a consistent list result.',
          ),
        );
      snapshot = found;
      offset = Number(at);
    }
    const limit = limitParam === undefined ? 0 : Number(limitParam);
    if (!Number.isInteger(limit) || limit < 0)
      throw new ApiStatusError(failure(400, 'BadRequest', `invalid limit ${String(limitParam)}`));
    const end = limit === 0 ? snapshot.items.length : Math.min(snapshot.items.length, offset + limit);
    const items = snapshot.items.slice(offset, end).map((o) => structuredClone(o));
    const metadata: Record<string, unknown> = { resourceVersion: snapshot.resourceVersion };
    if (end < snapshot.items.length) {
      let id =
        continueParam === undefined
          ? undefined
          : Buffer.from(continueParam, 'base64url').toString('utf8').split(':')[0];
      if (id === undefined) {
        id = String(this.next++);
        this.snapshots.set(id, snapshot);
      }
      metadata.continue = Buffer.from(`${id}:${end}`).toString('base64url');
      metadata.remainingItemCount = snapshot.items.length - end;
    }
    return { items, metadata };
  }
}
