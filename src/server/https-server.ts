/**
 * The HTTPS listener of `tenant-guard serve`: the one place its TLS server is made (swap in
 * another reloading one here), listening, and the URL it is reached at.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { createReloadingHttpsServer, type ReloadingHttpsServer } from './tls.js';
import type { ClientCaEpochs } from './client-ca-epochs.js';
import { ConnectionGuard, type ConnectionGuardCounts } from './connection-guard.js';
import { LogThrottle } from './log-throttle.js';

/** Longest a request's headers and body may take to arrive. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** Longest its headers may take. */
export const HEADERS_TIMEOUT_MS = 5_000;

/**
 * What bounds a connection that is not in a request: node bounds a request once its first
 * byte arrives (above), but neither a TLS handshake (120 s by default) nor a connection that
 * completed one and sends nothing (no bound at all). A red-team review held 2,000 such
 * connections open for over six minutes, ~86 KiB a pair of ends, from one process: enough
 * of them exhaust the memory limit or the descriptors of the replica, which serves the API
 * server's admission requests and the controller's tokens alike.
 */
export interface ConnectionLimits {
  /** Longest a TLS handshake may take, from the TCP connection to its end, in ms. */
  readonly handshakeTimeoutMs: number;
  /**
   * Longest a connection may go without a byte either way, in ms (node's `server.timeout`):
   * a connection that never sends a request, or a client that stops reading its answer.
   * Between requests, node's keep-alive timeout (5 s) closes an idle connection first.
   */
  readonly idleTimeoutMs: number;
  /**
   * Connections open at once. At the cap a new connection closes the one idle the longest
   * (no request in flight); it is refused only when every one is busy (connection-guard.ts).
   */
  readonly maxConnections: number;
  /** Idle connections one remote address may hold; past it, its longest-idle ones close. */
  readonly maxIdlePerSource: number;
  /** Shortest idle time, in ms, after which a connection may be closed for its address's share. */
  readonly sourceGraceMs: number;
}

/**
 * The limits of `serve` (docs/capacity.md). 1,000 connections at ~43 KiB a server end are
 * ~42 MiB, within the 256 Mi limit beside the largest registry's heap; an API server opens
 * one connection per concurrent admission request, and the controller's plugin one per token.
 *
 * - Handshake 3 s: a client sends its ClientHello within one round trip of connecting and
 *   the whole handshake (client certificate included) takes two or three: milliseconds in a
 *   cluster, well under a second to a control plane in another region. 3 s leaves that ten
 *   times over, and an event loop slowed by a busy replica, while the API server waits at
 *   most the webhook's timeoutSeconds (5 s as installed) for the whole answer. Before, 10 s
 *   let a silent connection hold its slot three times as long.
 * - 64 idle connections per source: client-go keeps at most 25 idle connections per host
 *   (k8s.io/client-go/transport/cache.go, idleConnsPerHost), so an API server never holds
 *   more idle ones, nor do two behind one address; the kubelet's probes and the
 *   controller's plugin open one connection at a time. Busy connections do not count, so
 *   hundreds of admission requests in flight from one address are never limited by it.
 *   One address alone then holds at most 6% of the pool idle.
 * - Grace 2 s: a connection idle for less is not closed for its address's share. A burst
 *   of admission requests opens a connection each, at once, and each is idle until its
 *   request arrives, one handshake later (milliseconds; a few hundred at once on a busy
 *   replica well within 2 s). Shorter than the handshake timeout, so one address's silent
 *   connections past its share are closed before they time out.
 */
export const CONNECTION_LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: 3_000,
  idleTimeoutMs: 15_000,
  maxConnections: 1_000,
  maxIdlePerSource: 64,
  sourceGraceMs: 2_000,
};

/** The HTTPS server of `serve`, and what its connection guard closed or refused so far. */
export interface GuardedHttpsServer extends ReloadingHttpsServer {
  connectionCounts(): ConnectionGuardCounts;
}

/**
 * The HTTPS server of `serve` (TLS 1.2+): it takes a new certificate when the files change
 * (cert-manager or a Secret update rotating them) without dropping a connection. With
 * `clientCa`, it asks clients for a certificate and verifies it against that CA bundle,
 * stamping each connection with the bundle's epoch (admission-client.ts says which routes
 * need one, client-ca-epochs.ts what a new bundle does). `now` is the clock the
 * certificate's dates are checked against.
 */
