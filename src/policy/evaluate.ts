/**
 * The policy core's entry points: `evaluate` (the verdict of /validate) and `mutate`
 * (the object /mutate would produce). Plain data in, plain data out.
 */
import { getLabels, getRecord, isRecord } from './object-paths.js';
import { checkOwnership, isTerminating, requesterRole, resolveTenant, type TenantResolution } from './ownership.js';
import { KIND_RULES } from './kinds.js';
import type { Decision, DecisionSummary, GuardedKind, KindRules, KubeObject, PolicyContext, PolicyRequest, RequesterRole, RuleScope, Violation } from './types.js';
import { EVERY_REQUESTER_RULES, RELAXABLE_RULES, RULE_ORDER, formatViolation, violation } from './types.js';

/** Result of `mutate`: the mutated object, or undefined when nothing is added. */
export interface MutationResult {
  readonly object: KubeObject | undefined;
  readonly tenant: string | undefined;
}

/** Group/version/kind as an AdmissionRequest carries it. */
export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/** The rules of each kind; tests may pass their own. */
export type KindRulesTable = Readonly<Record<GuardedKind, KindRules>>;

const ARGO_GROUP = 'argoproj.io';
const ARGO_KINDS: ReadonlyMap<string, GuardedKind> = new Map<string, GuardedKind>([['ApplicationSet', 'ApplicationSet'], ['Application', 'Application'], ['AppProject', 'AppProject']]);
const SECRET_TYPE_LABEL = 'argocd.argoproj.io/secret-type';

/**
 * Which guarded kind a request is about, or undefined for kinds the webhook leaves alone.
 * A Secret counts when `object` or `oldObject` carries `argocd.argoproj.io/secret-type: cluster`
 * (the webhook's objectSelector matches either; DELETE carries only `oldObject`).
 */
export function guardedKindOf(gvk: GroupVersionKind, object: unknown, oldObject: unknown): GuardedKind | undefined {
  if (gvk.group === ARGO_GROUP) return ARGO_KINDS.get(gvk.kind);
  if (gvk.group === '' && gvk.kind === 'Secret') {
    const isCluster = (o: unknown) => isRecord(o) && getLabels(o)[SECRET_TYPE_LABEL] === 'cluster';
    if (isCluster(object) || isCluster(oldObject)) return 'ClusterSecret';
  }
  return undefined;
}

/** Where the request's subject lives: the object on CREATE, the old object otherwise. */
function subjectObject(request: PolicyRequest): KubeObject | undefined {
  return request.operation === 'CREATE' ? request.object : request.oldObject ?? request.object;
}

/** Checks the shape every rule relies on; an unreadable object gets TG-REQ-01. */
function checkShape(request: PolicyRequest): Violation[] {
  const out: Violation[] = [];
  const need = (o: KubeObject | undefined, name: 'object' | 'oldObject') => {
    if (o === undefined) {
      out.push(violation('TG-REQ-01', name, `is missing from the ${request.operation} request; the API server always sends it`));
      return;
    }
    if (o.metadata !== undefined && !isRecord(o.metadata)) out.push(violation('TG-REQ-01', 'metadata', 'is not an object'));
    const labels = getRecord(o, ['metadata'])?.labels;
    if (labels !== undefined && (!isRecord(labels) || Object.values(labels).some((v) => typeof v !== 'string'))) {
      out.push(violation('TG-REQ-01', 'metadata.labels', 'is not a map of strings'));
    }
  };
  if (request.operation !== 'DELETE') need(request.object, 'object');
  if (request.operation !== 'CREATE') need(request.oldObject, 'oldObject');
  return out;
}

function sortByRule(violations: Violation[]): Violation[] {
  const rank = (v: Violation) => RULE_ORDER.indexOf(v.rule);
  return violations.map((v, i) => ({ v, i })).sort((a, b) => rank(a.v) - rank(b.v) || a.i - b.i).map((x) => x.v);
}

interface Resolved {
  readonly role: RequesterRole;
  readonly subject: TenantResolution;
  readonly updated: TenantResolution | undefined;
}

function resolve(request: PolicyRequest, rules: KindRules, context: PolicyContext): Resolved {
  const role = requesterRole(request.user, context.settings);
  const asker = { user: request.user, role, operation: request.operation };
  const subject = resolveTenant(subjectObject(request) ?? {}, request.namespace, rules, context, asker);
  const updated = request.operation === 'UPDATE' && request.object !== undefined
    ? resolveTenant(request.object, request.namespace, rules, context)
    : undefined;
  return { role, subject, updated };
}

/** True for an UPDATE that changes nothing the rules look at (status, finalizers, annotations...). */
function isImmaterialUpdate(request: PolicyRequest, rules: KindRules, context: PolicyContext): boolean {
  if (request.operation !== 'UPDATE' || request.object === undefined || request.oldObject === undefined) return false;
  return !rules.hasMaterialChange(request.oldObject, request.object, context);
}

