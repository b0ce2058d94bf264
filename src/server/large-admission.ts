/**
 * Large AdmissionReview bodies (over the large-request gate's threshold, or of unknown
 * length) on the express route: read in full first, bounded by the body limit and the body
 * budget, then parsed in a turn of the gate, and judged on a later turn of the loop
 * (`yieldIfLarge` in webhook-app.ts). Same answers, status codes and messages as before.
 *
 * Why: the turn was taken before the body was read, and held while it arrived. One client
 * trickling a chunked body (or one declared above 256 KiB) a byte a second held the only
 * turn until the 10 s request timeout, and a legitimate 300 KB review from another client,
 * waiting unread behind it, timed out (408 after 10 s; the API server gives up at 5 s); the
 * per-source share let one address chain four such holds (a red-team review). A turn
 * serialises CPU work (parse, judge), which the server paces, not a read the client paces.
 * What a body holds while it arrives and waits is bounded by the body budget instead
 * (body-budget.ts): a declared length is taken before a byte is read (429 unread past it), a
 * body of unknown length takes its bytes as they arrive (429, connection closed, past it).
 */
import type { RequestHandler } from 'express';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Endpoint } from '../admission/admit.js';
import type { LargeRequestGate } from '../admission/large-request-gate.js';
import { requestSource } from '../request-source.js';
import type { BodyBudget } from './body-budget.js';
import { BUSY_MESSAGE, gateRefusalLog, readJsonBody, TOO_LARGE } from './lean-admission.js';
import type { WebhookMetrics } from './metrics.js';

/** Sent with the 429 of an admission body refused because too many bytes are arriving. */
export const BODY_BUDGET_MESSAGE =
  'tenant-guard is receiving too many AdmissionReview bytes at once; retry (the API server does, within its timeout)';

/**
 * Answers 429 for a body past the body budget and closes the connection after the answer,
 * so the rest of its bytes are not read either.
 */
export function refuseOverBudget(res: ServerResponse, endpoint: Endpoint, metrics: WebhookMetrics): void {
  res.shouldKeepAlive = false;
  res.writeHead(429, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' });
  res.end(JSON.stringify({ message: BODY_BUDGET_MESSAGE }));
  metrics.observe({ endpoint, kind: 'unknown', decision: 'busy' }, 0);
}

/** A body-parser-shaped error: the app's error handler answers it with `answer`'s status and message. */
function bodyError(answer: { status: number }, type: string): Error {
  return Object.assign(new Error(type), { status: answer.status, type });
}

/**
 * Reads a large JSON body (bounded: 413 past `limit`, 429 past `budget`), then waits for a
 * turn of `gate` (429 at once when too many wait) and parses it in that turn: `req.body`
 * holds it for the next handlers (express.json skips a request whose body has been read),
 * and the turn ends when the response closes. Any other request goes on untouched: a small
 * body (express.json's), and a body that is not JSON or no body at all, which is answered
 * without being parsed.
 */
export function largeAdmissionBody(
  gate: LargeRequestGate,
  budget: BodyBudget,
  limit: number,
  metrics: WebhookMetrics,
  logger: Logger,
): RequestHandler {
  const refusals = gateRefusalLog(gate);
  return (req, res, next) => {
    const header = req.headers['content-length'];
    const declared = header === undefined ? undefined : Number(header);
    if (!gate.isLarge(declared) || !req.is('application/json')) {
      next();
      return;
    }
    if (declared !== undefined && declared > limit) {
      req.resume();
      next(bodyError(TOO_LARGE, 'entity.too.large'));
      return;
    }
    const endpoint = req.path.slice(1) as Endpoint;
    const source = requestSource(req);
    const hold = budget.hold(source);
    res.once('close', hold.release);
    if (declared !== undefined && !hold.grow(declared)) {
      refuseOverBudget(res, endpoint, metrics);
      return;
    }
    /** After the whole body is read: a turn, then the parse. */
    const inTurn = (bytes: Buffer): void => {
      const pending = gate.acquire(source);
      if (pending === undefined) {
        const unlogged = refusals.take();
        if (unlogged !== undefined)
          logger.warn(
            {
              code: 'ERR_ADMISSION_BUSY',
              path: req.path,
              contentLength: header ?? null,
              ...gate.load,
              unlogged,
            },
            'large admission request refused: too many waiting',
          );
        res.status(429).set('retry-after', '1').json({ message: BUSY_MESSAGE });
        return;
      }
      void pending.then((slot) => {
        // A client gone while it waited frees its turn at once. (A request read in full
        // is `destroyed`: its response tells whether the client is still there.)
        if (res.closed || res.destroyed) {
          slot.release();
          return;
        }
        res.once('close', () => slot.release());
        res.locals.largeRequest = true;
        const parsed = readJsonBody(bytes);
        if (!parsed.ok) {
          next(bodyError(parsed.refusal, parsed.type));
          return;
        }
        req.body = parsed.value;
        next();
      });
    };
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const stop = (): void => {
      done = true;
      chunks.length = 0;
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        stop();
        next(bodyError(TOO_LARGE, 'entity.too.large'));
      } else if (declared === undefined && !hold.grow(chunk.length)) {
        stop();
        refuseOverBudget(res, endpoint, metrics);
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      stop();
      inTurn(bytes);
    });
    // The client has gone: nobody is owed an answer (its bytes are given back on close).
    req.on('aborted', stop);
    req.on('error', stop);
  };
}
