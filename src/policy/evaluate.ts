/**
 * The policy core's entry points: `evaluate` (the verdict of /validate) and `mutate`
 * (the object /mutate would produce). Plain data in, plain data out.
 */
import {
  addedViolations,
  COMPARED_FINDINGS_PER_RULE,
  isExemptUpdate,
  isTerminatingUpdate,
  onlyTakesAway,
  feedsSync,
} from './update-changes.js';
import { editObject, writableLabels } from './object-edit.js';
import { getLabels, getRecord } from './object-paths.js';
import { isRecord } from '../json.js';
import {
  checkOwnership,
  classifyRequester,
  requesterRole,
  resolveTenant,
  type TenantResolution,
} from './ownership.js';
import { KIND_RULES } from './kinds.js';
import { listUnbuilt, MAX_FINDINGS_PER_RULE, withBudget } from './finding-budget.js';
import { objectShapeProblems } from './object-shape.js';
import type { Tenant } from '../tenancy/tenant.js';
import type {
  Decision,
  DecisionSummary,
  GuardedKind,
  KindRules,
  KubeObject,
  PolicyContext,
  PolicyRequest,
  RequesterRole,
  RuleScope,
  Violation,
} from './types.js';
import {
  EVERY_REQUESTER_RULES,
  isRelaxable,
  RULE_ORDER,
  WHO_MAY_RULES,
  formatViolation,
  violation,
} from './types.js';

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

/** `apiVersion` as a group and version (`v1` is the core group). */
export function groupVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The rules of each kind; tests may pass their own. */
export type KindRulesTable = Readonly<Record<GuardedKind, KindRules>>;

const ARGO_GROUP = 'argoproj.io';
const ARGO_KINDS: ReadonlyMap<string, GuardedKind> = new Map<string, GuardedKind>([
  ['ApplicationSet', 'ApplicationSet'],
  ['Application', 'Application'],
  ['AppProject', 'AppProject'],
]);
const SECRET_TYPE_LABEL = 'argocd.argoproj.io/secret-type';

/**
 * Which guarded kind a request is about, or undefined for kinds the webhook leaves alone.
 * A Secret counts when `object` or `oldObject` carries `argocd.argoproj.io/secret-type: cluster`
 * (the webhook's objectSelector matches either; DELETE carries only `oldObject`).
 */
export function guardedKindOf(
  gvk: GroupVersionKind,
  object: unknown,
  oldObject: unknown,
): GuardedKind | undefined {
  if (gvk.group === ARGO_GROUP) return ARGO_KINDS.get(gvk.kind);
  if (gvk.group === '' && gvk.kind === 'Secret') {
    const isCluster = (o: unknown) => isRecord(o) && getLabels(o)[SECRET_TYPE_LABEL] === 'cluster';
    if (isCluster(object) || isCluster(oldObject)) return 'ClusterSecret';
  }
  return undefined;
}

/** Where the request's subject lives: the object on CREATE, the old object otherwise. */
function subjectObject(request: PolicyRequest): KubeObject | undefined {
  return request.operation === 'CREATE' ? request.object : (request.oldObject ?? request.object);
}

/** Checks the shape every rule relies on; an unreadable object gets TG-REQ-01. */
function checkShape(request: PolicyRequest): Violation[] {
  const out: Violation[] = [];
  const need = (o: KubeObject | undefined, name: 'object' | 'oldObject') => {
    if (o === undefined) {
      out.push(
        violation(
          'TG-REQ-01',
          name,
          `is missing from the ${request.operation} request; the API server always sends it`,
        ),
      );
      return;
    }
    out.push(...objectShapeProblems(o, name, request.kind));
  };
  if (request.operation !== 'DELETE') need(request.object, 'object');
  if (request.operation !== 'CREATE') need(request.oldObject, 'oldObject');
  return out;
}

function sortByRule(violations: Violation[]): Violation[] {
  const rank = (v: Violation) => RULE_ORDER.indexOf(v.rule);
  return violations
    .map((v, i) => ({ v, i }))
    .sort((a, b) => rank(a.v) - rank(b.v) || a.i - b.i)
    .map((x) => x.v);
}

interface Resolved {
  readonly subject: TenantResolution;
  readonly updated: TenantResolution | undefined;
}

