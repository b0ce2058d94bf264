/**
 * The docs' tables of what the install grants and spares, against the built install (review
 * s12d F-E): the RBAC table of docs/requirements.md lists every rule of every Role and
 * ClusterRole bound to a tenant-guard service account, and nothing else; the matchConditions
 * table of docs/install.md, and docs/requirements.md, name every condition of the webhook
 * configurations and every account and label key it spares. A right added to rbac.yaml, or a
 * condition changed, without its row fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { kustomizeBuild, type KubeObject } from './manifest-checks.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const doc = (name: string): string => readFileSync(join(root, 'docs', name), 'utf8');

/** The text of a `## heading` section (to the next `## `). */
export function section(text: string, heading: string): string {
  const start = text.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `a section "## ${heading}"`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** The markdown tables in `text`, each its body rows (header and separator left out), each a list of cells. */
export function tables(text: string): string[][][] {
  const found: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) {
      current = undefined;
      continue;
    }
    if (current === undefined) {
      current = [];
      found.push(current); // this line is the header
      continue;
    }
    if (/^\|[-| :]+\|$/.test(line)) continue;
    current.push(
      line
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    );
  }
  return found;
}

/** The body rows of every table in `text`. */
export const tableRows = (text: string): string[][] => tables(text).flat();

/** The words in backticks of a cell, sorted. */
const ticked = (cell: string): string[] => [...cell.matchAll(/`([^`]*)`/g)].map((m) => m[1] ?? '').sort();

/** The "API group" of a rule of non-resource URLs (`/openid/v1/jwks`), as the table writes it. */
const NON_RESOURCE = 'non-resource URLs';

/** One granted rule, as a comparable line: who, where, group, resources, verbs, names. */
function grantLine(
  who: string,
  where: string,
  group: string,
  resources: string[],
  verbs: string[],
  names: string[],
): string {
  return [
    who,
    where,
    group,
    [...resources].sort().join(','),
    [...verbs].sort().join(','),
    [...names].sort().join(','),
  ].join(' | ');
}

/** Every rule bound to a service account of `namespace` in `objects`. */
export function grantsOf(objects: readonly KubeObject[], namespace = 'tenant-guard'): string[] {
  const lines: string[] = [];
  for (const binding of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const roleKind = binding.roleRef.kind as string;
    const role = objects.find(
      (o) =>
        o.kind === roleKind &&
        o.metadata.name === binding.roleRef.name &&
        (roleKind === 'ClusterRole' || o.metadata.namespace === binding.metadata.namespace),
    );
    assert.ok(role !== undefined, `${binding.kind}/${binding.metadata.name}: its role is in the build`);
    const where =
      binding.kind === 'ClusterRoleBinding' ? 'cluster' : `namespace ${binding.metadata.namespace}`;
    for (const subject of binding.subjects as { kind: string; name: string; namespace?: string }[]) {
      if (subject.kind !== 'ServiceAccount' || subject.namespace !== namespace) continue;
      for (const rule of role.rules as {
        apiGroups?: string[];
        resources?: string[];
        nonResourceURLs?: string[];
        verbs: string[];
        resourceNames?: string[];
      }[]) {
        if (rule.nonResourceURLs !== undefined)
          lines.push(grantLine(subject.name, where, NON_RESOURCE, rule.nonResourceURLs, rule.verbs, []));
        for (const group of rule.apiGroups ?? [])
          lines.push(
            grantLine(
              subject.name,
              where,
              group === '' ? 'core' : group,
              rule.resources ?? [],
              rule.verbs,
              rule.resourceNames ?? [],
            ),
          );
      }
    }
  }
  return lines.sort();
}

/** The rows of RBAC tables as grant lines. */
export function documentedGrants(rows: readonly string[][]): string[] {
  return rows
    .map((cells) => {
      const [who = '', where = '', group = '', resources = '', verbs = '', names = ''] = cells;
      const place = where === 'cluster' ? 'cluster' : `namespace ${ticked(where)[0] ?? where}`;
      return grantLine(
        ticked(who)[0] ?? who,
        place,
        group === 'core' ? 'core' : (ticked(group)[0] ?? group),
        ticked(resources),
        ticked(verbs),
        ticked(names),
      );
    })
    .sort();
}

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'PriorityClass',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
]);

/** `Kind/namespace/name` of built objects (namespace `-` for cluster-scoped ones). */
const objectLines = (objects: readonly KubeObject[]): string[] =>
  objects.map((o) => `${o.kind}/${o.metadata.namespace ?? '-'}/${o.metadata.name}`).sort();

/** The same of object-table rows: Kind (comma-separated), Name (backticked, several), Namespace. */
function documentedObjects(rows: readonly string[][]): string[] {
  return rows
    .flatMap(([kinds = '', names = '', namespace = '']) =>
      kinds.split(',').flatMap((kind) =>
        ticked(names).map((name) => {
          const k = kind.trim();
          return `${k}/${CLUSTER_SCOPED.has(k) ? '-' : (ticked(namespace)[0] ?? '-')}/${name}`;
        }),
      ),
    )
    .sort();
}

describe('install tables: docs against the built install', () => {
  const base = kustomizeBuild(join(root, 'webhook-config'));
  const webhookConfigs = kustomizeBuild(join(root, 'webhook-config', 'webhooks'));
  const withReporter = kustomizeBuild(join(root, 'webhook-config', 'overlays', 'reporter'));
  const rbacTables = () => tables(section(doc('requirements.md'), 'RBAC of tenant-guard itself'));

  test("requirements.md's RBAC tables: every rule the default install grants, then the reporter's, and nothing else", () => {
    const [defaults = [], reporter = []] = rbacTables();
    assert.ok(defaults.length >= 7 && reporter.length >= 5);
    assert.deepEqual(documentedGrants(defaults), grantsOf(base));
    assert.deepEqual(documentedGrants([...defaults, ...reporter]), grantsOf(withReporter));
  });

  test('the RBAC check fails on a right the table does not list', () => {
    const more = structuredClone(base);
    const broker = more.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'tenant-guard-broker');
    assert.ok(broker !== undefined);
    broker.rules.push({ apiGroups: [''], resources: ['secrets'], verbs: ['get'] });
    assert.notDeepEqual(documentedGrants(rbacTables()[0] ?? []), grantsOf(more));
  });

  test("install.md's object tables: every object of the default install, then the reporter overlay's, and nothing else", () => {
    const [defaults = [], reporter = []] = tables(doc('install.md').split('\nLayout,')[0] ?? '');
    assert.deepEqual(documentedObjects(defaults), objectLines([...base, ...webhookConfigs]));
    assert.deepEqual(
      documentedObjects(reporter),
      objectLines(withReporter).filter((line) => !objectLines(base).includes(line)),
    );
  });

  test("every matchCondition is in install.md's table and requirements.md, with each account and label key it spares", () => {
    const webhooks = kustomizeBuild(join(root, 'webhook-config', 'webhooks')).flatMap(
      (o) => o.webhooks as { matchConditions?: { name: string; expression: string }[] }[],
    );
    const conditions = new Map<string, string>();
    for (const w of webhooks) for (const c of w.matchConditions ?? []) conditions.set(c.name, c.expression);
    assert.equal(conditions.size, 3);
    const installRows = tableRows(
      section(doc('install.md'), 'What never reaches the webhook (matchConditions)'),
    );
    assert.deepEqual(installRows.map((r) => ticked(r[0] ?? '')[0]).sort(), [...conditions.keys()].sort());
    const spares = section(doc('requirements.md'), 'What the webhook configurations spare');
    for (const [name, expression] of conditions) {
      const row = (installRows.find((r) => ticked(r[0] ?? '')[0] === name) ?? []).join(' ');
      assert.ok(spares.includes(`\`${name}\``), `requirements.md names ${name}`);
      // The quoted literals: user names (their last part) and the tenant label key.
      for (const literal of expression.matchAll(
        /'((?:system:serviceaccount:[^']+)|(?:[a-z0-9.-]+\/[a-z0-9.-]+))'/g,
      )) {
        const value = literal[1] ?? '';
        const word = value.startsWith('system:serviceaccount:') ? (value.split(':').pop() ?? value) : value;
        assert.ok(row.includes(word), `install.md's row of ${name} names ${word}`);
        if (value.startsWith('system:serviceaccount:'))
          assert.ok(spares.includes(word), `requirements.md's section names ${word}`);
      }
    }
  });
});
