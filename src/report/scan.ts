/**
 * The background scan's judgement of one stored object, pure: the policy core evaluates it
 * as if a trusted service account created it now, under the current registry. What matters
 * is what the object targets (target, project, selector, label and Secret rules); the
 * ownership rules (TG-OWN-*) need a requester and are not judged, and no exemption for
 * unchanged objects applies. A finding that a tenant's `warn` or `audit` mode relaxes is a
 * `warn` result, every other finding `fail`, one result per rule (the first finding, and how
 * many the object holds); an object with no finding has one `pass`.
 */
import { evaluate, groupVersion, guardedKindOf } from '../policy/evaluate.js';
import { isRecord } from '../json.js';
import {
  formatViolation,
  type GuardedKind,
  type KubeObject,
  type PolicyContext,
  type Violation,
} from '../policy/types.js';
import { applicationSetControllerUser } from '../settings.js';

export type ScanResult = 'pass' | 'fail' | 'warn';

/** Which object a result is about. Never anything of a Secret's data. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

/** One result: an object and a rule (or, for `pass`, the object's whole rule family). */
export interface ScanFinding {
  readonly object: ObjectRef;
  readonly guardedKind: GuardedKind;
  /** The object's tenant, as the policy core resolved it; undefined for a platform object. */
  readonly tenant: string | undefined;
  /** A rule id (`TG-APP-02`), or for `pass` the kind's rule family (`TG-APP`). */
  readonly rule: string;
  readonly result: ScanResult;
  /** The denial line (`[TG-APP-02] spec.destination...`), or what passed. */
  readonly message: string;
  /** JSON path of the finding ('' for `pass`). */
  readonly path: string;
  /**
   * Findings of this rule in the object, when more than one: the result is the rule's, its
   * message and path the first finding's (`tenant-guard check` lists them all).
   */
  readonly findings?: number;
}

/** The rule family of each kind: a `pass` result's `rule`. */
export const RULE_FAMILY: Readonly<Record<GuardedKind, string>> = {
  ApplicationSet: 'TG-AS',
  Application: 'TG-APP',
  AppProject: 'TG-PRJ',
  ClusterSecret: 'TG-CS',
};

/** Where a rule is explained: its entry in docs/rules.md. */
export function ruleDocs(rule: string): string {
  return `docs/rules.md#${rule.toLowerCase()}`;
}

function text(object: KubeObject, key: string): string {
  const value = isRecord(object.metadata) ? object.metadata[key] : undefined;
  return typeof value === 'string' ? value : '';
}

/** The guarded kind of a stored object, or undefined for kinds tenant-guard does not judge. */
export function guardedKindOfObject(object: KubeObject): GuardedKind | undefined {
  if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') return undefined;
  return guardedKindOf({ ...groupVersion(object.apiVersion), kind: object.kind }, object, undefined);
}

/** A reference to `object` for a report. */
export function objectRef(object: KubeObject): ObjectRef {
  const uid = text(object, 'uid');
  return {
    apiVersion: String(object.apiVersion),
    kind: String(object.kind),
    namespace: text(object, 'namespace'),
    name: text(object, 'name'),
    ...(uid === '' ? {} : { uid }),
  };
}

/** The requester the scan evaluates as: the ApplicationSet controller, an unscoped trusted service account. */
function scanner(context: PolicyContext): { username: string; groups: readonly string[] } {
  const appset = applicationSetControllerUser(context.settings);
  const trusted =
    context.settings.trustedServiceAccounts.find((a) => a.username === appset && a.scope === undefined) ??
    context.settings.trustedServiceAccounts.find((a) => a.scope === undefined);
  return { username: trusted?.username ?? appset, groups: [] };
}

const isOwnershipRule = (v: Violation) => v.rule.startsWith('TG-OWN-');

/**
 * The results for one stored object, or undefined when its kind is not judged.
 */
export function scanObject(object: KubeObject, context: PolicyContext): ScanFinding[] | undefined {
  const guardedKind = guardedKindOfObject(object);
  if (guardedKind === undefined) return undefined;
  const ref = objectRef(object);
  const decision = evaluate(
    {
      uid: ref.uid ?? `${ref.namespace}/${ref.name}`,
      kind: guardedKind,
      operation: 'CREATE',
      namespace: ref.namespace,
      name: ref.name,
      object,
      user: scanner(context),
      dryRun: true,
    },
    context,
  );
  const tenant = decision.summary.tenant;
  // One result per rule: its first finding, and how many the object holds. An object can
  // hold thousands of findings of one rule (a warn-mode ApplicationSet's list of foreign
  // cluster names is one each), which as results made a report per thousand of them. So the
  // scan judges within the request's budget of findings (finding-budget.ts), as the webhook
  // does: past it a line counts the findings not built (`unlisted`).
  const perRule = (violations: readonly Violation[], result: ScanResult): ScanFinding[] => {
    const first = new Map<string, { v: Violation; count: number }>();
    for (const v of violations) {
      if (isOwnershipRule(v)) continue;
      const count = v.unlisted ?? 1;
      const seen = first.get(v.rule);
      if (seen === undefined) first.set(v.rule, { v, count });
      else seen.count += count;
    }
    return [...first.values()].map(({ v, count }) => ({
      object: ref,
      guardedKind,
      tenant,
      rule: v.rule,
      result,
      message: formatViolation(v),
      path: v.path,
      ...(count > 1 ? { findings: count } : {}),
    }));
  };
  const failing = decision.allowed ? [] : perRule(decision.violations, 'fail');
  // What the decision kept as audited is what the tenant's mode relaxed (the scanner is no
  // platform admin, so nothing is audited for a bypass).
  const warning = perRule(decision.audited, 'warn');
  const all = [...failing, ...warning];
  if (all.length > 0) return all;
  const family = RULE_FAMILY[guardedKind];
  return [
    {
      object: ref,
      guardedKind,
      tenant,
      rule: family,
      result: 'pass',
      message: `every ${family} rule passes`,
      path: '',
    },
  ];
}
