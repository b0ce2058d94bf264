import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import {
  CONNECTION_LIMITS,
  createHttpsServer,
  listen,
  type ConnectionLimits,
} from '../../src/server/https-server.js';
import type { ReloadingHttpsServer } from '../../src/server/tls.js';
import { captureLogger } from '../tenancy/watch-support.js';
import { makeTestTls, type TestTls } from '../support/test-tls.js';

// The limits under test are short; the guard only keeps a broken server from hanging the
// run, so it is long (a busy machine is slow, never early: node closes no socket before
// its timeout).
const SHORT: ConnectionLimits = { handshakeTimeoutMs: 300, idleTimeoutMs: 300, maxConnections: 3 };
const GUARD_MS = 30_000;

let tls: TestTls;
let reloading: ReloadingHttpsServer;
let port: number;

/** serve's HTTPS server with `limits`, answering every request `ok`. */
function serverWith(limits: ConnectionLimits): ReloadingHttpsServer {
  const { logger } = captureLogger();
  const answer = (_req: IncomingMessage, res: ServerResponse) => res.end('ok');
  const files = [join(tls.dir, 'tls.crt'), join(tls.dir, 'tls.key')] as const;
  return createHttpsServer(answer, ...files, logger, undefined, Date.now, limits);
}

before(async () => {
  tls = await makeTestTls();
  writeFileSync(join(tls.dir, 'tls.crt'), tls.certPem);
  writeFileSync(join(tls.dir, 'tls.key'), tls.keyPem);
  reloading = serverWith(SHORT);
  port = await listen(reloading.server, 0, '127.0.0.1');
});

after(async () => {
  await reloading.close();
  rmSync(tls.dir, { recursive: true, force: true });
});

/** Resolves with the ms the socket lived once the server closes it; rejects after the guard. */
function closedByServer(socket: Socket, opened: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection over ${GUARD_MS} ms`));
    }, GUARD_MS);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(guard);
      resolve(performance.now() - opened);
    });
  });
}

function secureConnection(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', ca: tls.caPem }, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('serve bounds a connection that is not in a request', () => {
  test('a TLS connection that sends no request is closed after the idle timeout', async () => {
    const socket = await secureConnection();
    const lived = await closedByServer(socket, performance.now());
    assert.ok(lived >= SHORT.idleTimeoutMs - 50, `closed after ${lived} ms`);
  });

  test('a handshake that never completes is dropped after the handshake timeout', async () => {
    const opened = performance.now();
    const socket = tcpConnect({ port, host: '127.0.0.1' });
    // The first bytes of a TLS record header, and nothing more.
    socket.write(Buffer.from([0x16, 0x03, 0x01]));
    const lived = await closedByServer(socket, opened);
    assert.ok(lived >= SHORT.handshakeTimeoutMs - 50, `closed after ${lived} ms`);
  });

  test('a connection beyond the cap is closed at once; the open ones are kept', async () => {
    // A fresh server whose idle timeout outlives the test: only the cap closes anything.
    const capped = serverWith({ handshakeTimeoutMs: GUARD_MS, idleTimeoutMs: GUARD_MS, maxConnections: 2 });
    const cappedPort = await listen(capped.server, 0, '127.0.0.1');
    const connectTo = (): Promise<TLSSocket> =>
      new Promise((resolve, reject) => {
        const s = tlsConnect({ port: cappedPort, host: '127.0.0.1', ca: tls.caPem }, () => resolve(s));
        s.once('error', reject);
      });
    try {
      const kept = [await connectTo(), await connectTo()];
      const third = tcpConnect({ port: cappedPort, host: '127.0.0.1' });
      await closedByServer(third, performance.now());
      for (const s of kept) assert.equal(s.destroyed, false);
      for (const s of kept) s.destroy();
    } finally {
      await capped.close();
    }
  });

  test("serve's own limits", () => {
    assert.deepEqual(CONNECTION_LIMITS, {
      handshakeTimeoutMs: 10_000,
      idleTimeoutMs: 15_000,
      maxConnections: 1_000,
    });
    const { server } = reloading;
    assert.deepEqual([server.timeout, server.maxConnections], [SHORT.idleTimeoutMs, SHORT.maxConnections]);
  });
});
