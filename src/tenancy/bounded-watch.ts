/**
 * A watch for client-node's ListWatch (the informer) that cannot hang:
 *
 * - it asks for bookmarks (`allowWatchBookmarks=true`) and a server-side end
 *   (`timeoutSeconds`), so a healthy API server sends a line or closes within a bound;
 * - no line (event or bookmark) within `silenceMs` ends it with a `SilentWatchError`, which
 *   the informer reports as an error (the registry then re-lists);
 * - its AbortController exists before the request is sent, so `abortAll()` ends a request
 *   still waiting for its headers (client-node's own Watch returns its controller only once
 *   the headers have arrived, so a hung request could never be aborted and kept the process
 *   alive after SIGTERM);
 * - the stream is untrusted input: a line that is not a watch event (not JSON, an unknown
 *   type, an object without the metadata the informer reads), an ERROR event other than 410
 *   Gone, and a watch that ends within a second having sent nothing (client-go's "very short
 *   watch") each end it with a `WatchFailure`, which the registry handles as any failure: a
 *   log line, the stale gauge, a backoff and a fresh list. A throw in the informer's handler
 *   does the same. (client-node's handler is async and reads `obj.metadata` unguarded: one
 *   line `{"type":"MODIFIED","object":{}}` was an unhandled rejection that ended the process,
 *   and a watch closing at once was re-opened ~1,300 times a second while each connect
 *   counted as fresh: a red-team review);
 * - 410 Gone (the watch's resourceVersion is too old), as an ERROR event or as the answer to
 *   the watch request, ends it at once. When `onExpired` allows it (by default, the first
 *   410 since a watch proved itself), with a `WatchFailure` of code 410, which the informer
 *   answers with a re-list right away, as client-node does for any 410; otherwise with one
 *   without that code, which the informer reports as an error, so its owner backs off as for
 *   any failure. (A 410 on every watch made the informer re-list ~300 times a second with no
 *   backoff, no stale gauge and no log line: a red-team review.)
 * - `onConfirmed` fires only when the API server vouched for the informer's view: an event or
 *   bookmark applied, or a watch it ended normally after lasting at least a second.
 *
 * Kubernetes watch semantics: https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { createInterface } from 'node:readline';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { isRecord } from '../json.js';
import { describeApiFailure } from '../kube/kube-call.js';
import type { WatchTimers } from './timers.js';

/** The timer functions a watch uses, injectable so tests decide when time passes. */
export { REAL_TIMERS, type WatchTimers } from './timers.js';

/** The watch stayed silent (no event, no bookmark, no end) for longer than its bound. */
export class SilentWatchError extends Error {
  readonly silentMs: number;

  constructor(silentMs: number) {
    super(`no event or bookmark for ${Math.round(silentMs / 1000)} s`);
    this.name = 'SilentWatchError';
    this.silentMs = silentMs;
  }
}

