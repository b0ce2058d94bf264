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
 *   alive after SIGTERM).
 *
 * Kubernetes watch semantics: https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { createInterface } from 'node:readline';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
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

/** Options of `BoundedWatch`. */
export interface BoundedWatchOptions {
  /** Longest quiet time on a watch before it is abandoned, in ms. */
  silenceMs: number;
  /** `timeoutSeconds` asked of the API server; it ends a healthy watch by then. */
  timeoutSeconds: number;
  timers: WatchTimers;
  /** Called on every line received (event or bookmark): the registry is current. */
  onLine?: () => void;
}

type Callback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
type Done = (err: unknown) => void;

/** See the file comment. Pass it to `new ListWatch(path, watch, listFn, false)`. */
export class BoundedWatch extends Watch {
  private readonly open = new Set<AbortController>();

  constructor(
    config: KubeConfig,
    private readonly options: BoundedWatchOptions,
  ) {
    super(config);
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
          if (res.statusCode !== 200) {
            res.resume();
            finish(
              Object.assign(new Error(`the API server answered ${String(res.statusCode)}`), {
                statusCode: res.statusCode,
              }),
            );
            return;
          }
          arm();
          const lines = createInterface({ input: res });
          lines.on('line', (line) => {
            if (finished) return;
            arm();
            this.options.onLine?.();
            let data: unknown;
            try {
              data = JSON.parse(line);
            } catch {
              return; // a torn line: the next list repairs whatever it carried
            }
            if (typeof data === 'object' && data !== null && 'type' in data && 'object' in data)
              callback(String(data.type), data.object, data);
          });
          // readline re-emits the stream's error (an abort included): both end the watch.
          lines.on('error', finish);
          res.on('error', finish);
          res.on('close', () => finish(null));
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
