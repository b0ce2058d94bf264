/**
 * The webhook's express app: `POST /mutate` and `POST /validate` (admission.k8s.io/v1
 * AdmissionReview), `/healthz`, `/readyz`, `/metrics`, plus routers other components mount.
 * Thin: it decodes, rejects bad bodies before any policy code, calls `admit`, answers,
 * logs, audits and counts (admission-answer.ts); the hot routes are served first by
 * lean-admission.ts, on bare node:https. Every dependency is injected.
 */
import express, {
  type ErrorRequestHandler,
  type Express,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { defaultPolicy, type Endpoint } from '../admission/admit.js';
import { LargeRequestGate } from '../admission/large-request-gate.js';
import {
  admissionClientCheck,
  type AdmissionClientCheck,
  type AdmissionClientRule,
} from './admission-client.js';
import { BodyBudget } from './body-budget.js';
import { largeAdmissionBody, refuseOverBudget } from './large-admission.js';
import { TurnBatch } from './turn-batch.js';
import { isRecord } from '../json.js';
import { requestSource } from '../request-source.js';
import { answerReview, INTERNAL_ERROR_MESSAGE, seconds, type ReviewDeps } from './admission-answer.js';
import { healthRouter, registryReadiness, type ReadinessCheck } from './health.js';
import {
  admissionEndpoint,
  DEFAULT_BODY_LIMIT_BYTES,
  inGateTurn,
  leanAdmission,
  bodyTooDeep,
  NOT_JSON,
  TOO_DEEP,
  TOO_LARGE,
  type LeanAdmissionDeps,
} from './lean-admission.js';
import { createWebhookMetrics, metricsHandler, type WebhookMetrics } from './metrics.js';

export { INTERNAL_ERROR_MESSAGE } from './admission-answer.js';
export { BUSY_MESSAGE, DEFAULT_BODY_LIMIT_BYTES } from './lean-admission.js';
export { BODY_BUDGET_MESSAGE } from './large-admission.js';

/** A router another component (the broker, a Tenant watch) mounts on the same server. */
export interface MountedRouter {
  /** Mount path, e.g. `/` or `/v1`. */
  readonly path: string;
  readonly router: RequestHandler;
  /**
   * A lean `node:http` handler offered each request before express (as `/mutate` and
   * `/validate` are); it returns true when it took the request, false to leave it to
   * `router`. For the hot routes only; it must answer exactly as `router` would.
   */
  readonly lean?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface WebhookAppDeps extends ReviewDeps, LeanAdmissionDeps {
  /** prom-client registry served at /metrics; the app registers its metrics on it (once per registry). */
  readonly metricsRegistry: Registry;
  /** Readiness checks besides the registry's. */
  readonly readiness?: readonly ReadinessCheck[];
  /** Routers mounted after the webhook's own routes. */
  readonly mounts?: readonly MountedRouter[];
  /** Serve `/mutate` and `/validate`. Default true; false for a broker-only process. */
  readonly admission?: boolean;
  readonly largeRequestGate?: LargeRequestGate;
  /** Bytes of admission bodies held while they arrive and wait (body-budget.ts). Default: a new BodyBudget. */
  readonly bodyBudget?: BodyBudget;
  /**
   * Who may send AdmissionReviews (admission-client.ts); undefined: anyone who reaches the
   * port. Set with a server that verifies client certificates (`--client-ca-file`).
   */
  readonly admissionClients?: AdmissionClientRule;
}

/** Builds the webhook app. */
export function createWebhookApp(deps: WebhookAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are per request; an ETag (a hash of every body) buys nothing and costs ~20% of throughput.
  app.set('etag', false);
  // Only /mutate and /validate as spelled reach the admission handlers, as on the lean path
  // and in the body budget: express's default routing also took /VALIDATE and /validate/,
  // which the budget did not see, and 800 slow bodies there ran the heap out (a red-team review).
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  const metrics = createWebhookMetrics(deps.metricsRegistry);
  app.use(healthRouter([registryReadiness(deps.registry), ...(deps.readiness ?? [])]));
  app.get('/metrics', metricsHandler(deps.metricsRegistry));
  const limit = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const json = express.json({
    limit,
    type: 'application/json',
    strict: true,
    // Before the parse, as on the lean path (MAX_BODY_NESTING).
    verify: (_req, _res, bytes) => {
      if (bodyTooDeep(bytes))
        throw Object.assign(new Error(TOO_DEEP.message), { status: 400, type: 'entity.too.deep' });
    },
  });
  const admission = deps.admission ?? true;
  const gate = deps.largeRequestGate ?? new LargeRequestGate();
  const budget = deps.bodyBudget ?? new BodyBudget();
  // Answers of small reviews at the end of the turn, and large ones' next steps behind them.
  // Every error is answered inside a task; what escapes one is a bug, logged, and the rest run.
  const answers = new TurnBatch({
    onError: (err) => deps.logger.error({ err, code: 'ERR_ADMISSION_INTERNAL' }, 'admission answer failed'),
  });
  // Before anything else reads an admission request, its client is checked: on the lean
  // path first of all, and again (a per-connection lookup) on express's routes, which an
  // app mounted in another app reaches without the lean path.
  const clientCheck =
    admission && deps.admissionClients !== undefined
      ? admissionClientCheck(deps.admissionClients, metrics, deps.logger)
      : undefined;
  if (admission) {
    // A large body is read (within the body budget), then parsed in a turn of the gate.
    const large = largeAdmissionBody(gate, budget, limit, metrics, deps.logger);
    const afterParse = yieldIfLarge(gate, answers, deps.logger, clientCheck !== undefined);
    const client: RequestHandler[] =
      clientCheck === undefined
        ? []
        : [
            // On the route, whatever path the target spells: this is an admission route.
            (req, res, next) => {
              if (!clientCheck(req, res, req.path === '/mutate' ? 'mutate' : 'validate')) next();
            },
          ];
    const media = identityUtf8(metrics);
    for (const endpoint of ['mutate', 'validate'] as const) {
      app.post(
        `/${endpoint}`,
        ...client,
        media,
        large,
        json,
        afterParse,
        admissionHandler(endpoint, deps, metrics, clientCheck),
      );
    }
  }
  for (const mount of deps.mounts ?? []) app.use(mount.path, mount.router);
  app.use((_req, res) => {
    // The connection closes after the answer: a body sent to no route is not read either.
    res.status(404).set('connection', 'close').json({ message: 'not found' });
  });
  app.use(errorHandler(deps.logger, metrics));
  // The lean paths: the API server's and the controller's requests skip express (router,
  // prototypes, body parser), which cost most of a request. Whatever they do not take
  // (other routes, and the rare request they leave to express, see `leanAdmission`) goes
  // on to express.
  // First of all, the request target must be a plain path (`requestTargetCheck`); then an
  // admission request's client is checked (when `admissionClients` is set); then a small
  // admission body takes its length from the body budget, or is refused unread
  // (body-budget.ts); a large one takes it on express's route (large-admission.ts).
  const leans = [
    requestTargetCheck,
    ...(clientCheck === undefined ? [] : [clientCheck]),
    ...(admission ? [bodyBudgetCheck(budget, gate, metrics)] : []),
    ...(admission ? [leanAdmission(deps, metrics, gate, answers, clientCheck)] : []),
    ...(deps.mounts ?? []).flatMap((m) => (m.lean === undefined ? [] : [m.lean])),
  ];
  const lean = (req: IncomingMessage, res: ServerResponse): boolean => leans.some((l) => l(req, res));
  // An express app is `(req, res, next) => app.handle(req, res, next)`; `handle` is untyped.
  const dispatch = app as unknown as {
    handle(req: IncomingMessage, res: ServerResponse, next?: unknown): void;
  };
  const handle = dispatch.handle.bind(app);
  dispatch.handle = (req, res, next) => {
    // `next` is set only when the app is mounted in another app: then express routes it.
    if (next === undefined && lean(req, res)) return;
    handle(req, res, next);
  };
  return app;
}

/** Sent with the 400 of a request target that is not a plain path. */
export const REQUEST_TARGET_MESSAGE =
  'the request target must be a path and query (origin-form): no scheme, host or fragment';

/**
 * Answers 400 (unread, connection closed) a request whose target is not origin-form (a path
 * starting with `/`, and an optional query): an absolute URL (`POST https://x/validate`),
 * `*`, or anything with a `#`. True when it answered.
 *
 * Why: the checks in front of express (the client certificate, the body budget, the lean
 * paths) read the path from the raw target, while express routes on the path its URL
 * parser finds in it. `https://x/validate` and `/validate#x` were /validate to express and
 * no admission path to the checks: a client without a certificate had reviews judged and
 * audited (a red-team review). Neither the API server, the controller, Prometheus nor a
 * kubelet sends anything but origin-form, and a fragment is never part of a request target
 * (RFC 9112, section 3.2). With the target a plain path, every reader sees one path.
 */
function requestTargetCheck(req: IncomingMessage, res: ServerResponse): boolean {
  const target = req.url;
  if (target !== undefined && target.charCodeAt(0) === 0x2f && !target.includes('#')) return false;
  res.shouldKeepAlive = false;
  const body = JSON.stringify({ message: REQUEST_TARGET_MESSAGE });
  res.writeHead(400, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
  return true;
}

/**
 * Takes a small admission body's declared length from `budget` (and gives it back once its
 * answer is sent or its connection closes), or answers 429 without reading it: true when it
 * answered. A large body, or one of unknown length, is counted on express's route, where it
 * is read (large-admission.ts); no other request is.
 */
function bodyBudgetCheck(
  budget: BodyBudget,
  gate: LargeRequestGate,
  metrics: WebhookMetrics,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const endpoint = admissionEndpoint(req.url);
    if (endpoint === undefined) return false;
    const header = req.headers['content-length'];
    const length = header === undefined ? undefined : Number(header);
    if (length === undefined || gate.isLarge(length) || length <= 0) return false;
    const release = budget.take(requestSource(req), length);
    if (release !== undefined) {
      res.once('close', release);
      return false;
    }
    refuseOverBudget(res, endpoint, metrics);
    return true;
  };
}

/** Sent with the 415 of an admission body that is compressed or not UTF-8. */
export const UNSUPPORTED_ENCODING_MESSAGE = 'unsupported body encoding or charset; send UTF-8 JSON';

/**
 * An admission body is read as sent, in UTF-8, or refused 415 unread: a `Content-Encoding`
 * other than `identity`, or a `charset` other than UTF-8. The API server sends neither.
 *
 * Why: every bound in front of the parse reads the body's bytes as they arrive. A gzip body
 * of 4 KB inflated to 3 MiB inside express's body parser, past the large-request gate and
 * the body budget, which had counted 4 KB (a red-team review); and the pre-parse nesting
 * check reads UTF-8, where a UTF-16 character's byte 0x22 passed for a quote and hid 760,000
 * nested brackets from it. With the body as it arrives, those bounds see what is parsed.
 */
function identityUtf8(metrics: WebhookMetrics): RequestHandler {
  return (req, res, next) => {
    const encoding = req.headers['content-encoding'];
    // Every charset parameter, anywhere (even inside another parameter's quotes), whichever
    // one a parser takes (express's takes the first): each must be UTF-8.
    const charsets = [...(req.headers['content-type'] ?? '').matchAll(/charset\s*=\s*"?([^";,\s]*)/gi)].map(
      (m) => (m[1] ?? '').toLowerCase(),
    );
    const identity = encoding === undefined || encoding.trim().toLowerCase() === 'identity';
    if (identity && charsets.every((c) => c === 'utf-8' || c === 'utf8')) {
      next();
      return;
    }
    res.set('connection', 'close');
    badRequest(res, 415, UNSUPPORTED_ENCODING_MESSAGE);
    metrics.observe({ endpoint: req.path.slice(1), kind: 'unknown', decision: 'bad_request' }, 0);
  };
}

