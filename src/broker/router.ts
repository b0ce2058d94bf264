/**
 * The broker's HTTP routes (SPEC section 6), to be mounted at the root of the serve app:
 *
 * - `GET /api/get-target-token?targetName=NAME&server=URL`: the token as the plain body (drop-in
 *   for the OpenUnison endpoint); a refusal is one `text/plain` line;
 * - `POST /v1/tokens` `{"target": NAME, "server": URL}`: `{token, expirationTimestamp, audience}` (the
 *   audience lets the exec plugin check the token's `aud`); a refusal is
 *   `{error, message}` with `error` the stable code. `server` is the URL the token will be
 *   presented to (ADR 0011): a token is issued only for the target's registered server;
 * - `GET <issuer path>/.well-known/openid-configuration` and `GET <issuer path>/openid/v1/jwks`,
 *   without authentication.
 *
 * When the issuer has a path, the token routes are also served under it.
 */
import express, { type Request, type Response, type Router } from 'express';
import { isRecord } from '../json.js';
import { requestSource } from '../request-source.js';
import type { Broker, TokenOutcome } from './broker.js';
import { DISCOVERY_SUFFIX, JWKS_SUFFIX } from './discovery.js';

/** RFC 3339 without fractions, as Kubernetes writes timestamps. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function refusalHeaders(res: Response, outcome: Extract<TokenOutcome, { ok: false }>): void {
  res.setHeader('Cache-Control', 'no-store');
  if (outcome.retryAfterSeconds !== undefined)
    res.setHeader('Retry-After', String(outcome.retryAfterSeconds));
  if (outcome.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="tenant-guard"');
}

function queryString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Bytes a `POST /v1/tokens` body may have: `{"target": NAME, "server": URL}` takes well under 2,400. */
const MAX_BODY_BYTES = 4096;

const BODY_SHAPE = '{"target": "<cluster name>", "server": "<server URL>"}';

/**
 * What was wrong with a body express's parser refused (its `type`), for the 400's message.
 *
 * Why: every refusal said "the body must be JSON", also to a body of valid JSON that was too
 * large or compressed in a way the parser does not read, which sent a client looking for
 * the wrong mistake.
 */
function unreadableBody(err: unknown): string {
  const type = isRecord(err) && typeof err.type === 'string' ? err.type : undefined;
  if (type === 'entity.too.large')
    return `the body is larger than ${MAX_BODY_BYTES} bytes; send ${BODY_SHAPE}`;
  if (type === 'encoding.unsupported') return `unsupported Content-Encoding; send ${BODY_SHAPE} uncompressed`;
  if (type === 'charset.unsupported') return `unsupported charset; send ${BODY_SHAPE} in UTF-8`;
  return `the body must be JSON: ${BODY_SHAPE}`;
}

/** Builds the router for `broker`. */
export function createBrokerRouter(broker: Broker): Router {
  const router = express.Router();
  const prefixes = [...new Set(['', broker.issuerPath])];

  router.get(`${broker.issuerPath}${DISCOVERY_SUFFIX}`, (_req, res) => {
    const { body, cacheControl } = broker.discovery();
    res.setHeader('Cache-Control', cacheControl).json(body);
  });
  router.get(`${broker.issuerPath}${JWKS_SUFFIX}`, (_req, res) => {
    const { body, cacheControl } = broker.jwks();
    res.setHeader('Cache-Control', cacheControl).type('application/jwk-set+json').send(JSON.stringify(body));
  });

  const getTargetToken = async (req: Request, res: Response): Promise<void> => {
    const outcome = await broker.issue(
      req.get('authorization'),
      queryString(req.query.targetName),
      requestSource(req),
      req.query.server,
    );
    if (!outcome.ok) {
      refusalHeaders(res, outcome);
      res.status(outcome.status).type('text/plain').send(`${outcome.message}\n`);
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).type('text/plain').send(outcome.token);
  };

  const postTokens = async (req: Request, res: Response): Promise<void> => {
    const body: unknown = req.body;
    const target = isRecord(body) ? body.target : undefined;
    const server = isRecord(body) ? body.server : undefined;
    const notString = target !== undefined && typeof target !== 'string' ? 'target' : undefined;
    if (notString !== undefined || (server !== undefined && typeof server !== 'string')) {
      res.setHeader('Cache-Control', 'no-store');
      res.status(400).json({
        error: 'ERR_BROKER_BAD_REQUEST',
        message: `${notString ?? 'server'} must be a string: ${BODY_SHAPE}`,
      });
      return;
    }
    const outcome = await broker.issue(
      req.get('authorization'),
      typeof target === 'string' ? target : undefined,
      requestSource(req),
      server,
    );
    if (!outcome.ok) {
      refusalHeaders(res, outcome);
      res.status(outcome.status).json({ error: outcome.code, message: outcome.message });
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({
      token: outcome.token,
      expirationTimestamp: rfc3339(outcome.expiresAt),
      audience: outcome.audience,
    });
  };

  const json = express.json({ limit: MAX_BODY_BYTES, strict: true, type: () => true });
  for (const prefix of prefixes) {
    router.get(`${prefix}/api/get-target-token`, getTargetToken);
    router.post(`${prefix}/v1/tokens`, json, postTokens);
  }
  // A body that cannot be read is the caller's mistake, not ours: said as such.
  router.use((err: unknown, _req: Request, res: Response, next: (e?: unknown) => void) => {
    const status = typeof err === 'object' && err !== null && 'status' in err ? Number(err.status) : 500;
    if (status >= 400 && status < 500) {
      res.setHeader('Cache-Control', 'no-store');
      res.status(400).json({ error: 'ERR_BROKER_BAD_REQUEST', message: unreadableBody(err) });
      return;
    }
    next(err);
  });
  return router;
}
