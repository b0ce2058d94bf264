/**
 * What is in force outlives a replica (a red-team review): a replica started after a Tenant's
 * edit was refused or made invalid continues from what the running replica recorded in the
 * statuses (`status.inForce`), so no claim moves to another Tenant and no refused edit is
 * carried out. Two replicas of one install on the test API server.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { WatchedRegistry } from '../../src/tenancy/watch-source.js';
import { TestApiServer } from '../support/test-api-server.js';
import { captureLogger, eventually, statusOf, TENANTS, tenantDoc } from './watch-support.js';

const SHARED = { name: 'shared-prod', server: 'https://shared-prod.example.com' };
const B_DEV = { name: 'team-b-dev', server: 'https://team-b-dev.example.com' };

describe('a replica started later holds what the running one held', () => {
  let api: TestApiServer;
  let clock: number;
  const replicas: WatchedRegistry[] = [];

  beforeEach(async () => {
    clock = Date.parse('2025-03-01T10:00:00Z');
    api = await TestApiServer.start({ now: () => clock });
    api.registerResource(TENANTS);
  });

  afterEach(async () => {
    for (const r of replicas.splice(0)) await r.stop();
    await api.close();
  });

  async function replica(): Promise<WatchedRegistry> {
    const w = new WatchedRegistry({
      kubeConfig: api.kubeConfig(),
      logger: captureLogger().logger,
      argocdNamespace: 'argocd',
      debounceMs: 5,
      now: () => clock,
    });
    replicas.push(w);
    w.start();
    await w.whenSynced();
    return w;
  }

  const stored = (name: string) =>
    api.objects(TENANTS).find((o) => (o.metadata as { name: string }).name === name);
  const edit = (name: string, spec: (s: Record<string, unknown>) => Record<string, unknown>) => {
    const o = stored(name) as Record<string, unknown>;
    api.store.update(TENANTS, undefined, name, { ...o, spec: spec(o.spec as Record<string, unknown>) });
  };
  const generationInForce = (name: string) =>
    (statusOf(stored(name))?.inForce as { generation?: number } | undefined)?.generation;
  const owner = (w: WatchedRegistry, cluster: string) => w.current()?.clusterByName(cluster)?.tenant.name;

  test('an older Tenant made invalid: the newer one does not get its cluster on a replica started after', async () => {
    api.seed(TENANTS, undefined, tenantDoc('team-a', { clusters: [SHARED] }));
    clock += 5_000;
    api.seed(TENANTS, undefined, tenantDoc('team-b', { clusters: [SHARED, B_DEV] }));
    const first = await replica();
    assert.equal(owner(first, 'shared-prod'), 'team-a');
    await eventually(
      'team-a recorded in force at generation 1',
      () => generationInForce('team-a') === 1,
      5000,
    );
    // A typo: the Argo CD namespace as a tenant namespace (the schema accepts it, the registry does not).
    edit('team-a', (s) => ({ ...s, namespaces: ['team-a', 'argocd'] }));
    await eventually(
      'the running replica keeps team-a',
      () => statusOf(stored('team-a'))?.reason === 'Invalid',
      5000,
    );
    assert.equal(owner(first, 'shared-prod'), 'team-a', 'last accepted version kept');
    assert.equal(generationInForce('team-a'), 1, 'the record keeps the version in force');

    const later = await replica();
    assert.notEqual(owner(later, 'shared-prod'), 'team-b', 'the cluster did not move');
    assert.equal(later.current()?.tenant('team-b'), undefined, 'team-b is still refused');
    assert.equal(generationInForce('team-a'), 1, 'the later replica records the same');
  });

  test("an older Tenant's edit that takes a newer one's cluster stays refused on a replica started after", async () => {
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    clock += 5_000;
    api.seed(TENANTS, undefined, tenantDoc('team-b', { clusters: [SHARED, B_DEV] }));
    const first = await replica();
    await eventually('team-b recorded in force', () => generationInForce('team-b') === 1, 5000);
    edit('team-a', (s) => ({ ...s, clusters: [...(s.clusters as unknown[]), SHARED] }));
    await eventually(
      'the running replica refuses the edit',
      () => statusOf(stored('team-a'))?.reason === 'ClusterNameConflict',
      5000,
    );
    assert.equal(owner(first, 'shared-prod'), 'team-b');

    const later = await replica();
    assert.equal(owner(later, 'shared-prod'), 'team-b', 'the refused edit is not carried out');
    assert.equal(owner(later, 'team-b-dev'), 'team-b', 'team-b keeps all of its clusters');
    assert.notEqual(
      later
        .current()
        ?.tenant('team-a')
        ?.clusters.some((c) => c.name === 'shared-prod'),
      true,
    );
  });

  test('a new install (no status records anything) builds as before: the older Tenant keeps a contested cluster', async () => {
    api.seed(TENANTS, undefined, tenantDoc('team-a', { clusters: [SHARED] }));
    clock += 5_000;
    api.seed(TENANTS, undefined, tenantDoc('team-b', { clusters: [SHARED, B_DEV] }));
    const only = await replica();
    assert.equal(owner(only, 'shared-prod'), 'team-a');
    assert.equal(only.current()?.tenant('team-b'), undefined);
  });
});