/**
 * Parsing a large body and judging it are two turns of the event loop, with I/O between;
 * a small body holding much elementsYaml, or many values, takes a turn of the gate once parsed.
 */
function yieldIfLarge(
  gate: LargeRequestGate,
  answers: TurnBatch,
  logger: Logger,
  requesterVerified: boolean,
): RequestHandler {
  return (req, res, next) => {
    if (res.locals.largeRequest === true) answers.deferAfterPoll(next);
    else {
      // Express has read exactly Content-Length bytes (a body of unknown length is large).
      const costly = gate.costlyBecause(req.body, Number(req.headers['content-length']));
      if (costly === undefined) next();
      else
        inGateTurn(
          gate,
          answers,
          logger,
          res,
          req.path.slice(1) as Endpoint,
          next,
          req.body,
          costly,
          requesterVerified,
        );
    }
  };
}

function badRequest(res: Response, status: number, message: string): void {
  res.status(status).json({ message });
}

function admissionHandler(
  endpoint: Endpoint,
  deps: WebhookAppDeps,
  metrics: WebhookMetrics,
  clientCheck: AdmissionClientCheck | undefined,
): RequestHandler {
  const policy = deps.policy ?? defaultPolicy;
  return (req: Request, res: Response) => {
    // The client again, as the request is judged (its body may have taken its time).
    if (clientCheck?.(req, res, endpoint) === true) return;
    const started = process.hrtime.bigint();
    if (!req.is('application/json')) {
      // No body at all is a malformed review; a body of another type is unsupported.
      const hasBody = req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0';
      if (hasBody || req.headers['transfer-encoding'] !== undefined)
        badRequest(res, 415, 'Content-Type must be application/json');
      else badRequest(res, 400, 'empty body; expected an admission.k8s.io/v1 AdmissionReview');
      metrics.observe({ endpoint, kind: 'unknown', decision: 'bad_request' }, seconds(started));
      return;
    }
    const answer = answerReview(endpoint, req.body, started, deps, policy, metrics);
    res.status(answer.status).json(answer.payload);
    answer.after();
  };
}

