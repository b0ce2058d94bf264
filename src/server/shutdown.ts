/**
 * How `tenant-guard serve` stops: on SIGTERM it drains (/readyz 503, `Connection: close`,
 * still serving for the drain window), then closes: stops accepting, lets requests in flight
 * finish within a grace period, and closes every contribution.
 */
import type { RequestListener } from 'node:http';
import type { Server } from 'node:https';
import type { Logger } from 'pino';
import type { ServeContribution } from './component.js';

/** Default of --drain-seconds: longer than Endpoints take to reach kube-proxy and the API server. */
export const DEFAULT_DRAIN_SECONDS = 10;
/** After the drain window, how long requests in flight may take before their connections are cut. */
export const CLOSE_GRACE_MS = 10_000;

/** Whether the server is draining; shared by the listener, the readiness check and `drain`. */
export interface DrainState {
  draining: boolean;
}

/** What `drain` may be told. */
export interface DrainOptions {
  drainMs?: number;
  graceMs?: number;
  cut?: Promise<unknown>;
  onDrained?: () => void;
}

/** Stopping a running server. */
export interface ServerShutdown {
  /** Stops accepting, lets requests in flight finish (at most `graceMs`, default 10 s), closes components. */
  close(graceMs?: number): Promise<void>;
  /**
   * The SIGTERM path: /readyz answers 503 at once and every response says `Connection: close`
   * (keep-alive clients move to another replica), while requests and new connections are
   * still served for `drainMs` (default --drain-seconds) so that nobody who has not yet seen
   * the Endpoints change is refused; then `close(graceMs)`. `cut` ends the window early (a
   * second signal).
   */
  drain(options?: DrainOptions): Promise<void>;
}

/** `app`, but while draining no connection is kept for another request. */
export function drainingListener(app: RequestListener, state: DrainState): RequestListener {
  return (req, res) => {
    // While draining, no connection is kept for another request: the client's next one
    // opens a new connection, which the Service routes to a replica that is still ready.
    if (state.draining) res.setHeader('connection', 'close');
    app(req, res);
  };
}

/** The close and drain of one server; `close` runs once, whoever calls it first. */
export function serverShutdown(parts: {
  readonly https: { server: Server; close(): Promise<void> };
  /** Read when closing: contributions added after this call are closed too. */
  readonly contributions: readonly ServeContribution[];
  readonly logger: Logger;
  /** The default drain window, in ms (--drain-seconds). */
  readonly drainMs: number;
  readonly state: DrainState;
}): ServerShutdown {
  const { logger, state } = parts;
  let closing: Promise<void> | undefined;
  const close = (graceMs?: number): Promise<void> =>
    (closing ??= closeServer(parts.https, parts.contributions, logger, graceMs));
  return {
    close,
    drain: async ({ drainMs = parts.drainMs, graceMs, cut, onDrained } = {}) => {
      state.draining = true;
      logger.info({ drainMs }, 'draining: /readyz answers 503, still serving');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((ok) => {
          timer = setTimeout(ok, drainMs);
        }),
        ...(cut === undefined ? [] : [cut]),
      ]);
      clearTimeout(timer);
      logger.info('drain window over: closing');
      onDrained?.();
      await close(graceMs);
    },
  };
}

async function closeServer(
  https: { server: Server; close(): Promise<void> },
  contributions: readonly ServeContribution[],
  logger: Logger,
  graceMs = CLOSE_GRACE_MS,
): Promise<void> {
  const { server } = https;
  // Stops the certificate watch and stops accepting; resolves once open connections ended.
  const closed = https.close();
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
  for (const c of contributions) {
    try {
      await c.close?.();
    } catch (err) {
      logger.error({ err }, 'component failed to close');
    }
  }
}
