/**
 * Which admission outcomes are audited, and their records (SPEC section 8): every denial,
 * every verdict with warnings, every mutation that added something, and every allowed
 * verdict that relaxed a rule (audit mode, platform-admin bypass).
 */
import type { AdmissionOutcome, Endpoint } from '../admission/admit.js';
import type { AdmissionRequest } from '../admission/review.js';
import { capLine, MAX_AUDIT_ITEMS, MAX_LINE_CHARS, MAX_WARNINGS } from '../policy/answer-limits.js';
import type { Violation } from '../policy/types.js';
import { auditRules, type AdmissionAuditRecord } from './record.js';

type Omitted = NonNullable<AdmissionAuditRecord['omitted']>;

/** The first `max` items and, when more, how many were left off (counted into `omitted`). */
function head<T>(items: readonly T[], max: number, key: keyof Omitted, omitted: Record<string, number>): T[] {
  if (items.length <= max) return [...items];
  omitted[key] = items.length - max;
  return items.slice(0, max);
}

function rules(violations: readonly Violation[], key: 'rules' | 'relaxed', omitted: Record<string, number>) {
  return auditRules(head(violations, MAX_AUDIT_ITEMS, key, omitted));
}

/** `omitted` when something was left off. */
function omittedField(omitted: Record<string, number>): { omitted?: Omitted } {
  return Object.keys(omitted).length > 0 ? { omitted } : {};
}

/**
 * The fields every record starts with, in the order its line has them. The records below
 * add theirs with Object.assign, not object spread: on Node.js 20's V8 a spread followed by
 * more keys took ~4.5 µs a record (on the path of every mutating request), Object.assign
 * ~0.2 µs; Node.js 24 is fast either way.
 */
function baseFields(
  endpoint: Endpoint,
  request: AdmissionRequest,
  kind: string,
  name: string,
  omitted: Record<string, number>,
) {
  return {
    endpoint,
    uid: request.uid,
    kind,
    namespace: request.namespace,
    name,
    operation: request.operation ?? '',
    user: capLine(request.user.username),
    groups: boundedGroups(request.user.groups, omitted),
    dryRun: request.dryRun,
  };
}

/**
 * The requester's groups as a record keeps them: at most MAX_AUDIT_ITEMS, each cut to a
 * line, the rest counted in `omitted.groups`. An identity provider's user can carry
 * thousands (an operator's review: 5,000 groups made a 291 KB line, which container runtimes
 * split at 16 KiB); the common case is returned as it is, no copy.
 */
function boundedGroups(groups: readonly string[], omitted: Record<string, number>): readonly string[] {
  if (groups.length <= MAX_AUDIT_ITEMS && groups.every((g) => g.length <= MAX_LINE_CHARS)) return groups;
  return head(groups, MAX_AUDIT_ITEMS, 'groups', omitted).map(capLine);
}

/**
 * The audit record of an outcome, or undefined when there is nothing to audit. Each list and
 * text is bounded here; the audit sink holds the whole record's JSON to
 * MAX_AUDIT_RECORD_BYTES (record-bytes.ts), so that its line is never split.
 */
export function admissionAuditRecord(
  endpoint: Endpoint,
  request: AdmissionRequest,
  outcome: AdmissionOutcome,
): AdmissionAuditRecord | undefined {
  const requestKind = request.kind?.kind ?? '';
  switch (outcome.type) {
    case 'unhandled':
      return undefined;
    case 'not-synced': {
      const omitted: Record<string, number> = {};
      return Object.assign(
        baseFields(endpoint, request, outcome.kind, request.name, omitted),
        {
          event: 'denied' as const,
          tenant: null,
          rules: [],
          enforcement: null,
          reason: 'tenant registry not synced',
        },
        omittedField(omitted),
      );
    }
    case 'malformed': {
      const omitted: Record<string, number> = {};
      return Object.assign(
        baseFields(endpoint, request, outcome.kind ?? requestKind, request.name, omitted),
        {
          event: 'denied' as const,
          tenant: null,
          rules: rules(outcome.violations, 'rules', omitted),
          enforcement: null,
        },
        omittedField(omitted),
      );
    }
    case 'patched': {
      if (outcome.patch.length === 0) return undefined;
      const omitted: Record<string, number> = {};
      return Object.assign(
        baseFields(endpoint, request, outcome.request.kind, outcome.request.name, omitted),
        {
          event: 'mutated' as const,
          tenant: outcome.tenant ?? null,
          rules: [],
          enforcement: outcome.enforcement ?? null,
          changes: head(outcome.patch, MAX_AUDIT_ITEMS, 'changes', omitted).map((op) => capLine(op.path)),
        },
        omittedField(omitted),
      );
    }
    case 'decided': {
      const { decision, request: policyRequest } = outcome;
      const omitted: Record<string, number> = {};
      const common = () =>
        Object.assign(
          baseFields(endpoint, request, policyRequest.kind, policyRequest.name, omitted),
          {
            tenant: decision.summary.tenant ?? null,
            enforcement: decision.summary.enforcement,
            role: decision.summary.role,
          },
          decision.warnings.length > 0
            ? { warnings: head(decision.warnings, MAX_WARNINGS, 'warnings', omitted).map(capLine) }
            : {},
        );
      if (!decision.allowed) {
        const record = common();
        const relaxed =
          decision.audited.length > 0 ? { relaxed: rules(decision.audited, 'relaxed', omitted) } : {};
        const denied = { event: 'denied' as const, rules: rules(decision.violations, 'rules', omitted) };
        return Object.assign(record, denied, relaxed, omittedField(omitted));
      }
      // `warned` only when a warn-mode tenant's rule was relaxed; a warning that relaxes
      // nothing (a computed destination the Application rules will check) is `informational`.
      const relaxedByWarn =
        decision.summary.enforcement === 'warn' &&
        decision.summary.role !== 'platform-admin' &&
        decision.audited.length > 0;
      if (relaxedByWarn || decision.audited.length > 0) {
        const record = common();
        const event = relaxedByWarn ? ('warned' as const) : ('audited' as const);
        return Object.assign(
          record,
          { event, rules: rules(decision.audited, 'rules', omitted) },
          omittedField(omitted),
        );
      }
      if (decision.warnings.length > 0)
        return Object.assign(common(), { event: 'informational' as const, rules: [] }, omittedField(omitted));
      return undefined;
    }
  }
}
