/**
 * The plain data the policy core takes and returns. No I/O, no logger, no clock.
 */
import type { Settings } from '../settings.js';
import type { TenantRegistry } from '../tenancy/registry.js';
import type { EnforcementMode, Tenant } from '../tenancy/tenant.js';

import type { ObjectEdit } from './object-edit.js';
import type { RuleId } from './rule-catalogue.js';
import { cutText } from '../text-cut.js';
import { pastBudget, unbuiltFinding } from './finding-budget.js';

/** Rule ids and their order live in the rule catalogue (rule-catalogue.ts). */
export { RULE_ORDER, type RuleId } from './rule-catalogue.js';

/**
 * Rules that `warn` and `audit` relax: the ApplicationSet rules the Application rules back
 * up (SPEC section 5), for findings about fields only the generated Applications use. Not
 * TG-AS-06: a `templatePatch` could null the tenant label of the generated Applications,
 * which would then count as platform objects. Not the findings that reach past the tenant
 * where the ApplicationSet controller acts itself, before any Application exists
 * (`holdsInEveryMode`): a TG-AS-01 literal project that is not the tenant's, since a git
 * generator reads its repository with the credentials of `spec.template.spec.project`
 * (Argo CD's applicationset/generators/git.go), another tenant's project-scoped repository
 * Secret whatever project the generated Applications land in; and a TG-AS-02 selector not
 * pinned to the tenant by `matchLabels`, since the controller lists the cluster Secrets it
 * selects into the template's parameters (names, servers, labels, annotations). A red-team
 * review: a warn tenant's ApplicationSet, admitted with a warning, read team-b's private
 * repository into team-w's own cluster. One tenant's mode never weakens another's isolation.
 */
export const RELAXABLE_RULES: ReadonlySet<RuleId> = new Set<RuleId>([
  'TG-AS-01',
  'TG-AS-02',
  'TG-AS-03',
  'TG-AS-04',
]);

/**
 * Rules that judge who may make a change rather than what the object targets. Like the
 * ownership rules they hold on DELETE and are checked on the request as it is, never
 * compared with the old object (SPEC section 4). Kinds report them from `whoMay`; TG-CS-07
 * is reported by the cluster Secret's `validate` and is recognised by its id.
 */
export const WHO_MAY_RULES: ReadonlySet<RuleId> = new Set<RuleId>(['TG-CS-07']);

/**
 * Rules that hold for every requester, platform admins included. TG-CS-03 and TG-CS-05 are
 * reported only for a cluster Secret that calls the plugin (or runs what no exec profile
 * allows), where they hold for everyone.
 */
export const EVERY_REQUESTER_RULES: ReadonlySet<RuleId> = new Set<RuleId>([
  'TG-CS-02',
  'TG-CS-03',
  'TG-CS-04',
  'TG-CS-05',
  'TG-CS-08',
  'TG-REQ-01',
]);

/**
 * One failing rule. `path` is the JSON path in dotted form with indexes
 * (`spec.generators[0].matrix.generators[1].clusters.selector`); `message` is the whole
 * line after the rule id: path, the value found, what is allowed. Never Secret data.
 */
export interface Violation {
  readonly rule: RuleId;
  readonly path: string;
  readonly message: string;
  /**
   * Set on a finding of a relaxable rule that crosses into what is not the tenant's where
   * Argo CD acts on it before any Application rule can (see RELAXABLE_RULES): no mode
   * relaxes it. Absent on every other finding.
   */
  readonly holdsInEveryMode?: true;
  /**
   * Set on a stand-in for a finding past the request's budget of its rule
   * (finding-budget.ts): its rule and class count, it has no path or message. `evaluate`
   * never returns one.
   */
  readonly unbuilt?: true;
  /**
   * Set on the line `evaluate` writes for the findings of one rule and class past the
   * budget: how many findings it stands for (its message says so).
   */
  readonly unlisted?: number;
}

/** `[TG-APP-02] spec.destination.name "x" is not a cluster of tenant "a"; use one of: ...` */
export function formatViolation(v: Violation): string {
  return `[${v.rule}] ${v.message}`;
}

/**
 * Longest path, and longest detail, a finding keeps (characters); the rest is cut, saying how
 * much. Every finding is made here, so no finding can carry a path of megabytes into the
 * answer, the audit record or a comparison, whatever built it (a red-team review crashed the
 * process with 5,889 duplicate keys under one 30,000-character key of a cluster Secret's
 * config: 176 MB of paths). A cut path does not parse back, which the callers that read a
 * path back treat as changed (fail closed).
 */
export const MAX_FINDING_PATH_CHARS = 1_000;
export const MAX_FINDING_DETAIL_CHARS = 2_000;

/**
 * Builds a Violation whose message starts with the path. Past the request's budget of
 * findings of `rule` (finding-budget.ts) it is a stand-in with neither: a rule that finds
 * in a loop passes `detail` as a function, which is then never called.
 */
export function violation(rule: RuleId, path: string, detail: string | (() => string)): Violation {
  if (pastBudget(rule)) return unbuiltFinding(rule, false);
  const kept = cutText(path, MAX_FINDING_PATH_CHARS);
  const text = typeof detail === 'string' ? detail : detail();
  return { rule, path: kept, message: `${kept} ${cutText(text, MAX_FINDING_DETAIL_CHARS)}` };
}

/** A Violation no mode relaxes (`holdsInEveryMode`), whatever its rule. */
export function violationInEveryMode(rule: RuleId, path: string, detail: string | (() => string)): Violation {
  return inEveryMode(violation(rule, path, detail));
}

