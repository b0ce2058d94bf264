/**
 * TG-AS-02: every `clusters` generator selects only the tenant's clusters, through the
 * tenant label that TG-CS-01 keeps on every cluster Secret. An empty selector selects every
 * cluster Argo CD knows, the control plane (`in-cluster`) included.
 * See https://argo-cd.readthedocs.io/en/stable/operator-manual/applicationset/Generators-Cluster/
 */
import { isPresent } from './applicationset-walk.js';
import { isTemplated, joinPath, show } from './object-paths.js';
import { isRecord } from '../json.js';
import type { Violation } from './types.js';
import { inEveryMode, violation, violationInEveryMode } from './types.js';
import type { ObjectEdit } from './object-edit.js';

/** `record[key]` when it is the record's own property (never an inherited one). */
function own(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * Adds `selector.matchLabels[label] = tenant` to one `clusters` generator body whenever
 * `matchLabels` lacks that key, whatever `matchExpressions` say (an `Exists` on the key
 * must not keep the selector wide in warn or audit mode; the check then denies what
 * contradicts the tenant). Never replaces a value of the wrong type.
 */
export function addTenantSelector(
  edit: ObjectEdit,
  clusters: Record<string, unknown>,
  label: string,
  tenant: string,
): void {
  const selector = edit.presentOrNew(clusters, 'selector');
  if (selector === undefined) return;
  const matchLabels = edit.presentOrNew(selector, 'matchLabels');
  if (matchLabels === undefined) return;
  if (!isPresent(own(matchLabels, label))) matchLabels[label] = tenant;
}

function notReadable(path: string, what: string): Violation {
  return violation('TG-REQ-01', path, `is not ${what}; the rules cannot read it`);
}

/** True for `In` with the tenant as its only value: as narrow as the matchLabels entry. */
function isTenantOnlyIn(expression: Record<string, unknown>, tenant: string): boolean {
  const values = expression.values;
  return (
    expression.operator === 'In' &&
    Array.isArray(values) &&
    values.length > 0 &&
    values.every((v: unknown) => v === tenant)
  );
}

/**
 * TG-AS-02 for one `clusters` generator body at `path` (`spec.generators[0].clusters`).
 * Satisfied by `matchLabels[label] == tenant` only (what `/mutate` adds, so `/validate`
 * checks it is there); a `matchExpressions` entry `In` with exactly the tenant is allowed
 * beside it. Denied: the key missing from `matchLabels`, or with another or a templated
 * value; any other expression on the key (`NotIn`, `Exists`, `DoesNotExist`, `In` with
 * other values); a templated key anywhere in the selector.
 */
export function checkClustersSelector(
  clusters: Record<string, unknown>,
  path: string,
  label: string,
  tenant: string,
): Violation[] {
  const out: Violation[] = [];
  const selectorPath = joinPath(path, 'selector');
  const wanted = `matchLabels[${JSON.stringify(label)}]: "${tenant}"`;
  const selector = clusters.selector;
  if (!isPresent(selector)) {
    return [
      violationInEveryMode(
        'TG-AS-02',
        selectorPath,
        `is missing; it must have ${wanted} (without it the generator selects every cluster, the control plane included)`,
      ),
    ];
  }
  if (!isRecord(selector)) return [notReadable(selectorPath, 'an object')];
  let satisfied = false;
  let named = false;

  const labelsPath = joinPath(selectorPath, 'matchLabels');
  const matchLabels = selector.matchLabels;
  if (isPresent(matchLabels) && !isRecord(matchLabels)) out.push(notReadable(labelsPath, 'a map of strings'));
  if (isRecord(matchLabels)) {
    for (const key of Object.keys(matchLabels)) {
      if (isTemplated(key))
        out.push(
          violationInEveryMode(
            'TG-AS-02',
            joinPath(labelsPath, key),
            'has a templated key; selector keys must be literal (a computed key could override the tenant label)',
          ),
        );
    }
    const value = own(matchLabels, label);
    if (value === tenant) satisfied = true;
    else if (isPresent(value)) {
      named = true;
      const why =
        typeof value === 'string' && isTemplated(value) ? 'is templated' : `is not the tenant "${tenant}"`;
      out.push(
        violation('TG-AS-02', joinPath(labelsPath, label), `${show(value)} ${why}; it must be "${tenant}"`),
      );
    }
  }

  const exprPath = joinPath(selectorPath, 'matchExpressions');
  const expressions = selector.matchExpressions;
  if (isPresent(expressions) && !Array.isArray(expressions)) out.push(notReadable(exprPath, 'a list'));
  if (Array.isArray(expressions)) {
    expressions.forEach((expression: unknown, i) => {
      const itemPath = joinPath(exprPath, i);
      if (!isRecord(expression)) {
        out.push(notReadable(itemPath, 'an object'));
        return;
      }
      const key = expression.key;
      if (typeof key === 'string' && isTemplated(key)) {
        out.push(
          violation(
            'TG-AS-02',
            joinPath(itemPath, 'key'),
            `${show(key)} is templated; selector keys must be literal`,
          ),
        );
        return;
      }
      if (key !== label) return;
      if (isTenantOnlyIn(expression, tenant)) return;
      named = true;
      out.push(
        violation(
          'TG-AS-02',
          itemPath,
          `${show(expression.operator)} ${show(expression.values)} on the tenant label says otherwise than ${wanted}, which every clusters generator carries; remove the expression`,
        ),
      );
    });
  }
  if (!satisfied && !named)
    out.push(violation('TG-AS-02', labelsPath, `has no ${JSON.stringify(label)}; it must have ${wanted}`));
  // The ApplicationSet controller lists the cluster Secrets a selector picks, before any
  // Application rule runs. Pinned by matchLabels[label] == tenant, every other term can only
  // narrow it (a selector is the AND of its terms), so a mode may relax what they say; not
  // pinned, the selector reaches other tenants' clusters in every mode (RELAXABLE_RULES).
  return satisfied ? out : out.map((v) => (v.rule === 'TG-AS-02' ? inEveryMode(v) : v));
}