/** True for an UPDATE of an object whose deletion has begun. */
function isTerminatingUpdate(request: PolicyRequest): boolean {
  return request.operation === 'UPDATE' && (isTerminating(request.oldObject) || isTerminating(request.object));
}

interface Collected {
  readonly violations: Violation[];
  readonly warnings: string[];
  readonly summary: DecisionSummary;
}

function collect(request: PolicyRequest, rules: KindRules, context: PolicyContext, role: RequesterRole): Collected {
  const { subject, updated } = resolve(request, rules, context);
  const tenant = request.operation === 'UPDATE' && role === 'platform-admin' ? updated?.tenant ?? subject.tenant : subject.tenant;
  const scope: RuleScope = { request, tenant, role, context };
  const findings = rules.validate(scope);
  const violations = [...checkOwnership(request, role, subject, updated, context), ...findings.violations];
  return { violations, warnings: findings.warnings, summary: { tenant: tenant?.name, enforcement: tenant?.enforcement ?? 'enforce', role } };
}

const violationKey = (v: Violation) => `${v.rule} ${v.message}`;

/**
 * The verdict for a request: every failing rule in the order of SPEC section 5, with the
 * platform-admin bypass (only TG-CS-02, TG-CS-04 and TG-REQ-01 hold for admins; the rest are
 * kept as audited) and the modes (`warn`/`audit` relax TG-AS-01..04 and -06 only).
 *
 * An UPDATE that changes nothing material is allowed. An UPDATE of a terminating object is
 * never blocked by what the object already was (so a registry change cannot strand a
 * finalizer), but it is denied for what the change adds: otherwise a tenant could delete
 * its Application or cluster Secret behind a finalizer and then point it at another
 * tenant's cluster while Argo CD still acts on it.
 */
export function evaluate(request: PolicyRequest, context: PolicyContext, table: KindRulesTable = KIND_RULES): Decision {
  const rules = table[request.kind];
  const role = requesterRole(request.user, context.settings);
  const shape = checkShape(request);
  if (shape.length > 0) return decide(shape, [], { tenant: undefined, enforcement: 'enforce', role });
  if (request.operation === 'CONNECT' || isImmaterialUpdate(request, rules, context)) {
    return { allowed: true, warnings: [], audited: [], summary: { tenant: undefined, enforcement: 'enforce', role } };
  }
  const found = collect(request, rules, context, role);
  if (!isTerminatingUpdate(request)) return decide(found.violations, found.warnings, found.summary);
  const before = collect({ ...request, object: request.oldObject }, rules, context, role);
  const known = new Set(before.violations.map(violationKey));
  return decide(found.violations.filter((v) => !known.has(violationKey(v))), found.warnings, found.summary);
}

function decide(all: Violation[], warningsIn: string[], summary: DecisionSummary): Decision {
  const denying: Violation[] = [];
  const audited: Violation[] = [];
  const warnings = [...warningsIn];
  for (const v of sortByRule(all)) {
    if (summary.role === 'platform-admin' && !EVERY_REQUESTER_RULES.has(v.rule)) {
      audited.push(v);
    } else if (summary.enforcement !== 'enforce' && RELAXABLE_RULES.has(v.rule)) {
      audited.push(v);
      if (summary.enforcement === 'warn') warnings.push(`${formatViolation(v)} (enforcement: warn)`);
    } else {
      denying.push(v);
    }
  }
  if (denying.length > 0) return { allowed: false, violations: denying, warnings, audited, summary };
  return { allowed: true, warnings, audited, summary };
}

/**
 * What /mutate adds to the request's object: the tenant label, then the kind's additions
 * (selector, project, exec config...). DELETE, CONNECT and exempt UPDATEs get nothing, and
 * so does an object whose tenant cannot be told.
 */
export function mutate(request: PolicyRequest, context: PolicyContext, table: KindRulesTable = KIND_RULES): MutationResult {
  const rules = table[request.kind];
  if (request.object === undefined || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return { object: undefined, tenant: undefined };
  if (checkShape(request).length > 0 || isImmaterialUpdate(request, rules, context) || isTerminatingUpdate(request)) return { object: undefined, tenant: undefined };
  const { role, subject } = resolve(request, rules, context);
  const tenant = subject.tenant;
  if (tenant === undefined) return { object: undefined, tenant: undefined };
  const edited = structuredClone(request.object);
  const metadata = isRecord(edited.metadata) ? edited.metadata : (edited.metadata = {});
  const labels = isRecord(metadata.labels) ? metadata.labels : (metadata.labels = {});
  if (labels[context.settings.tenantLabel] === undefined) labels[context.settings.tenantLabel] = tenant.name;
  rules.mutate(edited, { request, tenant, role, context });
  return { object: edited, tenant: tenant.name };
}
