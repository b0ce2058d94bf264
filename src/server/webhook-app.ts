/**
 * The webhook's express app: `POST /mutate` and `POST /validate` (admission.k8s.io/v1
 * AdmissionReview), `/healthz`, `/readyz`, `/metrics`, plus routers other components mount.
 * Thin: it decodes, rejects bad bodies before any policy code, calls `admit`, answers,
 * logs, audits and counts. Every dependency is injected.
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
import {
  admit,
  defaultPolicy,
  type AdmissionOutcome,
  type AdmissionPolicy,
  type Endpoint,
} from '../admission/admit.js';
import { outcomeResponse } from '../admission/response.js';
import { afterIoPoll, LargeRequestGate } from '../admission/large-request-gate.js';
import { parseAdmissionReview, readAdmissionRequest } from '../admission/review.js';
import { admissionAuditRecord } from '../audit/admission-record.js';
import type { AuditSink } from '../audit/record.js';
import { isTenantGuardError } from '../errors.js';
import type { AdmissionLimits } from '../policy/limits.js';
import { isRecord } from '../json.js';
import type { Settings } from '../settings.js';
import type { RegistryProvider } from '../tenancy/registry.js';
import { healthRouter, registryReadiness, type ReadinessCheck } from './health.js';
import {
  createWebhookMetrics,
  metricsHandler,
  NO_TENANT,
  type DecisionLabel,
  type WebhookMetrics,
} from './metrics.js';

/** The API server caps a request at 3 MiB; an AdmissionReview body above that is refused (413). */
export const DEFAULT_BODY_LIMIT_BYTES = 3 * 1024 * 1024;

/** Sent with every HTTP 500; the detail is in the log under ERR_ADMISSION_INTERNAL. */
export const INTERNAL_ERROR_MESSAGE =
  'tenant-guard internal error (ERR_ADMISSION_INTERNAL); see the webhook log';

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

export interface WebhookAppDeps {
  /** Where the current Tenant registry is read for each request; undefined: not synced. */
  readonly registry: RegistryProvider;
  readonly settings: Settings;
  /** Root logger; each request gets a child with uid, kind, namespace, name, operation, user. */
  readonly logger: Logger;
  readonly audit: AuditSink;
  /** prom-client registry served at /metrics; the app registers its metrics on it (once per registry). */
  readonly metricsRegistry: Registry;
  /** The policy core. Default: src/policy/evaluate.ts. */
  readonly policy?: AdmissionPolicy;
  /** Readiness checks besides the registry's. */
  readonly readiness?: readonly ReadinessCheck[];
  /** Routers mounted after the webhook's own routes. */
  readonly mounts?: readonly MountedRouter[];
  /** Serve `/mutate` and `/validate`. Default true; false for a broker-only process. */
  readonly admission?: boolean;
  /** Largest AdmissionReview body in bytes. Default 3 MiB. */
  readonly bodyLimitBytes?: number;
  readonly limits?: AdmissionLimits;
  readonly largeRequestGate?: LargeRequestGate;
}

/** Builds the webhook app. */
export function createWebhookApp(deps: WebhookAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are per request; an ETag (a hash of every body) buys nothing and costs ~20% of throughput.
  app.set('etag', false);
  const metrics = createWebhookMetrics(deps.metricsRegistry);
  app.use(healthRouter([registryReadiness(deps.registry), ...(deps.readiness ?? [])]));
  app.get('/metrics', metricsHandler(deps.metricsRegistry));
  const json = express.json({
    limit: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    type: 'application/json',
    strict: true,
  });
  const admission = deps.admission ?? true;
  const gate = deps.largeRequestGate ?? new LargeRequestGate();
  if (admission) {
    const turns = largeRequestTurns(gate, deps.logger);
    const afterParse = yieldIfLarge(gate, deps.logger);
    for (const endpoint of ['mutate', 'validate'] as const) {
      app.post(`/${endpoint}`, turns, json, afterParse, admissionHandler(endpoint, deps, metrics));
    }
  }
  for (const mount of deps.mounts ?? []) app.use(mount.path, mount.router);
  app.use((_req, res) => {
    res.status(404).json({ message: 'not found' });
  });
  app.use(errorHandler(deps.logger, metrics));
  // The lean paths: the API server's and the controller's requests skip express (router,
  // prototypes, body parser), which cost most of a request. Whatever they do not take
  // (other routes, and the rare request they leave to express, see `leanAdmission`) goes
  // on to express.
  const leans = [
    ...(admission ? [leanAdmission(deps, metrics, gate)] : []),
    ...(deps.mounts ?? []).flatMap((m) => (m.lean === undefined ? [] : [m.lean])),
  ];
  if (leans.length > 0) {
    const lean =
      leans.length === 1
        ? leans[0]!
        : (req: IncomingMessage, res: ServerResponse) => leans.some((l) => l(req, res));
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
  }
  return app;
}