/** `v`, held in every mode. */
export function inEveryMode(v: Violation): Violation {
  if (v.holdsInEveryMode === true) return v;
  return v.unbuilt === true ? unbuiltFinding(v.rule, true) : { ...v, holdsInEveryMode: true };
}

/** True when `warn` and `audit` relax this finding: a relaxable rule, not held in every mode. */
export function isRelaxable(v: Violation): boolean {
  return RELAXABLE_RULES.has(v.rule) && v.holdsInEveryMode !== true;
}

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** The kinds the webhook handles. A Secret counts only when it is an Argo CD cluster Secret. */
export type GuardedKind = 'ApplicationSet' | 'Application' | 'AppProject' | 'ClusterSecret';

export interface UserInfo {
  readonly username: string;
  readonly groups: readonly string[];
  readonly uid?: string;
}

/**
 * How the requester is treated (SPEC section 4, "who is who"). A `system-controller` is
 * only ever the role of a request within what system controllers may do (DELETE, or an
 * UPDATE that only removes finalizers or ownerReferences); kinds' rules never see it.
 */
export type RequesterRole = 'platform-admin' | 'trusted-service-account' | 'system-controller' | 'human';

/** A Kubernetes object as JSON. Read it through the helpers in `object-paths.ts`. */
export type KubeObject = Record<string, unknown>;

/** What the adapter hands the policy core: an AdmissionRequest already narrowed. */
export interface PolicyRequest {
  readonly uid: string;
  readonly kind: GuardedKind;
  readonly operation: Operation;
  /** '' for cluster-scoped objects. */
  readonly namespace: string;
  readonly name: string;
  /** Absent on DELETE. */
  readonly object?: KubeObject;
  /** Present on UPDATE and DELETE. */
  readonly oldObject?: KubeObject;
  /**
   * True when `oldObject` is past a size limit `object` is held to (stored under higher
   * limits, or sent by hand): the policy then reads nothing of it that costs its size, and
   * an UPDATE of a terminating object is judged as the new object stands.
   */
  readonly oldObjectBeyondLimits?: boolean;
  readonly user: UserInfo;
  readonly dryRun: boolean;
}

export interface PolicyContext {
  readonly registry: TenantRegistry;
  readonly settings: Settings;
}

/**
 * What the rules of one kind see: the request, the owning tenant as resolved by
 * SPEC section 4 (undefined: a platform object), and who asks.
 */
export interface RuleScope {
  readonly request: PolicyRequest;
  readonly tenant: Tenant | undefined;
  readonly role: RequesterRole;
  readonly context: PolicyContext;
}

/** What a kind's rules found: violations, and admission warnings that deny nothing. */
export interface Findings {
  readonly violations: Violation[];
  readonly warnings: string[];
}

/**
 * The rules of one kind. Each kind module exports one of these; `evaluate` does the
 * ownership rules (TG-OWN), the modes, the platform-admin bypass and the ordering.
 */
export interface KindRules {
  readonly kind: GuardedKind;
  /** The tenant that what the object names points at (SPEC section 4 step 3), if any. */
  namedTenant(object: KubeObject, context: PolicyContext): Tenant | undefined;
  /**
   * True when an UPDATE changes something of this kind the rules look at beyond what
   * `evaluate` already counts as material for every kind (`spec`, labels, ownerReferences,
   * a non-null `operation`). An UPDATE that changes nothing material skips the target and
   * project rules (`validate`), never the ownership rules nor `whoMay`.
   */
  hasMaterialChange(oldObject: KubeObject, newObject: KubeObject, context: PolicyContext): boolean;
  /**
   * Adds what is missing to `edit.object`, writing only through `edit` (copy on write: the
   * request's object is never written; the caller diffs it with the edited one). Never
   * overwrites or removes a value. Called only when the tenant is known and the operation
   * is CREATE or UPDATE.
   */
  mutate(edit: ObjectEdit, scope: RuleScope & { tenant: Tenant }): void;
  /**
   * Every violation of this kind's rules, for CREATE, UPDATE (object) and DELETE
   * (oldObject). Rules that the platform-admin bypass or a mode relaxes are still
   * reported here; `evaluate` decides what they do.
   */
  validate(scope: RuleScope): Findings;
  /**
   * Optional: the kind's rules on who may make the change (TG-APP-03, the who-may clauses
   * of TG-PRJ-01/02). Run for every CREATE, UPDATE and DELETE, exempt or not, on the
   * request as it is; the platform-admin bypass is applied by `evaluate`.
   */
  whoMay?(scope: RuleScope): Violation[];
  /**
   * Optional: true when the object's tenant is only ever what it names (SPEC section 5:
   * an AppProject's tenant is the tenant listing it), never its namespace, its tenant
   * label or the requester's groups. A tenant label that disagrees is TG-OWN-01.
   */
  readonly tenantIsNamedOnly?: boolean;
}

/** The verdict of `/validate`. */
export type Decision =
  | {
      readonly allowed: true;
      readonly warnings: string[];
      readonly audited: Violation[];
      readonly summary: DecisionSummary;
    }
  | {
      readonly allowed: false;
      readonly violations: Violation[];
      readonly warnings: string[];
      readonly audited: Violation[];
      readonly summary: DecisionSummary;
    };

/** Who and what a decision was about, for the audit record. */
export interface DecisionSummary {
  readonly tenant: string | undefined;
  readonly enforcement: EnforcementMode;
  readonly role: RequesterRole;
}
