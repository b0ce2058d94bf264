/**
 * The plain data the policy core takes and returns. No I/O, no logger, no clock.
 */
import type { Settings } from '../settings.js';
import type { TenantRegistry } from '../tenancy/registry.js';
import type { EnforcementMode, Tenant } from '../tenancy/tenant.js';

/** Rule ids of SPEC sections 4 and 5, plus TG-REQ-01 for an object the rules cannot read. */
export type RuleId =
  | 'TG-OWN-01' | 'TG-OWN-02' | 'TG-OWN-03'
  | 'TG-AS-01' | 'TG-AS-02' | 'TG-AS-03' | 'TG-AS-04' | 'TG-AS-05' | 'TG-AS-06' | 'TG-AS-07' | 'TG-AS-08' | 'TG-AS-09'
  | 'TG-APP-01' | 'TG-APP-02'
  | 'TG-CS-01' | 'TG-CS-02' | 'TG-CS-03' | 'TG-CS-04' | 'TG-CS-05' | 'TG-CS-06' | 'TG-CS-07'
  | 'TG-PRJ-01'
  | 'TG-REQ-01';

/** The order of SPEC section 5, in which a denial lists its lines. */
export const RULE_ORDER: readonly RuleId[] = [
  'TG-REQ-01',
  'TG-OWN-01', 'TG-OWN-02', 'TG-OWN-03',
  'TG-AS-01', 'TG-AS-02', 'TG-AS-03', 'TG-AS-04', 'TG-AS-05', 'TG-AS-06', 'TG-AS-09', 'TG-AS-07', 'TG-AS-08',
  'TG-APP-01', 'TG-APP-02',
  'TG-CS-01', 'TG-CS-02', 'TG-CS-03', 'TG-CS-04', 'TG-CS-05', 'TG-CS-06', 'TG-CS-07',
  'TG-PRJ-01',
];

/** Rules that `warn` and `audit` relax (the ApplicationSet rules the Application rules back up). */
export const RELAXABLE_RULES: ReadonlySet<RuleId> = new Set<RuleId>(['TG-AS-01', 'TG-AS-02', 'TG-AS-03', 'TG-AS-04', 'TG-AS-06']);

/** Rules that hold for every requester, platform admins included. */
export const EVERY_REQUESTER_RULES: ReadonlySet<RuleId> = new Set<RuleId>(['TG-CS-02', 'TG-CS-04', 'TG-REQ-01']);

/**
 * One failing rule. `path` is the JSON path in dotted form with indexes
 * (`spec.generators[0].matrix.generators[1].clusters.selector`); `message` is the whole
 * line after the rule id: path, the value found, what is allowed. Never Secret data.
 */
export interface Violation {
  readonly rule: RuleId;
  readonly path: string;
  readonly message: string;
}

/** `[TG-APP-02] spec.destination.name "x" is not a cluster of tenant "a"; use one of: ...` */
export function formatViolation(v: Violation): string {
  return `[${v.rule}] ${v.message}`;
}

/** Builds a Violation whose message starts with the path. */
export function violation(rule: RuleId, path: string, detail: string): Violation {
  return { rule, path, message: `${path} ${detail}` };
}

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** The kinds the webhook handles. A Secret counts only when it is an Argo CD cluster Secret. */
export type GuardedKind = 'ApplicationSet' | 'Application' | 'AppProject' | 'ClusterSecret';

export interface UserInfo {
  readonly username: string;
  readonly groups: readonly string[];
  readonly uid?: string;
}

/** How the requester is treated (SPEC section 4, "who is who"). */
export type RequesterRole = 'platform-admin' | 'trusted-service-account' | 'human';

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
   * True when an UPDATE changes something the rules look at. An UPDATE that changes only
   * status, finalizers, annotations or `operation` is allowed without further checks.
   */
  hasMaterialChange(oldObject: KubeObject, newObject: KubeObject, context: PolicyContext): boolean;
  /**
   * Adds what is missing to `object` in place (the caller passes a clone and diffs it).
   * Never overwrites or removes a value. Called only when the tenant is known and the
   * operation is CREATE or UPDATE.
   */
  mutate(object: KubeObject, scope: RuleScope & { tenant: Tenant }): void;
  /**
   * Every violation of this kind's rules, for CREATE, UPDATE (object) and DELETE
   * (oldObject). Rules that the platform-admin bypass or a mode relaxes are still
   * reported here; `evaluate` decides what they do.
   */
  validate(scope: RuleScope): Findings;
}

/** The verdict of `/validate`. */
export type Decision =
  | { readonly allowed: true; readonly warnings: string[]; readonly audited: Violation[]; readonly summary: DecisionSummary }
  | { readonly allowed: false; readonly violations: Violation[]; readonly warnings: string[]; readonly audited: Violation[]; readonly summary: DecisionSummary };

/** Who and what a decision was about, for the audit record. */
export interface DecisionSummary {
  readonly tenant: string | undefined;
  readonly enforcement: EnforcementMode;
  readonly role: RequesterRole;
}
