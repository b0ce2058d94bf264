/**
 * registry-in-force.ts and the withheld Tenants of registry-continuity.ts: what a first build
 * reads back from the statuses, and how a Tenant whose version in force cannot be read back
 * holds its claims.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildWithLastAccepted } from '../../src/tenancy/registry-continuity.js';
import {
  claimsOfRecord,
  continueBuild,
  inForceOf,
  recordOf,
  recordsInForce,
  storedInForce,
} from '../../src/tenancy/registry-in-force.js';
import type { TenantObject } from '../../src/tenancy/tenant-list.js';
import { parseTenant, type Tenant } from '../../src/tenancy/tenant.js';

function doc(name: string, created: string, clusters: string[], generation = 1): TenantObject {
  return {
    apiVersion: 'tenantguard.dev/v1alpha1',
    kind: 'Tenant',
    metadata: { name, creationTimestamp: created, generation } as unknown as NonNullable<
      TenantObject['metadata']
    >,
    spec: {
      owners: { groups: [`${name}-admins`] },
      namespaces: [name],
      projects: [name],
      clusters: clusters.map((c) => ({ name: c, server: `https://${c}.example.com` })),
    },
  };
}
const parse = (o: TenantObject): Tenant => parseTenant(o, { source: 'test', argocdNamespace: 'argocd' });
const withRecord = (o: TenantObject, record: unknown): TenantObject => ({
  ...o,
  status: { inForce: record },
});

describe('status.inForce read back', () => {
  test('a record is what recordOf writes, and its claims are the ones continuity counts', () => {
    const a = parse(doc('team-a', '2025-01-01T00:00:00Z', ['a-dev']));
    const record = recordOf(a);
    assert.deepEqual(inForceOf(withRecord(doc('team-a', '2025-01-01T00:00:00Z', ['a-dev']), record)), record);
    assert.deepEqual(
      claimsOfRecord(record)
        .map((c) => `${c.kind}:${c.key}`)
        .sort(),
      [
        'audience:a-dev',
        'name:a-dev',
        'namespace:team-a',
        'project:team-a',
        'server:https://a-dev.example.com',
        'subject:tenantguard:a-dev',
      ],
    );
  });

  test('a malformed or oversized record is none', () => {
    const o = doc('team-a', '2025-01-01T00:00:00Z', ['a-dev']);
    const good = recordOf(parse(o));
    for (const bad of [
      null,
      { ...good, generation: '1' },
      { ...good, clusters: [{ name: 'x' }] },
      { ...good, namespaces: [1] },
      { ...good, namespaces: Array.from({ length: 257 }, (_, i) => `n${i}`) },
      { ...good, clusters: Array.from({ length: 33 }, () => good.clusters[0]) },
    ])
      assert.equal(inForceOf(withRecord(o, bad)), undefined, JSON.stringify(bad).slice(0, 80));
  });

  test('in force at the current generation: served; at an older one: withheld with its claims', () => {
    const a1 = doc('team-a', '2025-01-01T00:00:00Z', ['shared']);
    const a2 = doc('team-a', '2025-01-01T00:00:00Z', ['shared', 'b-dev'], 2); // an edit, refused
    const b = doc('team-b', '2025-01-02T00:00:00Z', ['b-dev']);
    const objects = [withRecord(a2, recordOf(parse(a1))), withRecord(b, recordOf(parse(b)))];
    const stored = storedInForce(objects, objects.map(parse));
    assert.ok(stored !== undefined);
    assert.deepEqual(
      stored.previous?.tenants.map((t) => t.name),
      ['team-b'],
    );
    assert.deepEqual([...stored.withheld.keys()], ['team-a']);
    const build = buildWithLastAccepted(objects.map(parse), new Map(), stored.previous, stored.withheld);
    assert.equal(build.registry.clusterByName('b-dev')?.tenant.name, 'team-b', "team-a's edit stays refused");
    assert.equal(build.registry.tenant('team-a'), undefined, 'withheld: not served here');
    assert.match(
      build.rejections.find((r) => r.tenant === 'team-a')?.message ?? '',
      /held by tenant "team-b"/,
    );
    // What the statuses record stays what the running replicas recorded.
    assert.deepEqual(recordsInForce(build, stored.records).get('team-a'), recordOf(parse(a1)));
  });

  test("a newer Tenant listing a withheld Tenant's claim is refused; once its own version is valid and takes nothing, the withheld one is served", () => {
    const a1 = doc('team-a', '2025-01-01T00:00:00Z', ['shared']);
    const newer = parse(doc('team-b', '2025-01-02T00:00:00Z', ['shared']));
    const withheld = new Map([['team-a', claimsOfRecord(recordOf(parse(a1)))]]);
    // team-a's current version is invalid (not among the tenants); team-b is new.
    const held = buildWithLastAccepted([newer], new Map([['team-a', 'invalid']]), undefined, withheld);
    assert.equal(held.registry.clusterByName('shared'), undefined, 'nobody gets it');
    assert.match(held.rejections[0]?.message ?? '', /^name "shared" is held by tenant "team-a"/);
    assert.deepEqual([...held.withheld.keys()], ['team-a']);
    // team-a fixed (a valid version listing its cluster): served, and team-b refused by age.
    const fixed = buildWithLastAccepted([parse(a1), newer], new Map(), undefined, withheld);
    assert.equal(fixed.registry.clusterByName('shared')?.tenant.name, 'team-a');
    assert.deepEqual([...fixed.withheld.keys()], []);
  });

  test('a withheld Tenant that is deleted lets go of its claims, and a running replica agrees with one started after', () => {
    // team-a: an edit to generation 2 refused (it also lists team-b's cluster), so its status
    // still records generation 1; a replica started now withholds it.
    const a1 = doc('team-a', '2025-01-01T00:00:00Z', ['shared']);
    const a2 = withRecord(doc('team-a', '2025-01-01T00:00:00Z', ['shared', 'b-dev'], 2), recordOf(parse(a1)));
    const b = doc('team-b', '2025-01-02T00:00:00Z', ['b-dev']);
    const bObj = withRecord(b, recordOf(parse(b)));
    const start = { withheld: new Map(), records: new Map() };
    let objects = [a2, bObj];
    let running = continueBuild(objects, objects.map(parse), new Map(), undefined, start);
    assert.deepEqual([...running.state.withheld.keys()], ['team-a']);
    // Still there, still refused: its claims stay held, build after build.
    const c = doc('team-c', '2025-06-01T00:00:00Z', ['shared']);
    objects = [a2, bObj, c];
    for (let i = 0; i < 2; i += 1)
      running = continueBuild(objects, objects.map(parse), new Map(), running.build.registry, running.state);
    assert.equal(running.build.registry.clusterByName('shared'), undefined);
    assert.match(
      running.build.rejections.find((r) => r.tenant === 'team-c')?.message ?? '',
      /held by tenant "team-a"/,
    );
    // The admin deletes team-a: team-c gets the cluster on the running replica too.
    objects = [bObj, c];
    for (let i = 0; i < 2; i += 1)
      running = continueBuild(objects, objects.map(parse), new Map(), running.build.registry, running.state);
    const later = continueBuild(objects, objects.map(parse), new Map(), undefined, start);
    for (const replica of [running, later]) {
      assert.equal(replica.build.registry.clusterByName('shared')?.tenant.name, 'team-c');
      assert.deepEqual(replica.build.rejections, []);
      assert.deepEqual([...replica.state.withheld.keys()], []);
      assert.equal(replica.state.records.has('team-a'), false, 'no record of a deleted Tenant');
    }
    assert.deepEqual(
      running.build.registry.tenants.map((t) => t.name).sort(),
      later.build.registry.tenants.map((t) => t.name).sort(),
    );
  });

  test('a withheld Tenant whose current version is invalid still holds its claims', () => {
    const a1 = doc('team-a', '2025-01-01T00:00:00Z', ['shared']);
    const withheld = new Map([['team-a', claimsOfRecord(recordOf(parse(a1)))]]);
    const newer = parse(doc('team-c', '2025-06-01T00:00:00Z', ['shared']));
    const invalid = new Map([['team-a', 'spec.clusters[0].server: not https']]);
    let build = buildWithLastAccepted([newer], invalid, undefined, withheld);
    for (let i = 0; i < 2; i += 1)
      build = buildWithLastAccepted([newer], invalid, build.registry, build.withheld);
    assert.equal(build.registry.clusterByName('shared'), undefined);
    assert.deepEqual([...build.withheld.keys()], ['team-a']);
    // Deleted (neither current nor invalid): free.
    const gone = buildWithLastAccepted([newer], new Map(), build.registry, build.withheld);
    assert.equal(gone.registry.clusterByName('shared')?.tenant.name, 'team-c');
    assert.deepEqual([...gone.withheld.keys()], []);
  });
});
