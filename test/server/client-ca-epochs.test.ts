/**
 * A new client CA bundle ends the trust of every connection verified under the old one
 * (client-ca-epochs.ts). Before, a keep-alive connection verified under a CA since taken
 * out of `--client-ca-file` went on being answered for as long as its client kept it open.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ClientCaEpochs } from '../../src/server/client-ca-epochs.js';
import { STALE_CONNECTION } from '../../src/server/admission-client.js';
import { createReloadingHttpsServer, type ReloadingHttpsServer } from '../../src/server/tls.js';
import { clientCaFiles, makeClientCertificate, makeTestTls, type TestTls } from '../support/test-tls.js';
import { APPLICATION_SET, buildApp, capturedLogger, reviewBody } from './webhook-app-support.js';

/** A socket as the server sees one: its local and remote address and port, and a close. */
function fakeSocket(port: number, localAddress = '10.0.0.9'): Socket & { ended: number } {
  const socket = Object.assign(new EventEmitter(), {
    localAddress,
    localPort: 8443,
    remoteAddress: '10.0.0.1',
    remotePort: port,
    ended: 0,
    end() {
      socket.ended += 1;
    },
  });
  return socket as unknown as Socket & { ended: number };
}

/** A response being written: whether its headers went out, and when it finishes. */
function fakeResponse(headersSent: boolean): ServerResponse {
  return Object.assign(new EventEmitter(), {
    headersSent,
    shouldKeepAlive: true,
  }) as unknown as ServerResponse;
}

describe('ClientCaEpochs', () => {
  const idle = () => {
    const server = { closed: 0, closeIdleConnections: () => (server.closed += 1) };
    return server;
  };

  test('a connection is current until the bundle changes, then never again', () => {
    const epochs = new ClientCaEpochs();
    const socket = fakeSocket(1);
    epochs.accepted(socket);
    epochs.handshake(socket);
    assert.equal(epochs.isCurrent(socket), true);
    const server = idle();
    epochs.advance(server);
    assert.equal(server.closed, 1, 'idle connections are closed at once');
    assert.equal(epochs.isCurrent(socket), false);
    epochs.advance(server);
    assert.equal(epochs.isCurrent(socket), false);
  });

  test('the epoch is the one the connection was accepted in, not the one its handshake ended in', () => {
    const epochs = new ClientCaEpochs();
    const socket = fakeSocket(2);
    epochs.accepted(socket); // the TLS context (old bundle) is chosen here
    epochs.advance(idle());
    epochs.handshake(socket);
    assert.equal(epochs.isCurrent(socket), false);
    const later = fakeSocket(3);
    epochs.accepted(later);
    epochs.handshake(later);
    assert.equal(epochs.isCurrent(later), true);
  });

  test('a socket never seen accepted, or closed and reused, counts as verified under no bundle', () => {
    const epochs = new ClientCaEpochs();
    const stranger = fakeSocket(4);
    epochs.handshake(stranger);
    assert.equal(epochs.isCurrent(stranger), false);
    assert.equal(epochs.isCurrent({}), false);
    const first = fakeSocket(5);
    const second = fakeSocket(5); // the same remote port, accepted before the first's close event
    epochs.accepted(first);
    epochs.accepted(second);
    first.emit('close');
    epochs.handshake(second);
    assert.equal(epochs.isCurrent(second), true, "the first's close leaves the second's stamp");
  });

  test('one client port to two addresses of the server: each connection keeps its own epoch (found by a red-team review)', () => {
    // Keyed by the remote address and port alone, B (accepted after the change) gave its
    // epoch to A, whose handshake the client had held back across the change.
    const epochs = new ClientCaEpochs();
    const a = fakeSocket(7, '10.0.0.9');
    epochs.accepted(a);
    epochs.advance(idle());
    const b = fakeSocket(7, '10.0.0.10');
    epochs.accepted(b);
    epochs.handshake(a);
    epochs.handshake(b);
    assert.equal(epochs.isCurrent(a), false, 'A was accepted under the old bundle');
    assert.equal(epochs.isCurrent(b), true);
  });

  test('answers in progress: unsent ones say Connection: close, sent ones end their connection when written', () => {
    const epochs = new ClientCaEpochs();
    const calls: string[] = [];
    const listener = epochs.listener((req) => calls.push(String(req.url)));
    const socket = fakeSocket(6);
    epochs.accepted(socket);
    epochs.handshake(socket);
    const unsent = fakeResponse(false);
    const sent = fakeResponse(true);
    const done = fakeResponse(false);
    const request = (url: string) => ({ url, socket }) as unknown as IncomingMessage;
    listener(request('/a'), unsent);
    listener(request('/b'), sent);
    listener(request('/c'), done);
    done.emit('close');
    assert.deepEqual(calls, ['/a', '/b', '/c']);
    assert.equal(unsent.shouldKeepAlive, true, 'nothing changes before a new bundle');
    assert.equal(epochs.advance(idle()), 2, 'the finished answer is no longer tracked');
    assert.equal(unsent.shouldKeepAlive, false);
    assert.equal(done.shouldKeepAlive, true);
    assert.equal(socket.ended, 0);
    sent.emit('finish');
    assert.equal(socket.ended, 1);
    // A request that starts on the old connection closes it after its answer.
    const late = fakeResponse(false);
    listener(request('/d'), late);
    assert.equal(late.shouldKeepAlive, false);
  });
});

