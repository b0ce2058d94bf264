/**
 * Bytes of admission bodies in flight are bounded in all and per source (body-budget.ts),
 * the large-request gate holds at most a few entries per source, and a request must arrive
 * within REQUEST_TIMEOUT_MS. Found by a red-team review: 800 connections that each sent all
 * but the last byte of a 256 KiB body held ~300 MB (past the pod's memory limit), and 17 slow
 * connections held every turn of the gate for ~52 s.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { LargeRequestGate } from '../../src/admission/large-request-gate.js';
import { BodyBudget } from '../../src/server/body-budget.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCertificates } from '../../src/server/certificates.js';
import { createHttpsServer, HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../../src/server/https-server.js';
import { captureLogger } from '../tenancy/watch-support.js';
import { BODY_BUDGET_MESSAGE } from '../../src/server/webhook-app.js';
import { buildApp, reviewBody } from './webhook-app-support.js';

describe('BodyBudget', () => {
  test('takes up to the total and each source up to its share; a release gives back once', () => {
    const budget = new BodyBudget(1_000, 600);
    const a1 = budget.take('a', 500);
    assert.ok(a1 !== undefined);
    assert.equal(budget.take('a', 200), undefined, "past a's share");
    const b1 = budget.take('b', 500);
    assert.ok(b1 !== undefined);
    assert.equal(budget.take('c', 1), undefined, 'past the total');
    a1();
    a1();
    assert.deepEqual(budget.load, { bytes: 500, sources: 1 }, 'released once; a forgotten');
    assert.ok(budget.take('c', 400) !== undefined);
  });
});

describe('BodyBudget.hold', () => {
  test('grows as a body of unknown length arrives, up to the total and the share; a release gives back all, once', () => {
    const budget = new BodyBudget(1_000, 600);
    const hold = budget.hold('a');
    assert.deepEqual(budget.load, { bytes: 0, sources: 0 }, 'an empty hold takes nothing');
    assert.equal(hold.grow(300), true);
    assert.equal(hold.grow(300), true);
    assert.equal(hold.grow(1), false, "past a's share");
    assert.equal(budget.take('b', 401), undefined, 'past the total');
    assert.deepEqual(budget.load, { bytes: 600, sources: 1 });
    hold.release();
    hold.release();
    assert.equal(hold.grow(1), false, 'a released hold grows no more');
    assert.deepEqual(budget.load, { bytes: 0, sources: 0 });
  });
});

describe('LargeRequestGate: entries per source', () => {
  test('one source holds at most maxPerSource running and waiting; others still queue', async () => {
    const gate = new LargeRequestGate({ concurrency: 1, maxQueued: 10, maxPerSource: 2 });
    const first = await gate.acquire('a');
    assert.ok(first !== undefined);
    const waiting = gate.acquire('a');
    assert.ok(waiting !== undefined);
    assert.equal(gate.acquire('a'), undefined, 'a third from a is refused');
    assert.ok(gate.acquire('b') !== undefined, 'b still queues');
    first.release();
    const second = await waiting;
    assert.ok(gate.acquire('a') !== undefined, 'a released one: it may queue again');
    second.release();
  });
});

/** Sends headers and `sent` bytes of a body declared `length` long, and keeps the socket open. */
function partialPost(port: number, length: number, sent: number): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${' '.repeat(sent)}`,
      );
      resolve(socket);
    });
  });
}

describe('the webhook app with a body budget', () => {
  let server: Server;
  let port: number;
  before(async () => {
    const { app } = buildApp({ bodyBudget: new BodyBudget(100_000, 20_000) });
    server = createServer(app);
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const post = async (body: string) => {
    const res = await fetch(`http://127.0.0.1:${port}/validate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  };

  test('a body past its source share while others arrive is refused unread with 429; answered once they are done', async () => {
    const review = JSON.stringify(reviewBody());
    const held = await partialPost(port, 19_900, 10);
    const refused = await post(review);
    assert.equal(refused.status, 429);
    assert.equal(refused.retryAfter, '1');
    assert.equal(JSON.parse(refused.body).message, BODY_BUDGET_MESSAGE);
    // The held request ends (its client goes): its bytes are given back.
    await new Promise<void>((ok) => {
      held.once('close', () => ok());
      held.destroy();
    });
    const answered = await post(review);
    assert.equal(answered.status, 200);
    assert.equal(JSON.parse(answered.body).response.allowed, true);
  });
});

describe('the HTTPS server of serve', () => {
  test('a request must arrive within 10 s and its headers within 5, checked every second', async () => {
    // Node enforces them; before, 30 s checked every 30 s let a client that sends all but
    // the last byte hold its connection, its body and a turn of the gate for ~52 s.
    const dir = mkdtempSync(join(tmpdir(), 'tg-https-'));
    try {
      const bundle = await generateCertificates({ names: ['127.0.0.1'] });
      writeFileSync(join(dir, 'tls.crt'), bundle.cert);
      writeFileSync(join(dir, 'tls.key'), bundle.key);
      const { logger } = captureLogger();
      const reloading = createHttpsServer(
        (_req: IncomingMessage, res: ServerResponse) => res.end(),
        join(dir, 'tls.crt'),
        join(dir, 'tls.key'),
        logger,
      );
      const server = reloading.server as typeof reloading.server & { connectionsCheckingInterval: number };
      assert.deepEqual(
        [server.requestTimeout, server.headersTimeout, server.connectionsCheckingInterval],
        [REQUEST_TIMEOUT_MS, HEADERS_TIMEOUT_MS, 1_000],
      );
      assert.ok(REQUEST_TIMEOUT_MS <= 10_000 && HEADERS_TIMEOUT_MS <= REQUEST_TIMEOUT_MS);
      await reloading.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