function resolve(
  request: PolicyRequest,
  rules: KindRules,
  context: PolicyContext,
  role: RequesterRole,
): Resolved {
  const asker = { user: request.user, role, operation: request.operation };
  const subject = resolveTenant(subjectObject(request) ?? {}, request.namespace, rules, context, asker);
  const updated =
    request.operation === 'UPDATE' && request.object !== undefined
      ? resolveTenant(request.object, request.namespace, rules, context)
      : undefined;
  return { subject, updated };
}

/**
 * The tenant a request is judged for, and /mutate completes its object for: on a platform
 * admin's UPDATE the new object's tenant when it has one (a move), else the subject's. One
 * function: /mutate once completed a moved object for the old tenant while /validate judged
 * it for the new one (the new tenant's ApplicationSet then deployed into the old one's clusters).
 */
function judgedTenant(request: PolicyRequest, role: RequesterRole, resolved: Resolved): Tenant | undefined {
  return request.operation === 'UPDATE' && role === 'platform-admin'
    ? (resolved.updated?.tenant ?? resolved.subject.tenant)
    : resolved.subject.tenant;
}

/**
 * The request as sent, before /mutate's own additions: on an UPDATE, a tenant label that the
 * old object lacked and whose value is the old object's tenant is taken away again (it is
 * what /mutate pins, and adding it is no change, SPEC section 4).
 */
function asSent(request: PolicyRequest, rules: KindRules, context: PolicyContext): PolicyRequest {
  const { object, oldObject } = request;
  if (request.operation !== 'UPDATE' || object === undefined || oldObject === undefined) return request;
  const key = context.settings.tenantLabel;
  const pinned = getLabels(object)[key];
  if (pinned === undefined || getLabels(oldObject)[key] !== undefined) return request;
  const tenant = resolveTenant(oldObject, request.namespace, rules, context).tenant;
  if (tenant?.name !== pinned) return request;
  const metadata = { ...getRecord(object, ['metadata']) };
  const labels = { ...getRecord(metadata, ['labels']) };
  delete labels[key];
  if (Object.keys(labels).length === 0 && getRecord(oldObject, ['metadata'])?.labels === undefined)
    delete metadata.labels;
  else metadata.labels = labels;
  return { ...request, object: { ...object, metadata } };
}

/**
 * The verdict for a request: every failing rule in the order of SPEC section 5, with the
 * platform-admin bypass (only the rules of EVERY_REQUESTER_RULES hold for admins; the rest
 * are kept as audited) and the modes (`warn`/`audit` relax only RELAXABLE_RULES).
 *
 * Ownership (TG-OWN) and who may (TG-CS-07, TG-APP-03, the who-may clauses of TG-PRJ-01/02)
 * are checked on every CREATE, UPDATE and DELETE, on the request as it is. The target and
 * project rules are skipped on DELETE and on an UPDATE that changes nothing material; on an
 * UPDATE of a terminating object they deny only what the change adds (so a registry change
 * cannot strand a finalizer, while a retargeting during deletion is still denied). A
 * Kubernetes system controller's DELETE, and its UPDATE that only removes finalizers or
 * ownerReferences, are allowed without any tenant rule.
 */
export function evaluate(
  request: PolicyRequest,
  context: PolicyContext,
  table: KindRulesTable = KIND_RULES,
  findingsPerRule: number = MAX_FINDINGS_PER_RULE,
): Decision {
  return withBudget(findingsPerRule, () => judge(request, context, table));
}

