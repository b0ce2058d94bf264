/**
 * A large body (over the gate's threshold, or of unknown length) is read before it takes its
 * turn of the large-request gate, and its bytes count in the body budget meanwhile. A
 * red-team review had one client trickle a chunked body (or one declared above 256 KiB) a
 * byte a second: it held the only turn, taken before its body was read, until the request
 * timeout, and another client's complete 300 KB review waited behind it and timed out.
 * Every step here waits for an event (the server saw the request, took bytes or a turn, a
 * client got its answer); nothing waits for time to pass.
 */
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { LargeRequestGate, type GateSlot } from '../../src/admission/large-request-gate.js';
import { BodyBudget, type BodyHold } from '../../src/server/body-budget.js';
import { BODY_BUDGET_MESSAGE, BUSY_MESSAGE } from '../../src/server/webhook-app.js';
import { buildApp, reviewBody } from './webhook-app-support.js';

/** Tells `seen` when a request takes a turn (`acquire`), and fails the test when one waits for it. */
class WatchedGate extends LargeRequestGate {
  constructor(
    private readonly seen: EventEmitter,
    private readonly onWait: () => void,
  ) {
    super({ thresholdBytes: 10_000, concurrency: 1, maxQueued: 4 });
  }

  override acquire(source?: string): Promise<GateSlot> | undefined {
    const pending = super.acquire(source);
    this.seen.emit('acquire');
    if (pending !== undefined && this.load.waiting > 0) this.onWait();
    return pending;
  }
}

/** Tells `seen` when a body takes bytes (`grow`). */
class WatchedBudget extends BodyBudget {
  constructor(
    private readonly seen: EventEmitter,
    perSourceBytes: number,
  ) {
    super(1_000_000, perSourceBytes);
  }

  override hold(source: string): BodyHold {
    const hold = super.hold(source);
    return {
      grow: (bytes) => {
        const taken = hold.grow(bytes);
        this.seen.emit('grow', taken);
        return taken;
      },
      release: () => {
        hold.release();
        this.seen.emit('release');
      },
    };
  }
}

interface Raw {
  readonly status: number;
  readonly text: string;
}

/** A raw client: what it writes, and its first answer (complete, or all it got once closed). */
async function client(port: number): Promise<{
  socket: Socket;
  answer: Promise<Raw>;
  answered(): boolean;
}> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  let done = false;
  const answer = new Promise<Raw>((resolve) => {
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve({ status: Number(text.slice(9, 12)), text });
    };
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const head = text.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, head))?.[1];
      if (
        length !== undefined
          ? Buffer.byteLength(text) - head - 4 >= Number(length)
          : text.endsWith('0\r\n\r\n')
      )
        finish();
    });
    socket.on('close', finish);
    socket.on('error', () => undefined);
  });
  return { socket, answer, answered: () => done };
}

/** The JSON message of an answer. */
function message(raw: Raw): unknown {
  return (
    JSON.parse(raw.text.slice(raw.text.indexOf('{'), raw.text.lastIndexOf('}') + 1)) as { message?: unknown }
  ).message;
}

