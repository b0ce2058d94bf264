/**
 * Issue 10 item 7, watched Tenants: every accepted, refused, changed and removed Tenant is
 * logged and recorded as a core/v1 Event on the Tenant (a refused Tenant becoming accepted
 * when the conflicting one goes away included); a restart repeats no Event.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { WatchedRegistry } from '../../src/tenancy/watch-source.js';
import { EVENTS, TestApiServer } from '../support/test-api-server.js';
import { captureLogger, eventually, statusOf, TENANTS, tenantDoc } from './watch-support.js';

type Json = Record<string, unknown>;

describe('Tenant registry changes: log lines and Events', () => {
  let api: TestApiServer;
  let clock: number;
  let log: ReturnType<typeof captureLogger>;
  const running: WatchedRegistry[] = [];

  beforeEach(async () => {
    clock = Date.parse('2025-03-01T10:00:00Z');
    api = await TestApiServer.start({ now: () => clock });
    api.registerResource(TENANTS);
    log = captureLogger();
  });

  afterEach(async () => {
    for (const w of running.splice(0)) await w.stop();
    await api.close();
  });

  function watch(): WatchedRegistry {
    const w = new WatchedRegistry({
      kubeConfig: api.kubeConfig(),
      logger: log.logger,
      argocdNamespace: 'argocd',
      debounceMs: 5,
      statusRetryMs: 50,
      now: () => clock,
    });
    running.push(w);
    w.start();
    return w;
  }

  function seed(doc: Json): void {
    api.seed(TENANTS, undefined, doc);
    clock += 1000;
  }

  /** Events in the order they were created. */
  const events = (): Json[] =>
    api
      .objects(EVENTS)
      .sort(
        (a, b) => Number((a.metadata as Json).resourceVersion) - Number((b.metadata as Json).resourceVersion),
      );
  const eventsOf = (tenant: string): Array<[string, string]> =>
    events()
      .filter((e) => (e.involvedObject as Json).name === tenant)
      .map((e) => [String(e.reason), String(e.type)]);
  const linesOf = (tenant: string): string[] =>
    log.lines.filter((l) => l.tenant === tenant && l.change !== undefined).map((l) => String(l.msg));

  test('accepted, refused, refused becoming accepted, changed and removed: one line and one Event each', async () => {
    seed(tenantDoc('zulu', { clusters: [{ name: 'shared-dev', server: 'https://shared.example.com' }] }));
    seed(tenantDoc('alpha', { clusters: [{ name: 'shared-dev', server: 'https://other.example.com' }] }));
    const w = watch();
    await w.whenSynced();
    await eventually('two Events', () => events().length === 2);
    assert.deepEqual(eventsOf('zulu'), [['Accepted', 'Normal']]);
    assert.deepEqual(eventsOf('alpha'), [['ClusterNameConflict', 'Warning']]);
    const refused = events().find((e) => (e.involvedObject as Json).name === 'alpha') as Json;
    assert.equal((refused.metadata as Json).namespace, 'default', 'cluster-scoped: Events in default');
    assert.deepEqual(refused.involvedObject, {
      apiVersion: 'tenantguard.dev/v1alpha1',
      kind: 'Tenant',
      name: 'alpha',
      uid: (api.store.get(TENANTS, undefined, 'alpha').metadata as Json).uid,
      resourceVersion: (refused.involvedObject as Json).resourceVersion,
    });
    assert.match(
      String(refused.message),
      /^Tenant "alpha" refused \(ClusterNameConflict\): spec\.clusters\[0\]\.name: cluster "shared-dev" is already claimed by tenant "zulu"/,
    );
    assert.equal((refused.source as Json).component, 'tenant-guard');
    assert.match(linesOf('alpha')[0] ?? '', /^Tenant "alpha" refused \(ClusterNameConflict\)/);
    assert.equal(log.lines.find((l) => l.tenant === 'alpha' && l.change === 'rejected')?.level, 40);

    // Status writes that follow change no verdict: no more lines, no more Events.
    await eventually('statuses written', () =>
      ['zulu', 'alpha'].every((n) => statusOf(api.store.get(TENANTS, undefined, n)) !== undefined),
    );
    await w.statusIdle();

    // The older Tenant goes: it is removed, and the refused one becomes accepted.
    api.store.delete(TENANTS, undefined, 'zulu');
    await eventually('alpha accepted', () => w.current()?.tenant('alpha') !== undefined);
    await w.eventsIdle();
    await eventually('the Events of the change', () => events().length === 4);
    assert.deepEqual(eventsOf('zulu'), [
      ['Accepted', 'Normal'],
      ['Removed', 'Normal'],
    ]);
    assert.deepEqual(eventsOf('alpha'), [
      ['ClusterNameConflict', 'Warning'],
      ['Accepted', 'Normal'],
    ]);
    assert.match(
      linesOf('alpha')[1] ?? '',
      /^Tenant "alpha" accepted with 1 cluster; it was refused before \(ClusterNameConflict: /,
    );
    assert.match(
      linesOf('zulu')[1] ?? '',
      /^Tenant "zulu" removed; its clusters, namespaces and projects are no longer in the registry/,
    );

    // A spec change of an accepted Tenant.
    const stored = api.store.get(TENANTS, undefined, 'alpha');
    api.store.update(TENANTS, undefined, 'alpha', {
      ...stored,
      spec: { ...(stored.spec as Json), namespaces: ['alpha', 'alpha-apps'] },
    });
    await eventually('changed', () => w.current()?.tenantByNamespace('alpha-apps') !== undefined);
    await eventually('the Changed Event', () => events().length === 5);
    assert.deepEqual(eventsOf('alpha').at(-1), ['Changed', 'Normal']);
    assert.equal(linesOf('alpha')[2], 'Tenant "alpha" changed; accepted with 1 cluster');
    await w.statusIdle();
    await w.eventsIdle();
    assert.equal(events().length, 5, 'its status write made no Event');
  });

  test('a restart logs every Tenant but repeats no Event its stored status already records', async () => {
    seed(tenantDoc('team-a'));
    seed(tenantDoc('team-b', { namespaces: ['team-a'] }));
    const first = watch();
    await first.whenSynced();
    await eventually('statuses written', () =>
      ['team-a', 'team-b'].every((n) => statusOf(api.store.get(TENANTS, undefined, n)) !== undefined),
    );
    await first.statusIdle();
    await first.eventsIdle();
    assert.equal(events().length, 2);
    await first.stop();

    log.lines.length = 0;
    const second = watch();
    await second.whenSynced();
    await second.statusIdle();
    await second.eventsIdle();
    assert.equal(events().length, 2, 'no Event repeated');
    assert.deepEqual(linesOf('team-a'), ['Tenant "team-a" accepted with 1 cluster']);
    assert.match(linesOf('team-b')[0] ?? '', /^Tenant "team-b" refused \(NamespaceConflict\)/);
  });

  test('an Event the API server refuses is logged and changes nothing else', async () => {
    api.inject({ verb: 'create', resource: 'events' }, { status: 403, reason: 'Forbidden' });
    seed(tenantDoc('team-a'));
    const w = watch();
    await w.whenSynced();
    await w.eventsIdle();
    assert.equal(w.current()?.tenant('team-a')?.name, 'team-a');
    const line = log.lines.find((l) => l.code === 'ERR_TENANT_EVENT');
    assert.equal(
      line?.msg,
      'cannot record the Accepted Event of Tenant "team-a": the API server answered 403 Forbidden',
    );
  });
});