export function createHttpsServer(
  app: Express | RequestListener,
  certFile: string,
  keyFile: string,
  logger: Logger,
  clientCa?: { readonly file: string; readonly epochs: ClientCaEpochs },
  now: Clock = Date.now,
  limits: ConnectionLimits = CONNECTION_LIMITS,
): GuardedHttpsServer {
  const reloading = createReloadingHttpsServer(
    app,
    { certFile, keyFile, ...(clientCa === undefined ? {} : { clientCaFile: clientCa.file }) },
    logger,
    {
      now,
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
      ...(clientCa === undefined ? {} : { clientCaEpochs: clientCa.epochs }),
    },
  );
  // A request (headers and body) must arrive within 10 s, checked every second: the API
  // server sends one in milliseconds and waits for the answer at most timeoutSeconds (5 s
  // as installed). Before, 30 s checked every 30 s let a client that sends all but the
  // last byte hold its connection, its body and any turn of the large-request gate for
  // ~52 s (a red-team review). Answering is not bounded here: the request was received.
  reloading.server.requestTimeout = REQUEST_TIMEOUT_MS;
  reloading.server.headersTimeout = HEADERS_TIMEOUT_MS;
  // With no 'timeout' listener, node destroys a socket idle this long.
  reloading.server.timeout = limits.idleTimeoutMs;
  // Read when the server starts listening (node's http server; not in @types/node).
  (reloading.server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = 1_000;
  const guard = guardConnections(reloading.server, limits, logger);
  return { ...reloading, connectionCounts: () => guard.counts };
}

/**
 * Tracks every connection of `server` in a ConnectionGuard and closes what it says. Node's
 * own `server.maxConnections` is left unset: it refuses a connection beyond it before any
 * listener runs, so no idle connection could make room. A request is matched to its TCP
 * connection by the four-tuple the TLS socket over it shares (as in client-ca-epochs.ts).
 */
function guardConnections(server: Server, limits: ConnectionLimits, logger: Logger): ConnectionGuard<Socket> {
  const guard = new ConnectionGuard<Socket>(limits);
  const byKey = new Map<string, Socket>();
  const log = logger.child({ component: 'connections' });
  const logs = new LogThrottle();
  const closeAll = (sockets: readonly Socket[]): void => {
    for (const socket of sockets) socket.destroy();
    if (sockets.length > 0) note();
  };
  // One line a second at most, whatever the rate: each is counted in the metrics.
  const note = (): void => {
    const skipped = logs.take();
    if (skipped === undefined) return;
    log.warn(
      { code: 'ERR_SERVER_CONNECTIONS', ...guard.counts, ...guard.load, unlogged: skipped },
      `connections: at the cap of ${limits.maxConnections} or past ${limits.maxIdlePerSource} idle from one address; closing the longest idle`,
    );
  };
  server.on('connection', (socket: Socket) => {
    const admission = guard.admit(socket, socket.remoteAddress ?? 'unknown');
    if (!admission.admitted) {
      socket.destroy();
      note();
      return;
    }
    const key = connectionKey(socket);
    byKey.set(key, socket);
    socket.once('close', () => {
      guard.closed(socket);
      if (byKey.get(key) === socket) byKey.delete(key);
    });
    closeAll(admission.close);
  });
  // The TLS socket of a connection is the same for each of its keep-alive requests: its
  // TCP connection is looked up once, on its first request.
  const byTlsSocket = new WeakMap<object, Socket>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    let socket = byTlsSocket.get(req.socket);
    if (socket === undefined) {
      socket = byKey.get(connectionKey(req.socket));
      if (socket === undefined) return;
      byTlsSocket.set(req.socket, socket);
    }
    guard.requestStarted(socket);
    res.once('close', () => closeAll(guard.requestEnded(socket)));
  });
  return guard;
}

function connectionKey(socket: Socket): string {
  return `${socket.localAddress}|${socket.localPort}|${socket.remoteAddress}|${socket.remotePort}`;
}

/**
 * Listens on `host`:`port` (0: any free port).
 * @returns the port listened on
 */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : port;
}

/** The URL a client on this machine reaches the server at (a wildcard host shown as 127.0.0.1). */
export function serverUrl(host: string, port: number): string {
  const shownHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `https://${shownHost}:${port}`;
}