function head(length: number | 'chunked'): string {
  const framing = length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`;
  return `POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`;
}

/** `text` as one chunk of a chunked body, or as it is. */
function piece(text: string, chunked: boolean): string {
  return chunked ? `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n` : text;
}

/** The app on plain HTTP; `seen` emits `request` as each request reaches it. */
async function serve(
  seen: EventEmitter,
  options: Parameters<typeof buildApp>[0],
): Promise<{ server: Server; port: number }> {
  const { app } = buildApp(options);
  const server = createServer((req, res) => {
    seen.emit('request');
    app(req, res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Closes the clients and the server, once the budget has every byte back (a leak hangs here). */
async function stop(
  server: Server,
  sockets: Socket[],
  seen: EventEmitter,
  budget: BodyBudget,
): Promise<void> {
  for (const s of sockets) s.destroy();
  while (budget.load.bytes > 0) await once(seen, 'release');
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
}

const large = (name: string, bytes: number) =>
  JSON.stringify(reviewBody({ name, padding: 'p'.repeat(bytes) }));

describe('a large body is read before it takes a turn of the gate', () => {
  for (const framing of ['chunked', 'declared'] as const) {
    test(`a ${framing} large body sent slowly holds no turn: another client's complete large review is answered while it still sends`, async () => {
      const seen = new EventEmitter();
      let fail: (err: Error) => void = () => undefined;
      const waited = new Promise<never>((_, reject) => (fail = reject));
      const gate = new WatchedGate(seen, () =>
        fail(new Error('a complete large review waited at the gate behind a body still arriving')),
      );
      const budget = new WatchedBudget(seen, 200_000);
      const { server, port } = await serve(seen, { largeRequestGate: gate, bodyBudget: budget });
      const chunked = framing === 'chunked';
      const slowBody = large('slow', 20_000);
      const slow = await client(port);
      // Its headers and a first piece of its body; then the server has taken bytes of the
      // budget for it (or, before the fix, its turn of the gate).
      const started = Promise.race([once(seen, 'grow'), once(seen, 'acquire')]);
      slow.socket.write(
        head(chunked ? 'chunked' : Buffer.byteLength(slowBody)) + piece(slowBody.slice(0, 100), chunked),
      );
      await started;
      const fast = await client(port);
      const fastBody = large('fast', 20_000);
      fast.socket.write(head(Buffer.byteLength(fastBody)) + fastBody);
      const answer = await Promise.race([fast.answer, waited]);
      assert.equal(answer.status, 200);
      assert.match(answer.text, /"allowed":true/);
      assert.equal(slow.answered(), false, 'the slow one is still sending');
      // The slow one sends the rest, a piece at a time, and is answered too.
      slow.socket.write(piece(slowBody.slice(100, 5_000), chunked));
      slow.socket.write(piece(slowBody.slice(5_000), chunked) + (chunked ? '0\r\n\r\n' : ''));
      const slowAnswer = await Promise.race([slow.answer, waited]);
      assert.equal(slowAnswer.status, 200);
      assert.match(slowAnswer.text, /"allowed":true/);
      await stop(server, [slow.socket, fast.socket], seen, budget);
      assert.deepEqual(gate.load, { running: 0, waiting: 0 });
      assert.deepEqual(budget.load, { bytes: 0, sources: 0 }, 'every byte given back');
    });
  }

  test('a body of unknown length takes its bytes from the budget as they arrive: past its share, 429 and the connection closed', async () => {
    const seen = new EventEmitter();
    const gate = new WatchedGate(seen, () => undefined);
    const budget = new WatchedBudget(seen, 20_000);
    const { server, port } = await serve(seen, { largeRequestGate: gate, bodyBudget: budget });
    const body = large('chunked', 30_000);
    const sender = await client(port);
    sender.socket.write(
      head('chunked') + piece(body.slice(0, 15_000), true) + piece(body.slice(15_000), true) + '0\r\n\r\n',
    );
    const answer = await sender.answer;
    assert.equal(answer.status, 429);
    assert.match(answer.text, /\r\nretry-after: 1\r\n/i);
    assert.match(answer.text, /\r\nconnection: close\r\n/i);
    assert.equal(message(answer), BODY_BUDGET_MESSAGE);
    assert.equal(gate.load.running, 0, 'never took a turn');
    await stop(server, [sender.socket], seen, budget);
    assert.deepEqual(budget.load, { bytes: 0, sources: 0 });
  });

  test("a declared large body past its source's share, while another of its bodies arrives, is refused unread with 429", async () => {
    const seen = new EventEmitter();
    let fail: (err: Error) => void = () => undefined;
    const waited = new Promise<never>((_, reject) => (fail = reject));
    const gate = new WatchedGate(seen, () =>
      fail(new Error('it waited at the gate behind a body still arriving')),
    );
    const budget = new WatchedBudget(seen, 20_000);
    const { server, port } = await serve(seen, { largeRequestGate: gate, bodyBudget: budget });
    const slow = await client(port);
    const started = Promise.race([once(seen, 'grow'), once(seen, 'acquire')]);
    slow.socket.write(head(15_000) + ' '.repeat(10));
    await started;
    const body = large('second', 12_000);
    const second = await client(port);
    second.socket.write(head(Buffer.byteLength(body)) + body);
    const answer = await Promise.race([second.answer, waited]);
    assert.equal(answer.status, 429);
    assert.equal(message(answer), BODY_BUDGET_MESSAGE, 'the budget refused it, not the gate');
    assert.notEqual(message(answer), BUSY_MESSAGE);
    assert.equal(slow.answered(), false);
    await stop(server, [slow.socket, second.socket], seen, budget);
    assert.deepEqual(budget.load, { bytes: 0, sources: 0 });
  });
});
