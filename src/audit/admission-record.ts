/**
 * Which admission outcomes are audited, and their records (SPEC section 8): every denial,
 * every verdict with warnings, every mutation that added something, and every allowed
 * verdict that relaxed a rule (audit mode, platform-admin bypass).
 */
import type { AdmissionOutcome, Endpoint } from '../admission/admit.js';
import type { AdmissionRequest } from '../admission/review.js';
import { auditRules, type AdmissionAuditRecord } from './record.js';

/** The audit record of an outcome, or undefined when there is nothing to audit. */
export function admissionAuditRecord(endpoint: Endpoint, request: AdmissionRequest, outcome: AdmissionOutcome): AdmissionAuditRecord | undefined {
  const base = {
    endpoint,
    uid: request.uid,
    kind: request.kind?.kind ?? '',
    namespace: request.namespace,
    name: request.name,
    operation: request.operation ?? '',
    user: request.user.username,
    groups: request.user.groups,
    dryRun: request.dryRun,
  };
  switch (outcome.type) {
    case 'unhandled':
      return undefined;
    case 'not-synced':
      return { ...base, kind: outcome.kind, event: 'denied', tenant: null, rules: [], enforcement: null, reason: 'tenant registry not synced' };
    case 'malformed':
      return { ...base, kind: outcome.kind ?? base.kind, event: 'denied', tenant: null, rules: auditRules(outcome.violations), enforcement: null };
    case 'patched': {
      if (outcome.patch.length === 0) return undefined;
      const name = outcome.request.name;
      return {
        ...base, kind: outcome.request.kind, name, event: 'mutated', tenant: outcome.tenant ?? null, rules: [],
        enforcement: outcome.enforcement ?? null, changes: outcome.patch.map((op) => op.path),
      };
    }
    case 'decided': {
      const { decision, request: policyRequest } = outcome;
      const common = {
        ...base, kind: policyRequest.kind, name: policyRequest.name,
        tenant: decision.summary.tenant ?? null, enforcement: decision.summary.enforcement, role: decision.summary.role,
        ...(decision.warnings.length > 0 ? { warnings: decision.warnings } : {}),
      };
      if (!decision.allowed) {
        return { ...common, event: 'denied', rules: auditRules(decision.violations), ...(decision.audited.length > 0 ? { relaxed: auditRules(decision.audited) } : {}) };
      }
      if (decision.warnings.length > 0) return { ...common, event: 'warned', rules: auditRules(decision.audited) };
      if (decision.audited.length > 0) return { ...common, event: 'audited', rules: auditRules(decision.audited) };
      return undefined;
    }
  }
}
