/**
 * The HTTPS listener of `tenant-guard serve`: the one place its TLS server is made (swap in
 * another reloading one here), listening, and the URL it is reached at.
 */
import type { RequestListener } from 'node:http';
import type { Server } from 'node:https';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { createReloadingHttpsServer, type ReloadingHttpsServer } from './tls.js';

/**
 * The HTTPS server of `serve` (TLS 1.2+): it takes a new certificate when the files change
 * (cert-manager or a Secret update rotating them) without dropping a connection.
 */
export function createHttpsServer(
  app: Express | RequestListener,
  certFile: string,
  keyFile: string,
  logger: Logger,
): ReloadingHttpsServer {
  const reloading = createReloadingHttpsServer(app, { certFile, keyFile }, logger);
  // The API server gives a webhook at most 30 s; nothing here should take longer.
  reloading.server.requestTimeout = 30_000;
  reloading.server.headersTimeout = 10_000;
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