/** A watch that ended on a line that is no event, an ERROR event, a very short life or a status other than 200. */
export class WatchFailure extends Error {
  /** The HTTP status or the ERROR event's `code`, when there is one. */
  readonly statusCode: number | undefined;
  /** How long the API server asked to wait (`Retry-After`), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, statusCode?: number, retryAfterMs?: number) {
    super(message);
    this.name = 'WatchFailure';
    this.statusCode = statusCode;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * What went wrong with a watch, for a log line: a bounded watch's own failures in their
 * words (a 410 storm is no "unreachable" API server), anything else as `describeApiFailure`.
 */
export function describeWatchFailure(err: unknown): string {
  if (err instanceof SilentWatchError) return `the API server went silent: ${err.message}`;
  if (err instanceof WatchFailure) return err.message;
  return describeApiFailure(err);
}

/** A watch that ends normally sooner than this, having sent nothing, is a failure. */
export const MIN_WATCH_MS = 1_000;

type WatchEvent = { readonly type: string; readonly object: Record<string, unknown> };

/** The event a parsed line holds, or why it holds none the informer may be given. */
export function readWatchEvent(data: unknown): WatchEvent | string {
  if (!isRecord(data) || typeof data.type !== 'string' || !isRecord(data.object))
    return 'a line that is not a watch event';
  const { type, object } = data;
  if (type === 'ERROR') return { type, object };
  const metadata = object.metadata;
  if (!isRecord(metadata) || typeof metadata.resourceVersion !== 'string')
    return `a ${type.slice(0, 20)} event without metadata.resourceVersion`;
  if (type === 'BOOKMARK') return { type, object };
  if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED')
    return `an event of unknown type ${JSON.stringify(type.slice(0, 20))}`;
  if (typeof metadata.name !== 'string' || metadata.name === '')
    return `a ${type} event without metadata.name`;
  if (metadata.namespace !== undefined && typeof metadata.namespace !== 'string')
    return `a ${type} event whose metadata.namespace is not a string`;
  return { type, object };
}

/** `Retry-After` in ms, when it is a number of seconds (a watch's header, or a list's: watch-backoff.ts). */
export function retryAfterHeaderMs(header: string | string[] | undefined): number | undefined {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  return header !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** Options of `BoundedWatch`. */
export interface BoundedWatchOptions {
  /** Longest quiet time on a watch before it is abandoned, in ms. */
  silenceMs: number;
  /** `timeoutSeconds` asked of the API server; it ends a healthy watch by then. */
  timeoutSeconds: number;
  timers: WatchTimers;
  /** Called when the API server vouched for the informer's view (see the file comment). */
  onConfirmed?: () => void;
  /**
   * Called on a 410 Gone: true lets the informer re-list at once, false makes it a failure
   * (see the file comment). Default: true for the first 410 since a watch of this object
   * proved itself (`onConfirmed`'s moments), false for any further one, so every informer
   * (the reporter's too) backs off in a 410 storm.
   */
  onExpired?: () => boolean;
  /** Clock, for the very-short-watch rule. Default `Date.now`. */
  now?: () => number;
}

type Callback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
type Done = (err: unknown) => void;

/** See the file comment. Pass it to `new ListWatch(path, watch, listFn, false)`. */
export class BoundedWatch extends Watch {
  private readonly open = new Set<AbortController>();
  /** 410s since a watch of this object last proved itself: the default of `onExpired`. */
  private expiredInARow = 0;

  constructor(
    config: KubeConfig,
    private readonly options: BoundedWatchOptions,
  ) {
    super(config);
  }

  /** The API server vouched for the informer's view (see the file comment). */
  private confirmed(): void {
    this.expiredInARow = 0;
    this.options.onConfirmed?.();
  }

  /** Ends every request of this watch, answered or not. */
  abortAll(): void {
    for (const c of this.open) c.abort();
    this.open.clear();
  }

  override async watch(
    path: string,
    queryParams: Record<string, unknown>,
    callback: Callback,
    done: Done,
  ): Promise<AbortController> {
    const controller = new AbortController();
    this.open.add(controller);
    const { timers, silenceMs } = this.options;
    const now = this.options.now ?? Date.now;
    let finished = false;
    let silence: unknown;
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      timers.clearTimeout(silence);
      this.open.delete(controller);
      controller.abort();
      done(err);
    };
    const arm = (): void => {
      timers.clearTimeout(silence);
      silence = timers.setTimeout(() => finish(new SilentWatchError(silenceMs)), silenceMs);
    };
    arm();
    const expired = (what: string, retryAfterMs?: number): void => {
      const relistNow = this.options.onExpired?.() ?? this.expiredInARow++ === 0;
      // The informer re-lists at once on a code of 410, and reports any other error.
      if (relistNow) finish(new WatchFailure(what, 410, retryAfterMs));
      else finish(new WatchFailure(`${what}, again before a watch proved itself`, undefined, retryAfterMs));
    };
    try {
      const cluster = this.config.getCurrentCluster();
      if (cluster === null) throw new Error('no current cluster in the kubeconfig');
      const url = new URL(cluster.server + path);
      url.searchParams.set('watch', 'true');
      url.searchParams.set('allowWatchBookmarks', 'true');
      url.searchParams.set('timeoutSeconds', String(this.options.timeoutSeconds));
      for (const [key, value] of Object.entries(queryParams))
        if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
      const options: RequestOptions = {};
      await this.config.applyToHTTPSOptions(options);
      if (controller.signal.aborted) return controller;
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(
        url,
        { ...options, method: 'GET', signal: controller.signal },
        (res: IncomingMessage) => {
          if (res.statusCode === 410) {
            res.resume();
            expired('the API server answered 410', retryAfterHeaderMs(res.headers['retry-after']));
            return;
          }
          if (res.statusCode !== 200) {
            res.resume();
            finish(
              new WatchFailure(
                `the API server answered ${String(res.statusCode)}`,
                res.statusCode,
                retryAfterHeaderMs(res.headers['retry-after']),
              ),
            );
            return;
          }
          arm();
          const opened = now();
          let lines = 0;
          const reader = createInterface({ input: res });
          reader.on('line', (line) => {
            if (finished) return;
            arm();
            lines += 1;
            let data: unknown;
            try {
              data = JSON.parse(line);
            } catch {
              data = undefined;
            }
            const event = readWatchEvent(data);
            if (typeof event === 'string') {
              // Not the line itself: a watch of Secrets (the reporter's) carries Secret data.
              finish(new WatchFailure(`the watch sent ${event} (a line of ${line.length} characters)`));
              return;
            }
            if (event.type === 'ERROR') {
              const code = typeof event.object.code === 'number' ? event.object.code : undefined;
              const reason =
                typeof event.object.reason === 'string' ? ` ${event.object.reason.slice(0, 40)}` : '';
              const what = `the watch sent an ERROR event: ${String(code ?? 'no code')}${reason}`;
              if (code === 410) expired(what);
              else finish(new WatchFailure(what, code));
              return;
            }
            try {
              // client-node's handler is async: a throw in it is a rejection, caught here too.
              void Promise.resolve(callback(event.type, event.object, data) as unknown).catch(finish);
            } catch (err) {
              finish(err);
              return;
            }
            this.confirmed();
          });
          // readline re-emits the stream's error (an abort included): both end the watch.
          reader.on('error', finish);
          res.on('error', finish);
          res.on('close', () => {
            if (finished) return;
            const lasted = now() - opened;
            if (lines === 0 && lasted < MIN_WATCH_MS) {
              finish(new WatchFailure(`the watch ended after ${lasted} ms having sent nothing`));
              return;
            }
            if (lasted >= MIN_WATCH_MS) this.confirmed();
            finish(null);
          });
        },
      );
      req.on('error', (err) => finish(err));
      req.end();
    } catch (err) {
      finish(err);
    }
    return controller;
  }
}
