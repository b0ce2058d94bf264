/**
 * Large AdmissionReviews take turns (issue 10 item 2): the gate itself, and through the app
 * that a small request never waits for a large one, a large one waits for its turn, and a
 * large one past the queue bound is refused with 429 at once.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import request from 'supertest';
import { afterIoPoll, LargeRequestGate, yamlChars } from '../../src/admission/large-request-gate.js';
import { BUSY_MESSAGE } from '../../src/server/webhook-app.js';
import { allowed, APPLICATION_SET, buildApp, fakePolicy, reviewBody } from '../server/webhook-app-support.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('LargeRequestGate', () => {
  test('only bodies over the threshold (or of unknown length) are large', () => {
    const gate = new LargeRequestGate({ thresholdBytes: 100 });
    assert.deepEqual(
      [gate.isLarge(100), gate.isLarge(101), gate.isLarge(undefined), gate.isLarge(Number.NaN)],
      [false, true, true, true],
    );
  });

  test('one at a time; the next gets its slot on a later turn once the first is released; past maxQueued, none', async () => {
    const gate = new LargeRequestGate({ concurrency: 1, maxQueued: 1 });
    const first = await gate.acquire();
    assert.ok(first !== undefined);
    const granted: Array<{ release(): void }> = [];
    void gate.acquire()?.then((slot) => {
      granted.push(slot);
    });
    assert.equal(gate.acquire(), undefined, 'the queue holds one');
    assert.deepEqual(gate.load, { running: 1, waiting: 1 });
    first.release();
    first.release(); // idempotent
    assert.equal(granted.length, 0, 'not in the same turn');
    await turn();
    await turn();
    assert.equal(granted.length, 1);
    assert.deepEqual(gate.load, { running: 1, waiting: 0 });
    granted[0]?.release();
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });
});

describe('the webhook app with a gate', () => {
  const padded = (bytes: number) => JSON.stringify(reviewBody({ padding: 'p'.repeat(bytes) }));

  test('while a large request holds the only turn, a small one is answered and a large one waits for it', async () => {
    const gate = new LargeRequestGate({ thresholdBytes: 10_000, concurrency: 1, maxQueued: 4 });
    const { app } = buildApp({ largeRequestGate: gate });
    const held = await gate.acquire();
    assert.ok(held !== undefined);
    const small = await request(app)
      .post('/validate')
      .set('content-type', 'application/json')
      .send(padded(10));
    assert.equal(small.status, 200);
    let largeAnswered = false;
    const large = request(app)
      .post('/validate')
      .set('content-type', 'application/json')
      .send(padded(20_000))
      .then((res) => {
        largeAnswered = true;
        return res;
      });
    for (let i = 0; i < 20 && gate.load.waiting === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(gate.load.waiting, 1, 'the large request waits');
    assert.equal(largeAnswered, false);
    held.release();
    const res = await large;
    assert.equal(res.status, 200);
    assert.equal(res.body.response.allowed, true);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 }, 'its turn is given back once answered');
  });

  test('past the queue bound a large request is refused at once with 429 and Retry-After', async () => {
    const gate = new LargeRequestGate({ thresholdBytes: 10_000, concurrency: 1, maxQueued: 0 });
    const { app, log } = buildApp({ largeRequestGate: gate });
    const held = await gate.acquire();
    assert.ok(held !== undefined);
    const res = await request(app)
      .post('/mutate')
      .set('content-type', 'application/json')
      .send(padded(20_000));
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(res.body.message, BUSY_MESSAGE);
    assert.ok(log.records().some((r) => r.code === 'ERR_ADMISSION_BUSY'));
    held.release();
  });
});

/** A connected loopback socket pair: bytes written to `client` are readable by `server` at the next poll. */
async function socketPair(): Promise<{ client: Socket; server: Socket; close(): void }> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve));
  const client = connect((listener.address() as AddressInfo).port, '127.0.0.1');
  const server = await accepted;
  await new Promise((resolve) => (client.connecting ? client.once('connect', resolve) : resolve(undefined)));
  return {
    client,
    server,
    close: () => {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}

/**
 * From inside an I/O callback (as a body is parsed), bytes are written to a socket, which
 * makes them readable at the next poll, and `schedule(done)` is called; the result says
 * whether those bytes were read before `done` ran.
 */
async function readBeforeScheduled(schedule: (done: () => void) => void): Promise<boolean> {
  const { client, server, close } = await socketPair();
  try {
    return await new Promise<boolean>((resolve) => {
      let secondRead = false;
      server.on('data', (chunk: Buffer) => {
        if (chunk.toString() === 'first') {
          client.write('second');
          schedule(() => resolve(secondRead));
        } else secondRead = true;
      });
      client.write('first');
    });
  } finally {
    close();
  }
}

describe('afterIoPoll', () => {
  test('from an I/O callback, runs after the I/O that became ready meanwhile is read', async () => {
    assert.equal(await readBeforeScheduled(afterIoPoll), true);
  });

  test('where one setImmediate does not (why two: the same turn of the loop, before the poll)', async () => {
    assert.equal(await readBeforeScheduled((done) => setImmediate(done)), false);
  });
});

describe('a large request in the app', () => {
  test('a small request that arrives while a large body is parsed is judged before the large one', async (t) => {
    const judged: string[] = [];
    const policy = fakePolicy({
      evaluate: (req) => {
        judged.push(req.name);
        return allowed();
      },
    });
    const gate = new LargeRequestGate({ thresholdBytes: 10_000 });
    const { app } = buildApp({ policy, largeRequestGate: gate });
    const server = createHttpServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const small = JSON.stringify(reviewBody({ name: 'small' }));
    const large = JSON.stringify(reviewBody({ name: 'large', padding: 'p'.repeat(20_000) }));
    const raw = (body: string) =>
      `POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const smallClient = connect(port, '127.0.0.1');
    const largeClient = connect(port, '127.0.0.1');
    await Promise.all(
      [smallClient, largeClient].map((s) => new Promise((resolve) => s.once('connect', resolve))),
    );
    const answered = (s: Socket) =>
      new Promise<string>((resolve) => {
        let text = '';
        s.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.includes('"response"')) resolve(text);
        });
      });
    const answers = Promise.all([answered(smallClient), answered(largeClient)]);
    // When the server parses the large body (an I/O callback), the small request is sent:
    // its bytes are readable at the next poll.
    const parse = JSON.parse;
    t.mock.method(JSON, 'parse', (text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
      if (text.length > 20_000 && text.includes('"large"')) smallClient.write(raw(small));
      return parse(text, reviver);
    });
    largeClient.write(raw(large));
    const [smallAnswer, largeAnswer] = await answers;
    assert.match(smallAnswer, /^HTTP\/1.1 200/);
    assert.match(largeAnswer, /^HTTP\/1.1 200/);
    assert.deepEqual(judged, ['small', 'large']);
    smallClient.destroy();
    largeClient.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});

/** An ApplicationSet review whose list generator (inside a matrix) holds `chars` characters of elementsYaml. */
function yamlReview(chars: number, request: Record<string, unknown> = {}): string {
  const object = structuredClone(APPLICATION_SET) as { spec: Record<string, unknown> };
  const line = '- {cluster: a}\n';
  object.spec.generators = [
    { clusters: {} },
    {
      matrix: {
        generators: [{ git: {} }, { list: { elementsYaml: line.repeat(Math.ceil(chars / line.length)) } }],
      },
    },
  ];
  return JSON.stringify(reviewBody({ object, ...request }));
}

describe('costly small requests', () => {
  test('yamlChars counts elementsYaml at every level of matrix and merge, and gives up past 10,000 entries', () => {
    const set = (generators: unknown[]) => ({ spec: { generators } });
    assert.equal(
      yamlChars(set([{ list: { elementsYaml: 'abc' } }, { list: { elementsYaml: 'de' } }]), 100),
      5,
    );
    assert.equal(
      yamlChars(
        set([{ merge: { generators: [{ matrix: { generators: [{ list: { elementsYaml: 'abcd' } }] } }] } }]),
        100,
      ),
      4,
    );
    assert.equal(yamlChars({ spec: { source: {} } }, 100), 0);
    assert.equal(yamlChars('text', 100), 0);
    assert.equal(yamlChars(set(Array.from({ length: 10_001 }, () => ({ clusters: {} }))), 100), Infinity);
  });

  test('costlyBecause: more elementsYaml than the threshold in object or oldObject', () => {
    const gate = new LargeRequestGate({ costlyYamlChars: 1_000 });
    assert.equal(gate.costlyBecause(JSON.parse(yamlReview(500))), undefined);
    assert.equal(gate.costlyBecause(JSON.parse(yamlReview(1_500))), 'elementsYaml');
    const update = JSON.parse(yamlReview(10, { operation: 'UPDATE' })) as {
      request: Record<string, unknown>;
    };
    update.request.oldObject = (
      JSON.parse(yamlReview(1_500)) as { request: { object: unknown } }
    ).request.object;
    assert.equal(gate.costlyBecause(update), 'elementsYaml');
    assert.equal(gate.costlyBecause({ request: 'x' }), undefined);
  });

  test('while the gate is held, a small body with much elementsYaml waits for its turn; one with little does not', async () => {
    const gate = new LargeRequestGate({ costlyYamlChars: 1_000, concurrency: 1, maxQueued: 4 });
    const { app } = buildApp({ largeRequestGate: gate });
    const held = await gate.acquire();
    assert.ok(held !== undefined);
    const little = await request(app)
      .post('/validate')
      .set('content-type', 'application/json')
      .send(yamlReview(100));
    assert.equal(little.status, 200);
    let answered = false;
    const costly = request(app)
      .post('/validate')
      .set('content-type', 'application/json')
      .send(yamlReview(3_000))
      .then((res) => {
        answered = true;
        return res;
      });
    for (let i = 0; i < 50 && gate.load.waiting === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(gate.load.waiting, 1, 'the costly request waits');
    assert.equal(answered, false);
    held.release();
    const res = await costly;
    assert.equal(res.status, 200);
    assert.equal(res.body.response.allowed, true);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 }, 'its turn is given back once answered');
  });

  test('past the queue bound a costly small body is refused at once with 429 and Retry-After', async () => {
    const gate = new LargeRequestGate({ costlyYamlChars: 1_000, concurrency: 1, maxQueued: 0 });
    const { app, log } = buildApp({ largeRequestGate: gate });
    const held = await gate.acquire();
    assert.ok(held !== undefined);
    for (const type of ['application/json', 'application/json; charset=utf-8; x=y']) {
      // The lean path, and express (a Content-Type the lean path leaves to it).
      const res = await request(app).post('/mutate').set('content-type', type).send(yamlReview(3_000));
      assert.equal(res.status, 429, type);
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(res.body.message, BUSY_MESSAGE);
    }
    // One warning a second: a client that repeats a refused request cannot flood the log.
    const warned = log.records().filter((r) => r.code === 'ERR_ADMISSION_BUSY');
    assert.equal(warned.length, 1);
    assert.equal(warned[0]?.unlogged, 0);
    held.release();
  });
});
