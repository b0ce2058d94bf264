/**
 * SPEC section 2, one case per invalid input: each fixture under
 * test/fixtures/tenants/invalid/ is a tenants file that the registry must refuse, with its
 * expected error code and message lines in its header comments:
 *
 *   # code: ERR_TENANT_INVALID | ERR_TENANT_CONFLICT
 *   # schema: refused | accepted      (whether the CRD's schema alone refuses it)
 *   # error: <text the message must contain>   (one or more)
 *
 * `schema: accepted` pins that the check lives in the registry code (the API server lets
 * the Tenant in, the watch marks it not accepted); `schema: refused` pins that the CRD
 * refuses it at `kubectl apply`. Deleting any one check changes a message and fails a case.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { isTenantGuardError } from '../../src/errors.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { buildRegistry } from '../../src/tenancy/registry.js';
import { buildWithLastAccepted } from '../../src/tenancy/registry-continuity.js';
import { parseTenant } from '../../src/tenancy/tenant.js';
import { tenantSchema } from '../../src/tenancy/tenant-schema.js';

const DIR = 'test/fixtures/tenants/invalid';
const ARGOCD_NAMESPACE = 'argocd';

interface Fixture {
  name: string;
  text: string;
  code: string;
  schema: 'refused' | 'accepted';
  errors: string[];
}

function loadFixture(file: string): Fixture {
  const text = readFileSync(join(DIR, file), 'utf8');
  const header = (key: string): string[] =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`# ${key}: `))
      .map((l) => l.slice(key.length + 4));
  const [code] = header('code');
  const [schema] = header('schema');
  assert.ok(
    code !== undefined && (schema === 'refused' || schema === 'accepted'),
    `${file}: header needs code and schema`,
  );
  const errors = header('error');
  assert.ok(errors.length > 0, `${file}: header needs an error line`);
  return { name: file.replace(/\.yaml$/, ''), text, code, schema, errors };
}

const validate = new Ajv({ allErrors: true, strict: false }).compile(tenantSchema);
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map(loadFixture)
  .sort((a, b) => (a.name < b.name ? -1 : 1));

describe('Tenant registry validation (SPEC section 2), from YAML fixtures', () => {
  test('every input section 2, issues 8, 10 and 15 and the list bounds name has its fixture', () => {
    assert.deepEqual(
      fixtures.map((f) => f.name),
      [
        'argocd-namespace',
        'audience-default-twice',
        'audience-explicit-twice',
        'audience-twice-in-tenant',
        'ca-data-too-long',
        'cluster-groups-too-many',
        'cluster-name-too-long',
        'cluster-name-twice',
        'cluster-name-twice-in-tenant',
        'clusters-too-many',
        'control-plane-server',
        'control-plane-server-long',
        'enforcement-unknown',
        'in-cluster-name',
        'namespace-twice',
        'namespaces-too-many',
        'nested-too-deep',
        'owner-groups-too-many',
        'project-default',
        'project-twice',
        'server-encoded-slash',
        'server-fragment',
        'server-loopback',
        'server-not-https',
        'server-query',
        'server-twice',
        'server-twice-encoded',
        'server-twice-in-tenant',
        'server-userinfo',
        'subject-twice',
        'subject-twice-in-tenant',
        'tenant-name-not-dns',
        'tenant-name-too-long',
        'tenant-twice',
        'ttl-too-long',
        'ttl-too-short',
        'unknown-cluster-field',
        'unknown-top-level-field',
      ],
    );
  });

  for (const f of fixtures) {
    test(`${f.name}: refused with ${f.code}`, () => {
      assert.throws(
        () => parseTenantsYaml(f.text, `${f.name}.yaml`, ARGOCD_NAMESPACE),
        (err: unknown) => {
          assert.ok(isTenantGuardError(err), String(err));
          assert.equal(err.code, f.code, err.message);
          for (const line of f.errors)
            assert.ok(err.message.includes(line), `message:\n  ${err.message}\nlacks:\n  ${line}`);
          assert.ok(err.message.startsWith(`${f.name}.yaml`), 'the message names the file');
          return true;
        },
      );
    });

    test(`${f.name}: the CRD schema alone ${f.schema === 'refused' ? 'refuses' : 'accepts'} it`, () => {
      const docs = parseAllDocuments(f.text).map((d) => d.toJS() as unknown);
      const refused = docs.some((d) => !validate(d));
      assert.equal(refused, f.schema === 'refused', JSON.stringify(validate.errors));
    });
  }

  test('the valid fixtures of the suite load', () => {
    for (const file of ['two-teams.yaml', 'dev-only.yaml', 'prod-ca.yaml']) {
      const registry = parseTenantsYaml(
        readFileSync(join('test/fixtures/tenants', file), 'utf8'),
        file,
        ARGOCD_NAMESPACE,
      );
      assert.ok(registry.size > 0, file);
    }
  });
});

function tenant(
  name: string,
  created: string,
  cluster: Record<string, unknown>,
): ReturnType<typeof parseTenant> {
  const doc = {
    apiVersion: 'tenantguard.dev/v1alpha1',
    kind: 'Tenant',
    metadata: { name, creationTimestamp: created },
    spec: {
      owners: { groups: [`${name}-admins`] },
      namespaces: [name],
      projects: [name],
      clusters: [cluster],
    },
  };
  return parseTenant(doc, { source: 'test', argocdNamespace: ARGOCD_NAMESPACE });
}

describe('buildRegistry: watched Tenants contesting a claim', () => {
  const claims: Array<{
    name: string;
    older: Record<string, unknown>;
    newer: Record<string, unknown>;
    reason: string;
    message: RegExp;
  }> = [
    {
      name: 'audience',
      older: { name: 'a-dev', server: 'https://a.example.com' },
      newer: { name: 'b-dev', server: 'https://b.example.com', audience: 'a-dev' },
      reason: 'AudienceConflict',
      message: /^spec\.clusters\[0\]\.audience: audience "a-dev" is already claimed by tenant "older"/,
    },
    {
      name: 'subject',
      older: { name: 'a-dev', server: 'https://a.example.com', subject: 'shared' },
      newer: { name: 'b-dev', server: 'https://b.example.com', subject: 'shared' },
      reason: 'SubjectConflict',
      message: /^spec\.clusters\[0\]\.subject: subject "shared" is already claimed by tenant "older"/,
    },
    {
      name: 'server',
      older: { name: 'a-dev', server: 'https://a.example.com' },
      newer: { name: 'b-dev', server: 'https://A.example.com/' },
      reason: 'ClusterServerConflict',
      message:
        /^spec\.clusters\[0\]\.server: server "https:\/\/A\.example\.com\/" is already claimed by tenant "older"/,
    },
  ];
  for (const c of claims) {
    test(`${c.name}: the Tenant created first keeps it, whatever the order given`, () => {
      const older = tenant('older', '2025-01-01T00:00:00Z', c.older);
      const newer = tenant('newer', '2025-01-02T00:00:00Z', c.newer);
      for (const order of [
        [older, newer],
        [newer, older],
      ]) {
        const { registry, rejections } = buildRegistry(order);
        assert.deepEqual(
          registry.tenants.map((t) => t.name),
          ['older'],
        );
        assert.equal(rejections.length, 1);
        assert.equal(rejections[0]?.tenant, 'newer');
        assert.equal(rejections[0]?.reason, c.reason);
        assert.match(rejections[0]?.message ?? '', c.message);
      }
    });
  }

  test('every lost claim is named, not only the first', () => {
    const older = tenant('older', '2025-01-01T00:00:00Z', {
      name: 'a-dev',
      server: 'https://a.example.com',
      subject: 's',
    });
    const newer = tenant('newer', '2025-01-02T00:00:00Z', {
      name: 'b-dev',
      server: 'https://a.example.com',
      audience: 'a-dev',
      subject: 's',
    });
    const { rejections } = buildRegistry([older, newer]);
    assert.equal(rejections[0]?.reason, 'ClusterServerConflict', 'the first conflict gives the reason');
    assert.deepEqual(
      (rejections[0]?.message ?? '')
        .split('; ')
        .filter((p) => p.startsWith('spec.'))
        .map((p) => p.split(':')[0]),
      ['spec.clusters[0].server', 'spec.clusters[0].audience', 'spec.clusters[0].subject'],
    );
  });
});

describe('buildWithLastAccepted: a refused edit changes nothing', () => {
  // Found by a red-team review: an edit of an older Tenant that the registry refuses dropped
  // it whole, and a newer Tenant rejected for listing its cluster was accepted instead: the
  // cluster then resolved to the newer Tenant's server.
  const A = { name: 'k8s-a-dev', server: 'https://a.example.com' };
  const taker = tenant('taker', '2026-01-02T00:00:00Z', {
    name: 'k8s-a-dev',
    server: 'https://evil.example.com',
  });
  const before = buildRegistry([tenant('owner', '2026-01-01T00:00:00Z', A), taker]);

  test('an accepted Tenant whose new version is invalid keeps its last accepted one', () => {
    assert.equal(before.registry.clusterByName('k8s-a-dev')?.tenant.name, 'owner');
    const after = buildWithLastAccepted(
      [taker],
      new Map([['owner', 'spec.projects: invalid']]),
      before.registry,
    );
    assert.equal(after.registry.clusterByName('k8s-a-dev')?.tenant.name, 'owner');
    assert.equal(after.registry.clusterByName('k8s-a-dev')?.cluster.server, 'https://a.example.com');
    assert.deepEqual(
      after.rejections.map((r) => [r.tenant, r.reason]),
      [['taker', 'ClusterNameConflict']],
    );
    // Without the last registry (the first sync) there is nothing to keep.
    const fresh = buildWithLastAccepted([taker], new Map([['owner', 'x']]), undefined);
    assert.equal(fresh.registry.clusterByName('k8s-a-dev')?.tenant.name, 'taker');
  });

  test('an accepted Tenant whose new version is rejected keeps its last accepted one; the status says why', () => {
    const oldest = tenant('oldest', '2025-12-31T00:00:00Z', {
      name: 'k8s-z',
      server: 'https://z.example.com',
    });
    const seeded = buildRegistry([oldest, tenant('owner', '2026-01-01T00:00:00Z', A), taker]);
    // owner's edit lists a cluster of an older Tenant: its new version is rejected.
    const edited = parseTenant(
      {
        apiVersion: 'tenantguard.dev/v1alpha1',
        kind: 'Tenant',
        metadata: { name: 'owner', creationTimestamp: '2026-01-01T00:00:00Z' },
        spec: {
          owners: { groups: ['owner-admins'] },
          namespaces: ['owner'],
          projects: ['owner'],
          clusters: [A, { name: 'k8s-z', server: 'https://z.example.com' }],
        },
      },
      { source: 'test', argocdNamespace: ARGOCD_NAMESPACE },
    );
    const after = buildWithLastAccepted([oldest, edited, taker], new Map(), seeded.registry);
    assert.equal(after.registry.clusterByName('k8s-a-dev')?.tenant.name, 'owner');
    assert.equal(after.registry.tenant('owner')?.clusters.length, 1, 'its last accepted version');
    assert.deepEqual(after.rejections.map((r) => r.tenant).sort(), ['owner', 'taker']);
  });

  test('of two created in the same second, the one already accepted keeps its claim', () => {
    const holder = tenant('team-b', '2026-01-01T10:00:00Z', {
      name: 'k8s-b',
      server: 'https://b.example.com',
    });
    const seeded = buildRegistry([holder]);
    const newcomer = tenant('aaa', '2026-01-01T10:00:00Z', {
      name: 'k8s-b',
      server: 'https://b.example.com',
    });
    const after = buildWithLastAccepted([newcomer, holder], new Map(), seeded.registry);
    assert.equal(after.registry.clusterByName('k8s-b')?.tenant.name, 'team-b');
    assert.deepEqual(
      after.rejections.map((r) => r.tenant),
      ['aaa'],
    );
    // With no Tenant accepted before, the name decides, as it always has.
    assert.equal(buildRegistry([newcomer, holder]).registry.clusterByName('k8s-b')?.tenant.name, 'aaa');
  });
});

describe('buildWithLastAccepted: a claim moves only when its holder lets go (red-team bypasses)', () => {
  const T = (name: string, created: string, namespaces: string[], projects: string[], clusters: string[]) =>
    parseTenant(
      {
        apiVersion: 'tenantguard.dev/v1alpha1',
        kind: 'Tenant',
        metadata: { name, creationTimestamp: created },
        spec: {
          owners: { groups: [`${name}-admins`] },
          namespaces,
          projects,
          clusters: clusters.map((c) => ({ name: `k8s-${c}`, server: `https://${c}.example.com` })),
        },
      },
      { source: 'test', argocdNamespace: ARGOCD_NAMESPACE },
    );

  test("an edit that takes what a kept Tenant holds is refused too, and a newer Tenant never gets the editor's cluster", () => {
    const a = T('a', '2024-01-01T00:00:00Z', ['a'], ['pa'], ['a']);
    const c = T('c', '2024-02-01T00:00:00Z', ['c'], ['pc'], ['c']);
    const d = T('d', '2024-03-01T00:00:00Z', ['d'], ['pd'], ['c']);
    let r = buildWithLastAccepted([a, c, d], new Map(), undefined);
    r = buildWithLastAccepted([c, d], new Map([['a', 'invalid']]), r.registry);
    // c's edit lists project pa, which a (invalid, kept) holds.
    const c1 = T('c', '2024-02-01T00:00:00Z', ['c'], ['pc', 'pa'], ['c']);
    r = buildWithLastAccepted([c1, d], new Map([['a', 'invalid']]), r.registry);
    assert.equal(r.registry.clusterByName('k8s-c')?.tenant.name, 'c');
    assert.equal(r.registry.tenantByNamespace('c')?.name, 'c');
    assert.equal(r.registry.tenantByProject('pa')?.name, 'a');
    assert.deepEqual(r.rejections.map((x) => [x.tenant, x.reason]).sort(), [
      ['c', 'ProjectConflict'],
      ['d', 'ClusterNameConflict'],
    ]);
  });

  test('of two Tenants of the same second, both accepted, an edit cannot take the other one’s claims', () => {
    const aaa = T('aaa', '2024-01-01T10:00:00Z', ['a'], ['p-aaa'], ['a']);
    const zzz = T('zzz', '2024-01-01T10:00:00Z', ['z'], ['p-zzz'], ['z']);
    const start = buildWithLastAccepted([aaa, zzz], new Map(), undefined);
    for (const edit of [
      T('aaa', '2024-01-01T10:00:00Z', ['a'], ['p-aaa'], ['a', 'z']),
      T('aaa', '2024-01-01T10:00:00Z', ['a', 'z'], ['p-aaa'], ['a']),
    ]) {
      const r = buildWithLastAccepted([edit, zzz], new Map(), start.registry);
      assert.equal(r.registry.clusterByName('k8s-z')?.tenant.name, 'zzz');
      assert.equal(r.registry.tenantByNamespace('z')?.name, 'zzz');
      assert.equal(r.registry.tenant('aaa')?.clusters.length, 1, "aaa's last accepted version");
      assert.deepEqual(
        r.rejections.map((x) => x.tenant),
        ['aaa'],
      );
      assert.match(r.rejections[0]?.message ?? '', /is held by tenant "zzz"/);
    }
  });

  test("a newer holder made invalid keeps its claim against an older Tenant's edit (a mutation-testing review)", () => {
    const prev = buildRegistry([
      T('a', '2024-01-01T00:00:00Z', ['a'], ['p-a'], ['a']),
      T('b', '2024-02-01T00:00:00Z', ['b'], ['p-b'], ['b', 'shared']),
    ]).registry;
    const r = buildWithLastAccepted(
      [T('a', '2024-01-01T00:00:00Z', ['a'], ['p-a'], ['a', 'shared'])],
      new Map([['b', 'invalid']]),
      prev,
    );
    assert.equal(r.registry.clusterByName('k8s-shared')?.tenant.name, 'b');
    assert.equal(r.registry.tenant('a')?.clusters.length, 1, "a's last accepted version");
    assert.deepEqual(
      r.rejections.map((x) => [x.tenant, x.reason]),
      [['a', 'ClusterNameConflict']],
    );
  });

  test('two accepted Tenants adding the same cluster at once: the newer keeps its last accepted version, not nothing', () => {
    const prev = buildRegistry([
      T('a', '2024-01-01T00:00:00Z', ['a'], ['p-a'], ['a']),
      T('b', '2024-02-01T00:00:00Z', ['b'], ['p-b'], ['b']),
    ]).registry;
    const r = buildWithLastAccepted(
      [
        T('a', '2024-01-01T00:00:00Z', ['a'], ['p-a'], ['a', 'shared']),
        T('b', '2024-02-01T00:00:00Z', ['b'], ['p-b'], ['b', 'shared']),
      ],
      new Map(),
      prev,
    );
    assert.equal(r.registry.clusterByName('k8s-shared')?.tenant.name, 'a');
    assert.equal(r.registry.clusterByName('k8s-b')?.tenant.name, 'b', 'b is still served');
    assert.equal(r.registry.tenantByNamespace('b')?.name, 'b');
    assert.deepEqual(r.kept, new Set(['b']));
  });

  test('a claim its holder lets go of (its valid edit no longer lists it) moves in the same rebuild', () => {
    const a = T('a', '2024-01-01T00:00:00Z', ['a'], ['p-a'], ['a', 'shared']);
    const b = T('b', '2024-02-01T00:00:00Z', ['b'], ['p-b'], ['b']);
    const start = buildWithLastAccepted([a, b], new Map(), undefined);
    const r = buildWithLastAccepted(
      [
        T('a', '2024-01-01T00:00:00Z', ['a'], ['p-a'], ['a']),
        T('b', '2024-02-01T00:00:00Z', ['b'], ['p-b'], ['b', 'shared']),
      ],
      new Map(),
      start.registry,
    );
    assert.equal(r.registry.clusterByName('k8s-shared')?.tenant.name, 'b');
    assert.deepEqual(r.rejections, []);
  });
});
