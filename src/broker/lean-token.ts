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

/** The lean handler; true when it took the request. */
export function leanTokenHandler(
  broker: Broker,
  failure: LeanFailure,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const paths = new Set([`/api/get-target-token`, `${broker.issuerPath}/api/get-target-token`]);
  return (req, res) => {
    if (req.method !== 'GET' || req.url === undefined) return false;
    const q = req.url.indexOf('?');
    if (!paths.has(q < 0 ? req.url : req.url.slice(0, q))) return false;
    // express 5's "simple" query parser is node:querystring: a repeated name is an array, not a target.
    const target = q < 0 ? undefined : parse(req.url.slice(q + 1)).targetName;
    broker
      .issue(req.headers.authorization, typeof target === 'string' ? target : undefined, requestSource(req))
      .then(
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
    req.resume();
    return true;
  };
}