/** Sent with the 429 of a large request refused because too many wait. */
export const BUSY_MESSAGE =
  'tenant-guard is judging other large AdmissionReviews; retry (the API server does, within its timeout)';

/**
 * Large bodies wait for a turn of the gate before they are read; past the queue bound they
 * are refused with 429 (the webhook's failurePolicy then decides, fail closed).
 */
function largeRequestTurns(gate: LargeRequestGate, logger: Logger): RequestHandler {
  return (req, res, next) => {
    const header = req.headers['content-length'];
    if (!gate.isLarge(header === undefined ? undefined : Number(header))) {
      next();
      return;
    }
    const pending = gate.acquire();
    if (pending === undefined) {
      logger.warn(
        { code: 'ERR_ADMISSION_BUSY', path: req.path, contentLength: header ?? null, ...gate.load },
        'large admission request refused: too many waiting',
      );
      res.status(429).set('retry-after', '1').json({ message: BUSY_MESSAGE });
      return;
    }
    void pending.then((slot) => {
      // A client gone while it waited frees its turn at once.
      if (res.closed || req.destroyed) {
        slot.release();
        return;
      }
      res.once('close', () => slot.release());
      res.locals.largeRequest = true;
      next();
    });
  };
}

/**
 * Runs `judge` for a parsed body in a turn of the gate, after an I/O poll (or answers 429 at
 * once when too many wait, as `largeRequestTurns` does); the turn ends when `judge` returns.
 */
function inGateTurn(
  gate: LargeRequestGate,
  logger: Logger,
  res: ServerResponse,
  endpoint: Endpoint,
  judge: () => void,
): void {
  const pending = gate.acquire();
  if (pending === undefined) {
    logger.warn(
      { code: 'ERR_ADMISSION_BUSY', path: `/${endpoint}`, reason: 'elementsYaml', ...gate.load },
      'costly admission request refused: too many waiting',
    );
    res.setHeader('retry-after', '1');
    sendJson(res, 429, { message: BUSY_MESSAGE });
    return;
  }
  void pending.then((slot) =>
    afterIoPoll(() => {
      try {
        // A client gone while it waited frees its turn at once.
        if (!res.closed && !res.destroyed) judge();
      } finally {
        slot.release();
      }
    }),
  );
}

/**
 * Parsing a large body and judging it are two turns of the event loop, with I/O between;
 * a small body holding much elementsYaml takes a turn of the gate once parsed.
 */
function yieldIfLarge(gate: LargeRequestGate, logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (res.locals.largeRequest === true) afterIoPoll(next);
    else if (!gate.isCostly(req.body)) next();
    else inGateTurn(gate, logger, res, req.path.slice(1) as Endpoint, next);
  };
}

function decisionLabel(outcome: AdmissionOutcome): DecisionLabel {
  switch (outcome.type) {
    case 'unhandled':
      return 'unhandled';
    case 'not-synced':
      return 'not_synced';
    case 'malformed':
      return 'denied';
    case 'patched':
      return outcome.patch.length > 0 ? 'patched' : 'unchanged';
    case 'decided':
      if (!outcome.decision.allowed) return 'denied';
      return outcome.decision.warnings.length > 0 ? 'warned' : 'allowed';
  }
}

/** The tenant label: the tenant the outcome names (a registry name), else `none`. */
function tenantLabel(outcome: AdmissionOutcome): string {
  if (outcome.type === 'patched') return outcome.tenant ?? NO_TENANT;
  if (outcome.type === 'decided') return outcome.decision.summary.tenant ?? NO_TENANT;
  return NO_TENANT;
}

