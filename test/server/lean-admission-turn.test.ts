/**
 * The lean path answers small reviews at the end of the turn in which their bodies were read
 * (src/server/turn-batch.ts): in the order they came, and not at all for a client that left
 * meanwhile (no verdict, no audit record). Driven with a request and response of its own, so
 * the test says exactly when a body ends and when a client leaves.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { pinoAuditSink } from '../../src/audit/logger.js';
import { LargeRequestGate } from '../../src/admission/large-request-gate.js';
import { leanAdmission } from '../../src/server/lean-admission.js';
import { createWebhookMetrics } from '../../src/server/metrics.js';
import { TurnBatch } from '../../src/server/turn-batch.js';
import { staticRegistry } from '../../src/tenancy/registry.js';
import { capturedLogger, denied, fakePolicy, reviewBody, settings, tenants } from './webhook-app-support.js';

/** What a response was sent: status and body, or nothing yet. */
interface Sent {
  status?: number;
  body?: string;
}

/** Answers sent so far, by every exchange. */
let sentCount = 0;

/** A POST whose body the test ends, and a response that records what is sent. */
function exchange(path: string, body: string) {
  const req = Object.assign(new EventEmitter(), {
    method: 'POST',
    url: path,
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
  });
  const sent: Sent = {};
  const res = {
    closed: false,
    destroyed: false,
    setHeader() {},
    writeHead(status: number) {
      sent.status = status;
      return res;
    },
    end(chunk: string | Buffer) {
      sentCount += 1;
      sent.body = chunk.toString();
    },
  };
  return {
    req: req as unknown as IncomingMessage,
    res: res as unknown as ServerResponse,
    sent,
    /** The whole body arrives and ends. */
    finish() {
      req.emit('data', Buffer.from(body, 'utf8'));
      req.emit('end');
    },
    leave() {
      res.closed = true;
      res.destroyed = true;
    },
  };
}

function setUp() {
  const { logger, log } = capturedLogger();
  const judged: string[] = [];
  /** Per verdict, how many answers had been sent when it was made. */
  const sentBeforeVerdict: number[] = [];
  const policy = fakePolicy({
    evaluate: (request) => {
      judged.push(request.name);
      sentBeforeVerdict.push(sentCount);
      return denied([{ rule: 'TG-AS-01', path: '/spec', message: 'no' }]);
    },
  });
  const handle = leanAdmission(
    {
      registry: staticRegistry(tenants()),
      settings: settings(),
      logger,
      audit: pinoAuditSink(logger),
      policy,
    },
    createWebhookMetrics(new Registry()),
    new LargeRequestGate(),
    // No time budget: a cold first verdict on a busy machine may take 10 ms, and these tests
    // are about the order of one turn (the budget has its own, in turn-batch.test.ts).
    new TurnBatch({ onError: (err) => assert.fail(String(err)), budgetMs: Number.POSITIVE_INFINITY }),
  );
  return { handle, judged, log, sentBeforeVerdict };
}

const endOfTurn = () => new Promise((ok) => setImmediate(ok));

describe('the lean path answers at the end of the turn', () => {
  test('bodies read in one turn are judged after it, in the order they ended, and answered once all are judged', async () => {
    const { handle, judged, sentBeforeVerdict } = setUp();
    const sentBefore = sentCount;
    const names = ['one', 'two', 'three'];
    const exchanges = names.map((name) =>
      exchange('/validate', JSON.stringify(reviewBody({ name, uid: `uid-${name}` }))),
    );
    for (const e of exchanges) assert.equal(handle(e.req, e.res), true);
    for (const e of [exchanges[1]!, exchanges[0]!, exchanges[2]!]) e.finish();
    assert.deepEqual(judged, [], 'nothing judged before the end of the turn');
    assert.ok(exchanges.every((e) => e.sent.status === undefined));
    await endOfTurn();
    assert.deepEqual(judged, ['two', 'one', 'three']);
    assert.deepEqual(
      sentBeforeVerdict,
      [sentBefore, sentBefore, sentBefore],
      'no answer written between verdicts',
    );
    for (const [i, e] of exchanges.entries()) {
      assert.equal(e.sent.status, 200);
      const answer = JSON.parse(e.sent.body!) as { response: { uid: string; allowed: boolean } };
      assert.equal(answer.response.uid, `uid-${names[i]!}`);
      assert.equal(answer.response.allowed, false);
    }
  });

  test('a client that left before the end of the turn gets no verdict and no audit record; the others do', async () => {
    const { handle, judged, log } = setUp();
    const stays = exchange('/validate', JSON.stringify(reviewBody({ name: 'stays' })));
    const leaves = exchange('/validate', JSON.stringify(reviewBody({ name: 'leaves' })));
    handle(leaves.req, leaves.res);
    handle(stays.req, stays.res);
    leaves.finish();
    stays.finish();
    leaves.leave();
    await endOfTurn();
    assert.deepEqual(judged, ['stays']);
    assert.deepEqual(leaves.sent, {});
    assert.equal(stays.sent.status, 200);
    assert.deepEqual(
      log.audits().map((a) => a.name),
      ['stays'],
    );
  });

  test('a body that is not JSON is refused at once, not at the end of the turn', () => {
    const { handle, judged } = setUp();
    const bad = exchange('/validate', '{"not json');
    handle(bad.req, bad.res);
    bad.finish();
    assert.equal(bad.sent.status, 400);
    assert.deepEqual(judged, []);
  });
});