/** `evaluate` within the request's budget of findings. */
function judge(request: PolicyRequest, context: PolicyContext, table: KindRulesTable): Decision {
  const rules = table[request.kind];
  const shape = checkShape(request);
  if (shape.length > 0)
    return decide(shape, [], {
      tenant: undefined,
      enforcement: 'enforce',
      role: requesterRole(request.user, context.settings),
    });
  const sent = asSent(request, rules, context);
  const { role, beyond } = classifyRequester(sent, context.settings);
  if (request.operation === 'CONNECT')
    return decide([], [], { tenant: undefined, enforcement: 'enforce', role });
  const resolved = resolve(request, rules, context, role);
  const { subject, updated } = resolved;
  const tenant = judgedTenant(request, role, resolved);
  const summary: DecisionSummary = {
    tenant: tenant?.name,
    enforcement: tenant?.enforcement ?? 'enforce',
    role,
  };
  if (role === 'system-controller') return decide([], [], summary);
  const scope: RuleScope = { request, tenant, role, context };
  // On DELETE and exempt UPDATEs the label's agreement with the namespace and the registry
  // (TG-OWN-01 as found while resolving) is what the object is, not who asks: a registry
  // change must never strand an object's deletion or its controllers' status writes.
  const exempt = isExemptUpdate(sent, role, rules, context);
  const asIs = request.operation === 'DELETE' || exempt;
  const quiet = (r: TenantResolution): TenantResolution => (asIs ? { ...r, violations: [] } : r);
  const ownership = checkOwnership(
    request,
    role,
    quiet(subject),
    updated === undefined ? undefined : quiet(updated),
    context,
    beyond,
  );
  const who = [...ownership, ...(rules.whoMay?.(scope) ?? [])];
  if (request.operation === 'DELETE') {
    const deleting = rules.validate(scope).violations.filter((v) => WHO_MAY_RULES.has(v.rule));
    return decide([...who, ...deleting], [], summary);
  }
  if (exempt) return decide(who, [], summary);
  // A terminating object's UPDATE that only takes away is denied only what it adds, so no
  // registry change strands a finalizer; one that adds or changes is judged as it stands,
  // and so is one whose old object is past the size limits (judging it costs its size).
  const comparing =
    isTerminatingUpdate(request) &&
    request.oldObjectBeyondLimits !== true &&
    !feedsSync(sent, role) &&
    onlyTakesAway(sent);
  // Compared with the old object's findings, they are built up to what a comparison reads.
  const findings = comparing
    ? withBudget(COMPARED_FINDINGS_PER_RULE, () => rules.validate(scope))
    : rules.validate(scope);
  // The stand-ins of findings past the budget, one line per rule and class before the rest.
  const found = listUnbuilt(findings.violations);
  const whoFound = found.filter((v) => WHO_MAY_RULES.has(v.rule));
  let targets = found.filter((v) => !WHO_MAY_RULES.has(v.rule));
  if (comparing) targets = addedViolations(targets, scope, rules);
  return decide([...who, ...whoFound, ...targets], findings.warnings, summary);
}

function decide(all: Violation[], warningsIn: string[], summary: DecisionSummary): Decision {
  const denying: Violation[] = [];
  const audited: Violation[] = [];
  const warnings = [...warningsIn];
  for (const v of sortByRule(listUnbuilt(all))) {
    if (summary.role === 'platform-admin' && !EVERY_REQUESTER_RULES.has(v.rule)) {
      audited.push(v);
    } else if (summary.enforcement !== 'enforce' && isRelaxable(v)) {
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
 * (selector, project, exec config...). On an UPDATE that changes nothing material it adds
 * only the tenant label (pinning the tenant of objects made before it was set), which
 * `evaluate` discounts when it judges the exemption. DELETE, CONNECT, UPDATEs of a
 * terminating object and what a system controller may do get nothing, and so does an object
 * whose tenant cannot be told.
 */
export function mutate(
  request: PolicyRequest,
  context: PolicyContext,
  table: KindRulesTable = KIND_RULES,
): MutationResult {
  const rules = table[request.kind];
  if (request.object === undefined || (request.operation !== 'CREATE' && request.operation !== 'UPDATE'))
    return { object: undefined, tenant: undefined };
  if (checkShape(request).length > 0 || isTerminatingUpdate(request))
    return { object: undefined, tenant: undefined };
  const { role } = classifyRequester(request, context.settings);
  if (role === 'system-controller') return { object: undefined, tenant: undefined };
  const tenant = judgedTenant(request, role, resolve(request, rules, context, role));
  if (tenant === undefined) return { object: undefined, tenant: undefined };
  // Copy on write: only what the mutation adds is copied, the rest stays the request's.
  const edit = editObject(request.object);
  const labels = writableLabels(edit);
  if (labels[context.settings.tenantLabel] === undefined) labels[context.settings.tenantLabel] = tenant.name;
  // Judged on the request as sent: a label a first /mutate pinned makes no change material.
  if (!isExemptUpdate(asSent(request, rules, context), role, rules, context))
    rules.mutate(edit, { request, tenant, role, context });
  return { object: edit.object, tenant: tenant.name };
}