/** The webhook behind a reloading server with a client CA, as `serve --client-ca-file` runs it. */
describe('a new client CA bundle ends the connections verified under the old one', () => {
  let serving: TestTls;
  let first: TestTls;
  let second: TestTls;
  let fromFirst: { certPem: string; keyPem: string };
  before(async () => {
    [serving, first, second] = await Promise.all([makeTestTls(), makeTestTls(), makeTestTls()]);
    fromFirst = await makeClientCertificate(first, 'kube-apiserver');
  });

  let tls: ReloadingHttpsServer | undefined;
  after(async () => {
    await tls?.close();
  });

  async function start(): Promise<{
    tls: ReloadingHttpsServer;
    port: number;
    clientCaFile: string;
    files: { certFile: string; keyFile: string; clientCaFile: string };
    metrics: () => Promise<string>;
  }> {
    await tls?.close();
    const files = clientCaFiles(serving, first.caPem);
    const { clientCaFile } = files;
    const epochs = new ClientCaEpochs();
    const { app, metricsRegistry } = buildApp({ admissionClients: { names: undefined, epochs } });
    const { logger } = capturedLogger('error');
    tls = createReloadingHttpsServer(app, files, logger, {
      watch: false,
      pollIntervalMs: 3_600_000,
      clientCaEpochs: epochs,
    });
    const server = tls.server;
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    return {
      tls,
      port: (server.address() as { port: number }).port,
      clientCaFile,
      files,
      metrics: () => metricsRegistry.metrics(),
    };
  }

  const review = JSON.stringify(reviewBody());
  const post = (body = review) =>
    `POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  /** A TLS connection presenting the first CA's client certificate, and what it reads. */
  function open(port: number): Promise<{ socket: TLSSocket; text: () => string; closed: Promise<void> }> {
    return new Promise((resolve, reject) => {
      let text = '';
      const socket = tlsConnect({
        host: '127.0.0.1',
        port,
        ca: serving.caPem,
        cert: fromFirst.certPem,
        key: fromFirst.keyPem,
      });
      socket.on('data', (c: Buffer) => (text += c.toString()));
      const closed = new Promise<void>((ok) => socket.on('close', () => ok()));
      socket.on('error', () => undefined); // a write after the server closed: seen as `closed`
      socket.once('secureConnect', () => resolve({ socket, text: () => text, closed }));
      socket.once('error', reject);
    });
  }
  /** Resolves once `read()` holds a whole answer (headers and the body they announce). */
  async function answer(socket: TLSSocket, read: () => string): Promise<string> {
    for (;;) {
      const text = read();
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text);
      if (end >= 0 && length !== null && Buffer.byteLength(text) >= end + 4 + Number(length[1])) return text;
      if (socket.destroyed || socket.readableEnded)
        throw new Error(`the connection ended before an answer: ${text}`);
      await new Promise<void>((ok) => {
        const settle = () => {
          socket.off('data', settle);
          socket.off('close', settle);
          ok();
        };
        socket.on('data', settle);
        socket.on('close', settle);
      });
    }
  }

  test('an idle keep-alive connection is closed at once; its next request is never answered', async () => {
    const { tls: server, port, clientCaFile } = await start();
    const { socket, text, closed } = await open(port);
    // Idle as the server sees it: its answer is written out, not only read by the client.
    const written = new Promise((ok) => server.server.once('request', (_req, res) => res.once('close', ok)));
    socket.write(post());
    const before = await answer(socket, text);
    await written;
    assert.match(before, /^HTTP\/1\.1 200 /);
    assert.match(before, /connection: keep-alive/i);
    writeFileSync(clientCaFile, second.caPem);
    assert.equal(server.reload(), true);
    const seen = text().length;
    socket.write(post());
    await closed;
    assert.equal(text().slice(seen), '', 'nothing is answered on the old connection');
  });

  // A small body on the lean path; a large one on express's route, after its gate turn.
  const large = JSON.stringify(
    reviewBody({
      object: { ...APPLICATION_SET, metadata: { name: 'x', annotations: { pad: 'x'.repeat(300_000) } } },
    }),
  );
  for (const [what, body] of [
    ['small', review],
    ['large', large],
  ] as const)
    test(`a request whose ${what} body comes after the change is not judged: 429, and the connection ends`, async () => {
      // Its headers came under the old bundle; a client CA dropped meanwhile must not get
      // a review judged by sending the body slowly (up to the request timeout).
      const { tls: server, port, clientCaFile, metrics } = await start();
      const { socket, text, closed } = await open(port);
      const arrived = new Promise((ok) => server.server.once('request', ok));
      socket.write(post(body).slice(0, -body.length)); // the headers only
      await arrived;
      writeFileSync(clientCaFile, second.caPem);
      assert.equal(server.reload(), true);
      socket.write(body);
      const reply = await answer(socket, text);
      assert.match(reply, /^HTTP\/1\.1 429 /);
      assert.match(reply, /connection: close/i);
      await closed;
      assert.match(await metrics(), /decision="client_reconnect"[^\n]* 1\n/);
      assert.doesNotMatch(await metrics(), /decision="allowed"/);
    });

  test('a connection accepted before the change whose handshake ends after it gets 429, unjudged', async () => {
    const { tls: server, port, clientCaFile, metrics } = await start();
    // The server picks the TLS context (the old bundle) when it accepts the connection.
    server.server.once('connection', () => {
      writeFileSync(clientCaFile, second.caPem);
      assert.equal(server.reload(), true);
    });
    const { socket, text, closed } = await open(port);
    socket.write(post());
    const reply = await answer(socket, text);
    // Not 401: the handshake verified the certificate, under the old bundle.
    assert.match(reply, /^HTTP\/1\.1 429 /);
    assert.match(reply, /retry-after: 1/i);
    assert.match(reply, /connection: close/i);
    assert.ok(reply.endsWith(JSON.stringify({ message: STALE_CONNECTION.message })), reply);
    await closed;
    assert.match(await metrics(), /decision="client_reconnect"[^\n]* 1\n/);
    assert.doesNotMatch(await metrics(), /decision="allowed"/);
  });

  /**
   * A keep-alive connection answered, idle on the server's side; `change` to the files, a
   * reload (`taken`: whether it takes a new pair); the next request on that connection is
   * answered, and the connection stays open.
   */
  async function keptAcrossReload(
    change: (files: { certFile: string; keyFile: string }) => Promise<void>,
    taken: boolean,
  ): Promise<void> {
    const { tls: server, port, files } = await start();
    const { socket, text } = await open(port);
    const written = new Promise((ok) => server.server.once('request', (_req, res) => res.once('close', ok)));
    socket.write(post());
    await answer(socket, text);
    await written;
    await change(files);
    assert.equal(server.reload(), taken);
    const seen = text().length;
    socket.write(post());
    const reply = await answer(socket, () => text().slice(seen));
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.match(reply, /connection: keep-alive/i);
    socket.end();
  }

  test('a new serving pair with the same client CA bundle ends nothing (cert-manager renewing it)', () =>
    keptAcrossReload(async (files) => {
      const renewed = await makeTestTls();
      writeFileSync(files.certFile, renewed.certPem);
      writeFileSync(files.keyFile, renewed.keyPem);
    }, true));

  test('a bundle that did not change ends nothing', () => keptAcrossReload(async () => undefined, false));
});
