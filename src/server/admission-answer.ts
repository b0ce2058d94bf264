/**
 * What `/mutate` and `/validate` do with a parsed AdmissionReview body, whichever path read
 * it (the lean `node:https` one or express's route): decode, admit, audit, then log and count
 * with bounded labels.
 */
import type { Logger } from 'pino';
import { admit, type AdmissionOutcome, type AdmissionPolicy, type Endpoint } from '../admission/admit.js';
import { outcomeResponse } from '../admission/response.js';
import { parseAdmissionReview, readAdmissionRequest } from '../admission/review.js';
import { admissionAuditRecord } from '../audit/admission-record.js';
import type { AuditSink } from '../audit/record.js';
import { isTenantGuardError } from '../errors.js';
import type { AdmissionLimits } from '../policy/limits.js';
import type { RuleId, Violation } from '../policy/types.js';
import { capLine } from '../policy/answer-limits.js';
import type { Settings } from '../settings.js';
import type { RegistryProvider } from '../tenancy/registry.js';
import { NO_TENANT, type DecisionLabel, type RuleResultLabels, type WebhookMetrics } from './metrics.js';

/** Sent with every HTTP 500; the detail is in the log under ERR_ADMISSION_INTERNAL. */
export const INTERNAL_ERROR_MESSAGE =
  'tenant-guard internal error (ERR_ADMISSION_INTERNAL); see the webhook log';

/** What answering a review reads: the registry, settings and limits, and where it logs and audits. */
export interface ReviewDeps {
  /** Where the current Tenant registry is read for each request; undefined: not synced. */
  readonly registry: RegistryProvider;
  readonly settings: Settings;
  /** Root logger; each request gets a child with uid, kind, namespace, name, operation, user. */
  readonly logger: Logger;
  readonly audit: AuditSink;
  readonly limits?: AdmissionLimits;
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

/**
 * Adds one to the rule-results counter for every finding of `findings`, with one call per
 * rule: a request can hold thousands of findings of one rule (an ApplicationSet list of
 * foreign cluster names), and a call per finding hashed the labels thousands of times.
 */
function countFindings(
  findings: readonly Violation[],
  labels: Omit<RuleResultLabels, 'rule'>,
  metrics: WebhookMetrics,
): void {
  const perRule = new Map<RuleId, number>();
  // A line standing for findings past the request's budget counts them all (finding-budget.ts).
  for (const v of findings) perRule.set(v.rule, (perRule.get(v.rule) ?? 0) + (v.unlisted ?? 1));
  for (const [rule, count] of perRule) metrics.ruleResult({ ...labels, rule }, count);
}

/** Counts every rule finding of a `/validate` decision: denying, relaxed with a warning, or only audited. */
function countRuleResults(outcome: AdmissionOutcome, metrics: WebhookMetrics): void {
  if (outcome.type === 'malformed') {
    countFindings(
      outcome.violations,
      { kind: outcome.kind ?? 'unknown', tenant: NO_TENANT, action: 'denied' },
      metrics,
    );
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
    countFindings(decision.violations, { kind: request.kind, tenant, action: 'denied' }, metrics);
  countFindings(decision.audited, { kind: request.kind, tenant, action: relaxedAction }, metrics);
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

export function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** The answer to one parsed AdmissionReview body: a status and a JSON payload; `after` logs and counts once it is sent. */
export interface Answer {
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
export function answerReview(
  endpoint: Endpoint,
  body: unknown,
  started: bigint,
  deps: ReviewDeps,
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
  // The request's own words, each cut to a line: a denial of a 240 KB name logged a 240 KB
  // line, which container runtimes split into fragments that do not parse (a red-team review).
  const log = (): Logger =>
    deps.logger.child({
      uid: capLine(request.uid),
      kind: request.kind === undefined ? undefined : capLine(request.kind.kind),
      namespace: capLine(request.namespace),
      name: capLine(request.name),
      operation: request.operation === undefined ? undefined : capLine(request.operation),
      user: capLine(request.user.username),
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
