/**
 * `GET /api/get-target-token` on bare `node:http(s)`, in front of the express router of
 * router.ts (createWebhookApp offers each request to it first): the Argo CD controller
 * asks for a token on every cluster call it makes, so this route skips express's router and
 * prototypes. Same answers as the router's route, byte for byte (status, body, headers);
 * anything else (other routes, HEAD, the token route under another spelling) it leaves to
 * the router. `POST /v1/tokens` stays on the router.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse } from 'node:querystring';
import type { Logger } from 'pino';
import { requestSource } from '../request-source.js';
import { TurnBatch, type TurnBatchOptions } from '../server/turn-batch.js';
import type { Broker, TokenOutcome } from './broker.js';

/** The express 500 answer of createWebhookApp's error handler, for a broker that throws. */
export interface LeanFailure {
  readonly logger: Logger;
  readonly message: string;
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  outcome?: Extract<TokenOutcome, { ok: false }>,
): void {
  // The router's headers, in its order and spelling.
  const headers: Record<string, string | number> = { 'Cache-Control': 'no-store' };
  if (outcome?.retryAfterSeconds !== undefined) headers['Retry-After'] = String(outcome.retryAfterSeconds);
  if (outcome?.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="tenant-guard"';
  headers['Content-Type'] = 'text/plain; charset=utf-8';
  headers['Content-Length'] = Buffer.byteLength(body);
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * The lean handler; true when it took the request. A request it takes is issued (and
 * answered) at the end of the event loop's turn, with the others that turn's I/O poll read
 * (turn-batch.ts), not inside the poll: each answer written inside the poll woke its client
 * between the reads of the others, as on the admission path (docs/capacity.md). Measured
 * A/B, ES256 at 8 connections: 132 to 94 µs of server CPU a token, 5,071 to 7,337 tokens/s.
 * `turns` sets the batch's schedule, clock and time budget (tests inject them; defaults of
 * TurnBatch).
 */
export function leanTokenHandler(
  broker: Broker,
  failure: LeanFailure,
  turns: Pick<TurnBatchOptions, 'schedule' | 'now' | 'budgetMs'> = {},
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const paths = new Set([`/api/get-target-token`, `${broker.issuerPath}/api/get-target-token`]);
  const batch = new TurnBatch({
    onError: (err) => failure.logger.error({ err, code: 'ERR_BROKER_INTERNAL' }, 'token answer failed'),
    ...turns,
  });
  return (req, res) => {
    if (req.method !== 'GET' || req.url === undefined) return false;
    const q = req.url.indexOf('?');
    if (!paths.has(q < 0 ? req.url : req.url.slice(0, q))) return false;
    // express 5's "simple" query parser is node:querystring: a repeated name is an array, not
    // a target; a repeated server is passed on as the array, which the broker refuses.
    const query = q < 0 ? undefined : parse(req.url.slice(q + 1));
    const target = query?.targetName;
    const server = query?.server;
    const source = requestSource(req);
    req.resume();
    batch.defer(() => void answer(req, res, typeof target === 'string' ? target : undefined, server, source));
    return true;
  };
  function answer(
    req: IncomingMessage,
    res: ServerResponse,
    target: string | undefined,
    server: unknown,
    source: string,
  ): Promise<void> {
    return broker.issue(req.headers.authorization, target, source, server).then(
      (outcome) => {
        if (!outcome.ok) send(res, outcome.status, `${outcome.message}\n`, outcome);
        else send(res, 200, outcome.token);
      },
      (err: unknown) => {
        failure.logger.error(
          { err, code: 'ERR_ADMISSION_INTERNAL', path: req.url?.split('?')[0] },
          'request failed',
        );
        const body = JSON.stringify({ message: failure.message });
        res.writeHead(500, {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': Buffer.byteLength(body),
        });
        res.end(body);
      },
    );
  }
}