/** Body-parser errors (`type` and `status`) become 400/413/415; anything else a generic 500. */
function errorHandler(logger: Logger, metrics: WebhookMetrics): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const endpoint = req.path === '/mutate' || req.path === '/validate' ? req.path.slice(1) : undefined;
    const type = isRecord(err) && typeof err.type === 'string' ? err.type : undefined;
    const status = isRecord(err) && typeof err.status === 'number' ? err.status : undefined;
    let answered: { status: number; message: string } | undefined;
    if (type === 'entity.too.large') answered = TOO_LARGE;
    else if (type === 'entity.too.deep') answered = TOO_DEEP;
    else if (type === 'entity.parse.failed') answered = NOT_JSON;
    else if (type === 'encoding.unsupported' || type === 'charset.unsupported')
      answered = { status: 415, message: UNSUPPORTED_ENCODING_MESSAGE };
    else if (status !== undefined && status >= 400 && status < 500)
      answered = { status, message: 'bad request' };
    if (answered !== undefined) {
      res.status(answered.status).json({ message: answered.message });
      if (endpoint !== undefined) metrics.observe({ endpoint, kind: 'unknown', decision: 'bad_request' }, 0);
      return;
    }
    logger.error({ err, code: 'ERR_ADMISSION_INTERNAL', path: req.path }, 'request failed');
    res.status(500).json({ message: INTERNAL_ERROR_MESSAGE });
    if (endpoint !== undefined) metrics.observe({ endpoint, kind: 'unknown', decision: 'error' }, 0);
  };
}