/** Counts every rule finding of a `/validate` decision: denying, relaxed with a warning, or only audited. */
function countRuleResults(outcome: AdmissionOutcome, metrics: WebhookMetrics): void {
  if (outcome.type === 'malformed') {
    for (const v of outcome.violations)
      metrics.ruleResult({
        kind: outcome.kind ?? 'unknown',
        tenant: NO_TENANT,
        rule: v.rule,
        action: 'denied',
      });
    return;
  }
  if (outcome.type !== 'decided') return;
  const { decision, request } = outcome;
  const tenant = decision.summary.tenant ?? NO_TENANT;
  const relaxedAction =
    decision.summary.role !== 'platform-admin' && decision.summary.enforcement === 'warn'
      ? 'warned'
      : 'audited';
  if (!decision.allowed)
    for (const v of decision.violations)
      metrics.ruleResult({ kind: request.kind, tenant, rule: v.rule, action: 'denied' });
  for (const v of decision.audited)
    metrics.ruleResult({ kind: request.kind, tenant, rule: v.rule, action: relaxedAction });
}

/** The kind label: a guarded kind, `other` for kinds left alone, `unknown` when unreadable (bounded cardinality). */
function kindLabel(outcome: AdmissionOutcome): string {
  switch (outcome.type) {
    case 'unhandled':
      return 'other';
    case 'malformed':
      return outcome.kind ?? 'unknown';
    case 'not-synced':
      return outcome.kind;
    case 'patched':
    case 'decided':
      return outcome.request.kind;
  }
}

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function badRequest(res: Response, status: number, message: string): void {
  res.status(status).json({ message });
}

/** The answer to one parsed AdmissionReview body: a status and a JSON payload; `after` logs and counts once it is sent. */
interface Answer {
  readonly status: number;
  readonly payload: unknown;
  after(): void;
}

/**
 * Everything `/mutate` and `/validate` do with a parsed body, shared by the lean path and
 * the express route: decode, admit, audit, then (in `after`) log and count. Logging needs
 * a child logger with the request's fields only when the line's level is enabled.
 * @throws what the policy core throws that is not ERR_ADMISSION_MALFORMED (a 500 upstream).
 */
function answerReview(
  endpoint: Endpoint,
  body: unknown,
  started: bigint,
  deps: WebhookAppDeps,
  policy: AdmissionPolicy,
  metrics: WebhookMetrics,
): Answer {
  let envelope;
  try {
    envelope = parseAdmissionReview(body);
  } catch (err) {
    if (!isTenantGuardError(err, 'ERR_ADMISSION_MALFORMED')) throw err;
    return {
      status: 400,
      payload: { message: err.message },
      after: () => metrics.observe({ endpoint, kind: 'unknown', decision: 'bad_request' }, seconds(started)),
    };
  }
  const request = readAdmissionRequest(envelope);
  const log = (): Logger =>
    deps.logger.child({
      uid: request.uid,
      kind: request.kind?.kind,
      namespace: request.namespace,
      name: request.name,
      operation: request.operation,
      user: request.user.username,
    });
  let outcome: AdmissionOutcome;
  try {
    outcome = admit(endpoint, request, {
      policy,
      registry: deps.registry.current(),
      settings: deps.settings,
      ...(deps.limits === undefined ? {} : { limits: deps.limits }),
    });
    const record = admissionAuditRecord(endpoint, request, outcome);
    if (record !== undefined) deps.audit.write(record);
  } catch (err) {
    log().error({ err, code: 'ERR_ADMISSION_INTERNAL', endpoint }, 'admission request failed');
    return {
      status: 500,
      payload: { message: INTERNAL_ERROR_MESSAGE },
      after: () => metrics.observe({ endpoint, kind: 'unknown', decision: 'error' }, seconds(started)),
    };
  }
  return {
    status: 200,
    payload: outcomeResponse(request.uid, outcome),
    after: () => {
      const decision = decisionLabel(outcome);
      const level = decision === 'denied' || decision === 'not_synced' ? 'info' : 'debug';
      if (deps.logger.isLevelEnabled(level))
        log()[level]({ endpoint, decision, dryRun: request.dryRun }, `admission ${decision}`);
      metrics.observe(
        { endpoint, kind: kindLabel(outcome), decision, tenant: tenantLabel(outcome) },
        seconds(started),
      );
      countRuleResults(outcome, metrics);
    },
  };
}

