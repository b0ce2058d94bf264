import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { isRecord } from '../../src/json.js';
import { WatchedRegistry } from '../../src/tenancy/watch-source.js';
import { REGISTRY_METRICS } from '../../src/tenancy/tenant-metrics.js';
import { TestApiServer } from '../support/test-api-server.js';
import { captureLogger, eventually, statusOf, TENANTS, tenantDoc } from './watch-support.js';

async function gauge(metrics: Registry, name: string): Promise<number | undefined> {
  const metric = metrics.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const got = await metric.get();
  return got.values[0]?.value;
}

describe('WatchedRegistry against the test API server', () => {
  let api: TestApiServer;
  let clock: number;
  let watched: WatchedRegistry | undefined;
  let metrics: Registry;
  let log: ReturnType<typeof captureLogger>;

  beforeEach(async () => {
    clock = Date.parse('2025-03-01T10:00:00Z');
    api = await TestApiServer.start({ now: () => clock });
    api.registerResource(TENANTS);
    metrics = new Registry();
    log = captureLogger();
  });

  afterEach(async () => {
    await watched?.stop();
    watched = undefined;
    await api.close();
  });

  function watch(options: { writeStatus?: boolean } = {}): WatchedRegistry {
    watched = new WatchedRegistry({
      kubeConfig: api.kubeConfig(),
      logger: log.logger,
      argocdNamespace: 'argocd',
      metrics,
      debounceMs: 20,
      backoffInitialMs: 50,
      backoffMaxMs: 200,
      statusRetryMs: 100,
      ...options,
    });
    watched.start();
    return watched;
  }

  function seed(doc: Record<string, unknown>): void {
    api.seed(TENANTS, undefined, doc);
    clock += 1000; // a distinct creationTimestamp for each: the older Tenant keeps a contested claim
  }

  test('initial list: not synced (current() undefined) until the first full list, then every Tenant', async () => {
    seed(tenantDoc('team-a'));
    seed(tenantDoc('team-b'));
    api.inject({ verb: 'list', resource: 'tenants' }, { status: 503 }, 2);
    const w = watch();
    await eventually('the first list failed', () => w.state().consecutiveFailures >= 1);
    assert.equal(w.current(), undefined, 'no registry before the first full list');
    assert.equal(w.state().synced, false);
    assert.equal(await gauge(metrics, REGISTRY_METRICS.synced), 0);
    assert.ok(
      log.lines.some((l) => l.code === 'ERR_TENANT_WATCH' && String(l.msg).includes('not synced yet')),
    );

    await w.whenSynced();
    const registry = w.current();
    assert.ok(registry !== undefined);
    assert.deepEqual(
      registry.tenants.map((t) => t.name),
      ['team-a', 'team-b'],
    );
    assert.equal(registry.clusterByName('team-b-dev')?.tenant.name, 'team-b');
    assert.equal(await gauge(metrics, REGISTRY_METRICS.synced), 1);
    assert.equal(await gauge(metrics, REGISTRY_METRICS.stale), 0);
    assert.ok(((await gauge(metrics, REGISTRY_METRICS.lastSync)) ?? 0) > 0);
    assert.equal(
      api.count({ verb: 'list', resource: 'tenants' }),
      3,
      'two failed lists, then one that worked',
    );
  });

  test('add, modify and delete of Tenants are reflected within a second', async () => {
    seed(tenantDoc('team-a'));
    const w = watch();
    await w.whenSynced();

    seed(tenantDoc('team-c'));
    const added = await eventually('team-c added', () => w.current()?.tenant('team-c') !== undefined);

    const stored = api.store.get(TENANTS, undefined, 'team-c');
    const changed = {
      ...tenantDoc('team-c', { namespaces: ['team-c', 'team-c-apps'] }),
      metadata: stored.metadata,
    };
    api.store.update(TENANTS, undefined, 'team-c', changed);
    const modified = await eventually(
      'team-c modified',
      () => w.current()?.tenantByNamespace('team-c-apps')?.name === 'team-c',
    );

    api.store.delete(TENANTS, undefined, 'team-c');
    const deleted = await eventually('team-c deleted', () => w.current()?.tenant('team-c') === undefined);
    assert.equal(w.current()?.tenant('team-a')?.name, 'team-a', 'the other Tenant stays');
    for (const ms of [added, modified, deleted]) assert.ok(ms < 1000, `took ${ms} ms`);
  });

  test('a watch the server ends is resumed without losing a change', async () => {
    seed(tenantDoc('team-a'));
    const w = watch({ writeStatus: false });
    await w.whenSynced();
    const watchesBefore = api.count({ verb: 'watch', resource: 'tenants' });
    api.dropWatches();
    seed(tenantDoc('team-d'));
    await eventually('team-d seen after the drop', () => w.current()?.tenant('team-d') !== undefined);
    assert.ok(
      api.count({ verb: 'watch', resource: 'tenants' }) > watchesBefore,
      'the watch was re-established',
    );
    assert.equal(w.state().stale, false);
  });

  test('a broken watch: last good registry served, stale metric and one log line, then re-listed with backoff', async () => {
    seed(tenantDoc('team-a'));
    const w = watch({ writeStatus: false });
    await w.whenSynced();
    const before = w.current();
    const listsBefore = api.count({ verb: 'list', resource: 'tenants' });

    // The API server is unreachable for Tenants: every watch and list fails until cleared.
    api.inject({ verb: 'watch', resource: 'tenants' }, { status: 500 });
    api.inject({ verb: 'list', resource: 'tenants' }, { status: 503 });
    api.dropWatches();
    await eventually('stale', () => w.state().stale);
    seed(tenantDoc('team-e')); // made while the watch is down
    await eventually('several attempts, backing off', () => w.state().consecutiveFailures >= 3, 3000);
    assert.equal(w.current(), before, 'the last good registry keeps serving');
    assert.equal(w.current()?.tenant('team-e'), undefined);
    assert.equal(await gauge(metrics, REGISTRY_METRICS.stale), 1);
    assert.equal(await gauge(metrics, REGISTRY_METRICS.synced), 1);

    api.clearFaults();
    await eventually(
      'recovered',
      () => !w.state().stale && w.current()?.tenant('team-e') !== undefined,
      3000,
    );
    assert.equal(await gauge(metrics, REGISTRY_METRICS.stale), 0);
    assert.ok(api.count({ verb: 'list', resource: 'tenants' }) > listsBefore, 'recovery re-lists');
    assert.ok(((await gauge(metrics, REGISTRY_METRICS.restarts)) ?? 0) >= 3);
    const broken = log.lines.filter((l) => String(l.msg).startsWith('Tenant watch broken'));
    const recovered = log.lines.filter((l) => String(l.msg).startsWith('Tenant watch re-established'));
    assert.equal(broken.length, 1, 'one line when it goes stale, however many attempts fail');
    assert.equal(broken[0]?.level, 40);
    assert.equal(recovered.length, 1);
  });

  test('a watch expired (410 Gone) is re-listed', async () => {
    seed(tenantDoc('team-a'));
    const w = watch({ writeStatus: false });
    await w.whenSynced();
    const listsBefore = api.count({ verb: 'list', resource: 'tenants' });
    seed(tenantDoc('team-f'));
    await eventually('team-f', () => w.current()?.tenant('team-f') !== undefined);
    // The re-watch after the drop arrives late: meanwhile team-f goes and the history is
    // compacted, so the watch from the informer's resourceVersion gets 410 Expired.
    api.inject({ verb: 'watch', resource: 'tenants' }, { delayMs: 100 }, 1);
    api.dropWatches();
    api.store.delete(TENANTS, undefined, 'team-f');
    api.store.compact();
    await eventually('team-f gone after the re-list', () => w.current()?.tenant('team-f') === undefined);
    assert.ok(api.count({ verb: 'list', resource: 'tenants' }) > listsBefore);
  });

  test("conflicting Tenants: the older keeps the claim, the later one's status says why", async () => {
    seed(tenantDoc('zulu', { clusters: [{ name: 'shared-dev', server: 'https://shared.example.com' }] }));
    seed(tenantDoc('alpha', { clusters: [{ name: 'shared-dev', server: 'https://other.example.com' }] }));
    seed(tenantDoc('bad', { namespaces: ['argocd'] }));
    const w = watch();
    await w.whenSynced();
    assert.deepEqual(
      w.current()?.tenants.map((t) => t.name),
      ['zulu'],
      'the later and the invalid Tenant are left out',
    );
    await eventually('statuses written', () =>
      ['zulu', 'alpha', 'bad'].every((n) => statusOf(api.store.get(TENANTS, undefined, n)) !== undefined),
    );
    await w.statusIdle();

    const zulu = statusOf(api.store.get(TENANTS, undefined, 'zulu'));
    assert.equal(zulu?.accepted, true);
    assert.equal(zulu?.reason, 'Accepted');
    assert.equal(zulu?.clusterCount, 1);
    assert.equal(zulu?.observedGeneration, 1);

    const alpha = statusOf(api.store.get(TENANTS, undefined, 'alpha'));
    assert.equal(alpha?.accepted, false);
    assert.equal(alpha?.reason, 'ClusterNameConflict');
    assert.match(
      String(alpha?.message),
      /spec\.clusters\[0\]\.name: cluster "shared-dev" is already claimed by tenant "zulu"/,
    );
    assert.ok(Array.isArray(alpha?.conditions));
    const condition = (alpha?.conditions as Array<Record<string, unknown>>).find(
      (c) => c.type === 'Accepted',
    );
    assert.equal(condition?.status, 'False');
    assert.equal(condition?.reason, 'ClusterNameConflict');
    assert.match(String(condition?.lastTransitionTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const bad = statusOf(api.store.get(TENANTS, undefined, 'bad'));
    assert.equal(bad?.accepted, false);
    assert.equal(bad?.reason, 'Invalid');
    assert.match(String(bad?.message), /^spec\.namespaces\[0\]: "argocd" is the Argo CD namespace/);

    const gaugeValues = await metrics.getSingleMetric(REGISTRY_METRICS.tenants)?.get();
    const byState = Object.fromEntries((gaugeValues?.values ?? []).map((v) => [v.labels.state, v.value]));
    assert.deepEqual(byState, { accepted: 1, rejected: 1, invalid: 1 });

    // The older Tenant goes: the later one gets the claim, and its status follows.
    api.store.delete(TENANTS, undefined, 'zulu');
    await eventually('alpha accepted', () => w.current()?.tenant('alpha') !== undefined);
    await eventually(
      'alpha status accepted',
      () => statusOf(api.store.get(TENANTS, undefined, 'alpha'))?.accepted === true,
    );
  });

  test("an audience claimed twice (issue 15 item 1): the older Tenant keeps it, the other's status names both", async () => {
    seed(tenantDoc('zulu', { clusters: [{ name: 'zulu-dev', server: 'https://zulu.example.com' }] }));
    const alpha = tenantDoc('alpha');
    (alpha.spec as { clusters: unknown }).clusters = [
      { name: 'alpha-dev', server: 'https://alpha.example.com', audience: 'zulu-dev' },
    ];
    seed(alpha);
    const w = watch();
    await w.whenSynced();
    assert.deepEqual(
      w.current()?.tenants.map((t) => t.name),
      ['zulu'],
    );
    await eventually(
      'alpha status',
      () => statusOf(api.store.get(TENANTS, undefined, 'alpha'))?.reason === 'AudienceConflict',
    );
    const status = statusOf(api.store.get(TENANTS, undefined, 'alpha'));
    assert.equal(status?.accepted, false);
    assert.match(
      String(status?.message),
      /^spec\.clusters\[0\]\.audience: audience "zulu-dev" is already claimed by tenant "zulu" \(spec\.clusters\[0\]\.audience, by default its cluster name\)/,
    );
  });

  test('status is written only when it differs, and a 409 Conflict is answered by re-reading', async () => {
    seed(tenantDoc('team-a'));
    seed(tenantDoc('team-b'));
    api.failNextUpdate({ resource: 'tenants', name: 'team-a' });
    const w = watch();
    await w.whenSynced();
    await eventually('both statuses written', () =>
      ['team-a', 'team-b'].every((n) => statusOf(api.store.get(TENANTS, undefined, n))?.accepted === true),
    );
    await w.statusIdle();
    const statusWrites = (): number =>
      api.requests.filter((r) => r.resource === 'tenants' && r.subresource === 'status' && r.method === 'PUT')
        .length;
    assert.equal(statusWrites(), 3, 'team-a twice (the first got 409), team-b once');
    assert.equal(api.count({ verb: 'get', resource: 'tenants', name: 'team-a' }), 1, 're-read after the 409');

    // Changes that leave the verdicts as they are write nothing.
    api.dropWatches();
    seed(tenantDoc('team-c'));
    await eventually(
      'team-c status',
      () => statusOf(api.store.get(TENANTS, undefined, 'team-c'))?.accepted === true,
    );
    // "Nothing more" is a state, not a wait: the registry has read back every Tenant at its
    // stored resourceVersion (team-c's own status write included), so each verdict was
    // recomputed from what the API server holds; then no write may be under way or follow.
    const seenAtStoredVersion = (): boolean =>
      ['team-a', 'team-b', 'team-c'].every((n) => {
        const stored = api.store.get(TENANTS, undefined, n);
        const rv =
          isRecord(stored) && isRecord(stored.metadata) ? stored.metadata.resourceVersion : undefined;
        return rv !== undefined && w.current()?.tenant(n)?.resourceVersion === rv;
      });
    await eventually('every Tenant read back at its stored version', seenAtStoredVersion);
    await w.statusIdle();
    assert.equal(statusWrites(), 4, "only team-c's status was written");
  });
});
