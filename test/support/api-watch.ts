/**
 * Watch streams of the test API server: one JSON `{type, object}` per line, chunked, as the
 * API server writes them; 410 Expired as an ERROR event followed by the end of the stream;
 * BOOKMARK events for watches that allow them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusBody } from './api-status.js';
import { apiVersionOf, type ObjectStore, type ResourceType, type WatchEvent } from './api-store.js';
import { parseSelectors } from './selectors.js';

interface OpenWatch {
  res: ServerResponse;
  /** Silenced by `stallAll()`: nothing more is written, the stream stays open. */
  stalled?: boolean;
  stop(): void;
  bookmark?: () => void;
  timer?: NodeJS.Timeout;
}

/** The open watches of one server. */
export class WatchHub {
  private readonly watches = new Set<OpenWatch>();

  /** @param bookmarkMs interval of BOOKMARK events on watches that allow them */
  constructor(
    private readonly store: ObjectStore,
    private readonly bookmarkMs: number,
  ) {}

  /** Serves `?watch=true` on `res` until the client goes, `timeoutSeconds` pass or `dropAll()`. */
  serve(
    type: ResourceType,
    namespace: string | undefined,
    query: Record<string, string>,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    const predicate = parseSelectors(query.labelSelector ?? null, query.fieldSelector ?? null);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    const write = (e: WatchEvent): void => {
      if (!res.writableEnded && open.stalled !== true) res.write(`${JSON.stringify(e)}\n`);
    };
    const open: OpenWatch = { res, stop: () => undefined };
    const started = this.store.watch(type, namespace, query.resourceVersion, predicate, write);
    if ('expired' in started) {
      write({ type: 'ERROR', object: started.expired satisfies StatusBody });
      res.end();
      return;
    }
    open.stop = started.stop;
    this.watches.add(open);
    if (query.allowWatchBookmarks === 'true') {
      open.bookmark = () =>
        write({
          type: 'BOOKMARK',
          object: {
            kind: type.kind,
            apiVersion: apiVersionOf(type),
            metadata: { resourceVersion: String(this.store.resourceVersion) },
          },
        });
      open.timer = setInterval(open.bookmark, this.bookmarkMs);
      open.timer.unref();
    }
    const timeout = Number(query.timeoutSeconds ?? '0');
    if (timeout > 0) {
      setTimeout(() => {
        if (open.stalled !== true) this.end(open); // a hung server ends nothing
      }, timeout * 1000).unref();
    }
    req.on('close', () => this.end(open));
  }

  private end(open: OpenWatch): void {
    open.stop();
    if (open.timer !== undefined) clearInterval(open.timer);
    this.watches.delete(open);
    if (!open.res.writableEnded) open.res.end();
  }

  /** Every open watch goes silent: no event, no bookmark, no end (the connection stays). */
  stallAll(): void {
    for (const w of this.watches) w.stalled = true;
  }

  /** How many watches are open (served, not ended). */
  get size(): number {
    return this.watches.size;
  }

  /** Ends every open watch. */
  dropAll(): void {
    for (const w of this.watches) this.end(w);
  }

  /** A BOOKMARK with the current resourceVersion on every watch that allows them. */
  sendBookmarks(): void {
    for (const w of this.watches) w.bookmark?.();
  }
}