function admissionHandler(endpoint: Endpoint, deps: WebhookAppDeps, metrics: WebhookMetrics): RequestHandler {
  const policy = deps.policy ?? defaultPolicy;
  return (req: Request, res: Response) => {
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

/** Status and message of a body the lean path refuses, as express's body parser and `errorHandler` answer it. */
const TOO_LARGE = {
  status: 413,
  message: 'AdmissionReview body is larger than the limit of the webhook',
} as const;
const NOT_JSON = {
  status: 400,
  message: 'body is not valid JSON; expected an admission.k8s.io/v1 AdmissionReview',
} as const;
const ABORTED = { status: 400, message: 'bad request' } as const;

/** `/mutate` or `/validate` from a request target (query string ignored), else undefined. */
function leanEndpoint(url: string | undefined): Endpoint | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path === '/mutate' ? 'mutate' : path === '/validate' ? 'validate' : undefined;
}

/**
 * True for a Content-Type of `application/json` with no parameter but a UTF-8 charset:
 * what the API server sends. Anything else (another type, charset or parameter) is left
 * to express, which answers it as it always has.
 */
function isPlainJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type !== 'application/json') return false;
  if (semi < 0) return true;
  const params = contentType
    .slice(semi + 1)
    .trim()
    .toLowerCase()
    .replace(/"/g, '');
  return params === 'charset=utf-8' || params === 'charset=utf8';
}

/** A JSON body as express's strict JSON parser reads it: BOM dropped, `{}` when empty, an object or array only. */
function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false } {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.length === 0) return { ok: true, value: {} };
  // The first character that is not JSON whitespace (space, tab, line feed, carriage return).
  let at = 0;
  while (at < body.length && ' \t\n\r'.includes(body.charAt(at))) at += 1;
  const first = body.charAt(at);
  if (first !== '{' && first !== '[') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch {
    return { ok: false };
  }
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * `POST /mutate` and `POST /validate` on bare `node:http(s)`: a body read bounded by the
 * limit, one `JSON.parse`, one `JSON.stringify`, and the same answers, log lines, audit
 * records and metrics as the express route. Returns false (touching nothing) for a
 * request it leaves to express: another route or method, a Content-Type other than
 * UTF-8 `application/json`, a Content-Encoding, no body at all, or a large body (or one of
 * unknown length), which waits for its turn at the large-request gate on the express route.
 */
function leanAdmission(
  deps: WebhookAppDeps,
  metrics: WebhookMetrics,
  gate: LargeRequestGate,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const policy = deps.policy ?? defaultPolicy;
  const limit = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const endpoint = leanEndpoint(req.url);
    if (endpoint === undefined) return false;
    const headers = req.headers;
    if (!isPlainJson(headers['content-type'])) return false;
    const encoding = headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
    const lengthHeader = headers['content-length'];
    if (lengthHeader === undefined && headers['transfer-encoding'] === undefined) return false;
    const started = process.hrtime.bigint();
    const refuse = (answer: { status: number; message: string }): void => {
      sendJson(res, answer.status, { message: answer.message });
      metrics.observe({ endpoint, kind: 'unknown', decision: 'bad_request' }, 0);
    };
    if (lengthHeader !== undefined && Number(lengthHeader) > limit) {
      refuse(TOO_LARGE);
      req.resume();
      return true;
    }
    // A large body (or one of unknown length) takes its turn at the gate: express's route.
    if (gate.isLarge(lengthHeader === undefined ? undefined : Number(lengthHeader))) return false;
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer): void => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        refuse(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      if (done) return;
      done = true;
      const parsed = parseJsonBody(
        chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8'),
      );
      if (!parsed.ok) {
        refuse(NOT_JSON);
        return;
      }
      const judge = (): void => {
        let answer: Answer;
        try {
          answer = answerReview(endpoint, parsed.value, started, deps, policy, metrics);
        } catch (err) {
          deps.logger.error({ err, code: 'ERR_ADMISSION_INTERNAL', path: `/${endpoint}` }, 'request failed');
          sendJson(res, 500, { message: INTERNAL_ERROR_MESSAGE });
          metrics.observe({ endpoint, kind: 'unknown', decision: 'error' }, 0);
          return;
        }
        sendJson(res, answer.status, answer.payload);
        answer.after();
      };
      // A small body holding much elementsYaml is judged in a turn of the gate, as a large one is.
      if (!gate.isCostly(parsed.value)) judge();
      else inGateTurn(gate, deps.logger, res, endpoint, judge);
    };
    const onAborted = (): void => {
      if (done) return;
      done = true;
      refuse(ABORTED);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('error', onAborted);
    return true;
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
    if (type === 'entity.too.large')
      answered = { status: 413, message: 'AdmissionReview body is larger than the limit of the webhook' };
    else if (type === 'entity.parse.failed')
      answered = {
        status: 400,
        message: 'body is not valid JSON; expected an admission.k8s.io/v1 AdmissionReview',
      };
    else if (type === 'encoding.unsupported' || type === 'charset.unsupported')
      answered = { status: 415, message: 'unsupported body encoding or charset; send UTF-8 JSON' };
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
