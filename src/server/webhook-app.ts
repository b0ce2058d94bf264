/**
 * The webhook's express app: `POST /mutate` and `POST /validate` (admission.k8s.io/v1
 * AdmissionReview), `/healthz`, `/readyz`, `/metrics`, plus routers other components mount.
 * Thin: it decodes, rejects bad bodies before any policy code, calls `admit`, answers,
 * logs, audits and counts. Every dependency is injected.
 */
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { admit, defaultPolicy, type AdmissionOutcome, type AdmissionPolicy, type Endpoint } from '../admission/admit.js';
import { outcomeResponse } from '../admission/response.js';
import { parseAdmissionReview, readAdmissionRequest } from '../admission/review.js';
import { admissionAuditRecord } from '../audit/admission-record.js';
import type { AuditSink } from '../audit/record.js';
import { isTenantGuardError } from '../errors.js';
import { isRecord } from '../json.js';
import type { Settings } from '../settings.js';
import type { RegistryProvider } from '../tenancy/registry.js';
import { healthRouter, registryReadiness, type ReadinessCheck } from './health.js';
import { createWebhookMetrics, metricsHandler, NO_TENANT, type DecisionLabel, type WebhookMetrics } from './metrics.js';

/** The API server caps a request at 3 MiB; an AdmissionReview body above that is refused (413). */
export const DEFAULT_BODY_LIMIT_BYTES = 3 * 1024 * 1024;

/** Sent with every HTTP 500; the detail is in the log under ERR_ADMISSION_INTERNAL. */
export const INTERNAL_ERROR_MESSAGE = 'tenant-guard internal error (ERR_ADMISSION_INTERNAL); see the webhook log';

/** A router another component (the broker, a Tenant watch) mounts on the same server. */
export interface MountedRouter {
  /** Mount path, e.g. `/` or `/v1`. */
  readonly path: string;
  readonly router: RequestHandler;
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
  const json = express.json({ limit: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES, type: 'application/json', strict: true });
  if (deps.admission ?? true) {
    for (const endpoint of ['mutate', 'validate'] as const) {
      app.post(`/${endpoint}`, json, admissionHandler(endpoint, deps, metrics));
    }
  }
  for (const mount of deps.mounts ?? []) app.use(mount.path, mount.router);
  app.use((_req, res) => {
    res.status(404).json({ message: 'not found' });
  });
  app.use(errorHandler(deps.logger, metrics));
  return app;
}

function decisionLabel(outcome: AdmissionOutcome): DecisionLabel {
  switch (outcome.type) {
    case 'unhandled': return 'unhandled';
    case 'not-synced': return 'not_synced';
    case 'malformed': return 'denied';
    case 'patched': return outcome.patch.length > 0 ? 'patched' : 'unchanged';
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
    for (const v of outcome.violations) metrics.ruleResult({ kind: outcome.kind ?? 'unknown', tenant: NO_TENANT, rule: v.rule, action: 'denied' });
    return;
  }
  if (outcome.type !== 'decided') return;
  const { decision, request } = outcome;
  const tenant = decision.summary.tenant ?? NO_TENANT;
  const relaxedAction = decision.summary.role !== 'platform-admin' && decision.summary.enforcement === 'warn' ? 'warned' : 'audited';
  if (!decision.allowed) for (const v of decision.violations) metrics.ruleResult({ kind: request.kind, tenant, rule: v.rule, action: 'denied' });
  for (const v of decision.audited) metrics.ruleResult({ kind: request.kind, tenant, rule: v.rule, action: relaxedAction });
}

/** The kind label: a guarded kind, `other` for kinds left alone, `unknown` when unreadable (bounded cardinality). */
function kindLabel(outcome: AdmissionOutcome): string {
  switch (outcome.type) {
    case 'unhandled': return 'other';
    case 'malformed': return outcome.kind ?? 'unknown';
    case 'not-synced': return outcome.kind;
    case 'patched':
    case 'decided': return outcome.request.kind;
  }
}

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function badRequest(res: Response, status: number, message: string): void {
  res.status(status).json({ message });
}

function admissionHandler(endpoint: Endpoint, deps: WebhookAppDeps, metrics: WebhookMetrics): RequestHandler {
  const policy = deps.policy ?? defaultPolicy;
  return (req: Request, res: Response) => {
    const started = process.hrtime.bigint();
    if (!req.is('application/json')) {
      // No body at all is a malformed review; a body of another type is unsupported.
      const hasBody = req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0';
      if (hasBody || req.headers['transfer-encoding'] !== undefined) badRequest(res, 415, 'Content-Type must be application/json');
      else badRequest(res, 400, 'empty body; expected an admission.k8s.io/v1 AdmissionReview');
      metrics.observe({ endpoint, kind: 'unknown', decision: 'bad_request' }, seconds(started));
      return;
    }
    let envelope;
    try {
      envelope = parseAdmissionReview(req.body);
    } catch (err) {
      if (!isTenantGuardError(err, 'ERR_ADMISSION_MALFORMED')) throw err;
      badRequest(res, 400, err.message);
      metrics.observe({ endpoint, kind: 'unknown', decision: 'bad_request' }, seconds(started));
      return;
    }
    const request = readAdmissionRequest(envelope);
    const log = deps.logger.child({
      uid: request.uid, kind: request.kind?.kind, namespace: request.namespace, name: request.name,
      operation: request.operation, user: request.user.username,
    });
    let outcome: AdmissionOutcome;
    try {
      outcome = admit(endpoint, request, { policy, registry: deps.registry.current(), settings: deps.settings });
      const record = admissionAuditRecord(endpoint, request, outcome);
      if (record !== undefined) deps.audit.write(record);
    } catch (err) {
      log.error({ err, code: 'ERR_ADMISSION_INTERNAL', endpoint }, 'admission request failed');
      res.status(500).json({ message: INTERNAL_ERROR_MESSAGE });
      metrics.observe({ endpoint, kind: 'unknown', decision: 'error' }, seconds(started));
      return;
    }
    res.status(200).json(outcomeResponse(request.uid, outcome));
    const decision = decisionLabel(outcome);
    const level = decision === 'denied' || decision === 'not_synced' ? 'info' : 'debug';
    log[level]({ endpoint, decision, dryRun: request.dryRun }, `admission ${decision}`);
    metrics.observe({ endpoint, kind: kindLabel(outcome), decision, tenant: tenantLabel(outcome) }, seconds(started));
    countRuleResults(outcome, metrics);
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
    if (type === 'entity.too.large') answered = { status: 413, message: 'AdmissionReview body is larger than the limit of the webhook' };
    else if (type === 'entity.parse.failed') answered = { status: 400, message: 'body is not valid JSON; expected an admission.k8s.io/v1 AdmissionReview' };
    else if (type === 'encoding.unsupported' || type === 'charset.unsupported') answered = { status: 415, message: 'unsupported body encoding or charset; send UTF-8 JSON' };
    else if (status !== undefined && status >= 400 && status < 500) answered = { status, message: 'bad request' };
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
