/**
 * The HTTPS listener of `tenant-guard serve`: the one place its TLS server is made (swap in
 * another reloading one here), listening, and the URL it is reached at.
 */
import type { RequestListener } from 'node:http';
import type { Server } from 'node:https';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { createReloadingHttpsServer, type ReloadingHttpsServer } from './tls.js';
import type { ClientCaEpochs } from './client-ca-epochs.js';

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
  /** Longest a TLS handshake may take, in ms. */
  readonly handshakeTimeoutMs: number;
  /**
   * Longest a connection may go without a byte either way, in ms (node's `server.timeout`):
   * a connection that never sends a request, or a client that stops reading its answer.
   * Between requests, node's keep-alive timeout (5 s) closes an idle connection first.
   */
  readonly idleTimeoutMs: number;
  /** Connections open at once; node closes any beyond at once. */
  readonly maxConnections: number;
}

/**
 * The limits of `serve` (docs/capacity.md). 1,000 connections at ~43 KiB a server end are
 * ~42 MiB, within the 256 Mi limit beside the largest registry's heap; an API server opens
 * one connection per concurrent admission request, and the controller's plugin one per token.
 */
export const CONNECTION_LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 15_000,
  maxConnections: 1_000,
};

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
): ReloadingHttpsServer {
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
  reloading.server.maxConnections = limits.maxConnections;
  // Read when the server starts listening (node's http server; not in @types/node).
  (reloading.server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = 1_000;
  return reloading;
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
