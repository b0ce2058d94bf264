import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
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
const SHORT: ConnectionLimits = {
  handshakeTimeoutMs: 300,
  idleTimeoutMs: 300,
  maxConnections: 3,
  maxIdlePerSource: 3,
  sourceGraceMs: 0,
};
const GUARD_MS = 30_000;

let tls: TestTls;
let reloading: ReloadingHttpsServer;
let port: number;

/** serve's HTTPS server with `limits`, answering every request with `answer` (default `ok`). */
function serverWith(
  limits: ConnectionLimits,
  answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => void res.end('ok'),
): ReloadingHttpsServer {
  const { logger } = captureLogger();
  const files = [join(tls.dir, 'tls.crt'), join(tls.dir, 'tls.key')] as const;
  return createHttpsServer(answer, ...files, logger, undefined, Date.now, limits);
}

/** An answer that holds `/hold` requests in `held` (calling `onHeld` with their count); `ok` to others. */
function holding(onHeld: (count: number) => void): {
  held: ServerResponse[];
  answer: (req: IncomingMessage, res: ServerResponse) => void;
} {
  const held: ServerResponse[] = [];
  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url !== '/hold') return void res.end('ok');
    held.push(res);
    onHeld(held.length);
  };
  return { held, answer };
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

/** Sends a GET on a connection of its own; resolves with its status and body. */
function request(to: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ port: to, host: '127.0.0.1', path, ca: tls.caPem, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
    req.end();
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

  test('beyond the cap, a new connection is closed at once while every open one is busy; those are answered', async () => {
    // A fresh server whose timeouts outlive the test: only the cap closes anything. Its
    // answers wait until released, so both connections stay busy (connection-guard.ts).
    let twoHeld: () => void = () => undefined;
    const { held, answer } = holding((count) => count === 2 && twoHeld());
    const limits = { ...SHORT, handshakeTimeoutMs: GUARD_MS, idleTimeoutMs: GUARD_MS, maxConnections: 2 };
    const capped = serverWith(limits, answer);
    const cappedPort = await listen(capped.server, 0, '127.0.0.1');
    try {
      const bothHeld = new Promise<void>((resolve) => (twoHeld = resolve));
      const answers = [request(cappedPort, '/hold'), request(cappedPort, '/hold')];
      await bothHeld;
      const third = tcpConnect({ port: cappedPort, host: '127.0.0.1' });
      await closedByServer(third, performance.now());
      for (const res of held) res.end('ok');
      assert.deepEqual(await Promise.all(answers), ['200 ok', '200 ok']);
    } finally {
      await capped.close();
    }
  });

  test("serve's own limits", () => {
    assert.deepEqual(CONNECTION_LIMITS, {
      handshakeTimeoutMs: 3_000,
      idleTimeoutMs: 15_000,
      maxConnections: 1_000,
      maxIdlePerSource: 64,
      sourceGraceMs: 2_000,
    });
    const { server } = reloading;
    // Node's own cap would refuse before the guard could make room: it is not set.
    assert.deepEqual([server.timeout, server.maxConnections], [SHORT.idleTimeoutMs, undefined]);
  });
});

/** Resolves once `server` has accepted `count` more connections (its guard has seen them). */
function accepted(server: ReloadingHttpsServer['server'], count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onConnection = (): void => {
      seen += 1;
      if (seen < count) return;
      server.off('connection', onConnection);
      resolve();
    };
    server.on('connection', onConnection);
  });
}

/** `count` TCP connections that send nothing, once the server has accepted them all. */
async function silentConnections(
  server: ReloadingHttpsServer['server'],
  to: number,
  count: number,
): Promise<Socket[]> {
  const all = accepted(server, count);
  const sockets = Array.from({ length: count }, () => {
    const s = tcpConnect({ port: to, host: '127.0.0.1' });
    s.on('error', () => undefined);
    return s;
  });
  await all;
  return sockets;
}

describe('one source cannot hold the connection pool (connection-guard.ts)', () => {
  // Timeouts that outlive the test: only the guard closes anything.
  const LONG = { handshakeTimeoutMs: GUARD_MS, idleTimeoutMs: GUARD_MS, sourceGraceMs: 0 };

  test('at the cap, a new connection closes the one idle the longest and is answered', async () => {
    const guarded = serverWith({ ...LONG, maxConnections: 4, maxIdlePerSource: 4 });
    const to = await listen(guarded.server, 0, '127.0.0.1');
    try {
      const silent = await silentConnections(guarded.server, to, 4);
      const oldestClosed = closedByServer(silent[0]!, performance.now());
      // Before, node refused this connection: the held pool reset every newcomer.
      assert.equal(await request(to), '200 ok');
      await oldestClosed;
      for (const s of silent.slice(1)) s.destroy();
    } finally {
      await guarded.close();
    }
  });

  test('a busy connection is never closed for room: an idle one is', async () => {
    let onHeld: () => void = () => undefined;
    const { held, answer } = holding(() => onHeld());
    const guarded = serverWith({ ...LONG, maxConnections: 2, maxIdlePerSource: 2 }, answer);
    const to = await listen(guarded.server, 0, '127.0.0.1');
    try {
      const isHeld = new Promise<void>((resolve) => (onHeld = resolve));
      const busy = request(to, '/hold');
      await isHeld;
      const [silent] = await silentConnections(guarded.server, to, 1);
      const silentClosed = closedByServer(silent!, performance.now());
      assert.equal(await request(to), '200 ok');
      await silentClosed;
      held[0]!.end('held');
      assert.equal(await busy, '200 held');
    } finally {
      await guarded.close();
    }
  });

  test("past its share of idle connections, a source's own longest-idle one is closed; busy ones do not count", async () => {
    let onHeld: () => void = () => undefined;
    const { held, answer } = holding(() => onHeld());
    const guarded = serverWith({ ...LONG, maxConnections: 20, maxIdlePerSource: 2 }, answer);
    const to = await listen(guarded.server, 0, '127.0.0.1');
    try {
      // Three requests in flight from one address, more than its idle share: all kept.
      // One at a time: each is idle through its handshake, and the grace here is 0.
      const busy: Promise<string>[] = [];
      for (let i = 0; i < 3; i++) {
        const isHeld = new Promise<void>((resolve) => (onHeld = resolve));
        busy.push(request(to, '/hold'));
        await isHeld;
      }
      const silent = await silentConnections(guarded.server, to, 2);
      const oldestClosed = closedByServer(silent[0]!, performance.now());
      const [third] = await silentConnections(guarded.server, to, 1);
      await oldestClosed;
      for (const res of held) res.end('held');
      assert.deepEqual(await Promise.all(busy), ['200 held', '200 held', '200 held']);
      for (const s of [...silent, third!]) s.destroy();
    } finally {
      await guarded.close();
    }
  });

  test('a burst of new connections from one source, past its share, is answered within the grace', async () => {
    let onHeld: (count: number) => void = () => undefined;
    const { held, answer } = holding((count) => onHeld(count));
    const limits = { ...LONG, maxConnections: 20, maxIdlePerSource: 1, sourceGraceMs: GUARD_MS };
    const guarded = serverWith(limits, answer);
    const to = await listen(guarded.server, 0, '127.0.0.1');
    try {
      const allHeld = new Promise<void>((resolve) => (onHeld = (count) => count === 4 && resolve()));
      const burst = Array.from({ length: 4 }, () => request(to, '/hold'));
      await allHeld;
      for (const res of held) res.end('held');
      assert.deepEqual(await Promise.all(burst), Array(4).fill('200 held'));
    } finally {
      await guarded.close();
    }
  });
});
