/**
 * The size of one Tenant is bounded by its schema (a red-team review, F6: ~80 schema-valid
 * Tenants of 1 MiB each, clusters unbounded, filled the heap). Everything here is read from
 * tenant-schema.ts itself, so a list or string added without a bound, or a bound raised past
 * the budget, fails a test.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTenantGuardError } from '../../src/errors.js';
import { isRecord } from '../../src/json.js';
import { formatCount } from '../../src/tenancy/verdict-message.js';
import { parseTenant } from '../../src/tenancy/tenant.js';
import { MAX_TENANT_JSON_BYTES, tenantSchema } from '../../src/tenancy/tenant-schema.js';

type Schema = Record<string, unknown>;

/** Every (path, schema) of the schema tree; `[]` marks a list's items. */
function walk(schema: Schema, path: string, out: Array<[string, Schema]> = []): Array<[string, Schema]> {
  out.push([path, schema]);
  if (isRecord(schema.items)) walk(schema.items, `${path}[]`, out);
  if (isRecord(schema.properties))
    for (const [key, child] of Object.entries(schema.properties))
      if (isRecord(child)) walk(child, path === '' ? key : `${path}.${key}`, out);
  return out;
}

/** The largest document the schema admits: every list full, every string at its maxLength. */
function largest(schema: Schema): unknown {
  switch (schema.type) {
    case 'string':
      return Array.isArray(schema.enum)
        ? schema.enum.reduce((a: string, b: string) => (b.length > a.length ? b : a), '')
        : 'x'.repeat(Number(schema.maxLength ?? 0));
    case 'integer':
      return Number(schema.maximum ?? Number.MAX_SAFE_INTEGER);
    case 'boolean':
      return false;
    case 'array':
      return Array.from({ length: Number(schema.maxItems) }, () => largest(schema.items as Schema));
    default: {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, Schema>))
        out[key] = largest(child);
      return out;
    }
  }
}

const nodes = walk(tenantSchema as unknown as Schema, '');
// apiVersion and kind are fixed values (the API server sets them; parseTenant requires them).
const FIXED = new Set(['apiVersion', 'kind']);

describe('one Tenant is bounded by its schema', () => {
  test('every list has a maxItems and every string a maxLength (or an enum)', () => {
    const lists = nodes.filter(([, s]) => s.type === 'array');
    assert.ok(lists.length >= 9, 'the walk reaches every list');
    assert.deepEqual(
      lists.filter(([, s]) => typeof s.maxItems !== 'number').map(([p]) => p),
      [],
      'lists without maxItems',
    );
    assert.deepEqual(
      nodes
        .filter(([p, s]) => s.type === 'string' && !FIXED.has(p))
        .filter(([, s]) => typeof s.maxLength !== 'number' && !Array.isArray(s.enum))
        .map(([p]) => p),
      [],
      'strings without maxLength',
    );
  });

  test("the largest Tenant the schema admits is within the budget, half of etcd's 1.5 MiB", () => {
    const bytes = Buffer.byteLength(JSON.stringify(largest(tenantSchema as unknown as Schema)));
    assert.ok(MAX_TENANT_JSON_BYTES <= (1.5 * 1024 * 1024) / 2);
    assert.ok(bytes <= MAX_TENANT_JSON_BYTES, `${formatCount(bytes)} bytes`);
    assert.ok(
      bytes > MAX_TENANT_JSON_BYTES / 2,
      `${formatCount(bytes)} bytes: the measure builds full lists`,
    );
  });
});

describe('a Tenant past a list bound is refused by the registry, naming the field and the bound', () => {
  const base = (): Record<string, any> => ({
    apiVersion: 'tenantguard.dev/v1alpha1',
    kind: 'Tenant',
    metadata: { name: 'team-a' },
    spec: {
      owners: { groups: ['team-a-admins'], users: [] },
      namespaces: ['team-a'],
      projects: ['team-a'],
      allowedCallers: [],
      clusters: [{ name: 'k8s-a-0', server: 'https://a-0.example.com', groups: [], allowedCallers: [] }],
    },
  });
  // A valid, distinct entry for each list of the spec.
  const entry = (path: string, i: number): unknown =>
    path === 'spec.clusters' ? { name: `k8s-a-${i}`, server: `https://a-${i}.example.com` } : `v${i}`;
  const specLists = nodes.filter(([p, s]) => s.type === 'array' && p.startsWith('spec.'));

  test('the lists of the spec are the ones named here', () => {
    assert.deepEqual(specLists.map(([p]) => p).sort(), [
      'spec.allowedCallers',
      'spec.clusters',
      'spec.clusters[].allowedCallers',
      'spec.clusters[].groups',
      'spec.namespaces',
      'spec.owners.groups',
      'spec.owners.users',
      'spec.projects',
      'spec.sourceRepos',
    ]);
  });

  for (const [path, schema] of specLists) {
    const limit = Number(schema.maxItems);
    test(`${path}: ${limit} entries are accepted, ${limit + 1} refused`, () => {
      for (const n of [limit, limit + 1]) {
        const doc = base();
        const field = path.replace('[]', '[0]');
        const keys = path.replace('[]', '.0').split('.');
        const parent = keys.slice(0, -1).reduce((o: any, k) => o[k], doc);
        parent[keys[keys.length - 1] as string] = Array.from({ length: n }, (_, i) => entry(path, i));
        const parse = () => parseTenant(doc, { source: 'test', argocdNamespace: 'argocd' });
        if (n === limit) {
          assert.equal(parse().name, 'team-a');
          continue;
        }
        assert.throws(parse, (err: unknown) => {
          assert.ok(isTenantGuardError(err, 'ERR_TENANT_INVALID'));
          assert.ok(
            err.message.includes(
              `${field}: ${formatCount(n)} entries; at most ${formatCount(limit)} are allowed`,
            ),
            err.message,
          );
          return true;
        });
      }
    });
  }
});
