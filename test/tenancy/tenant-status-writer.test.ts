/**
 * TenantStatusWriter against the test API server: what it sends, and what it does not send
 * again.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { TenantStatusWriter, type StatusTarget } from '../../src/tenancy/tenant-status-writer.js';
import { outcomeOf } from '../../src/tenancy/tenant-status.js';
import { TestApiServer, type FaultAction } from '../support/test-api-server.js';
import { captureLogger, ManualTimers, statusOf, TENANTS, tenantDoc } from './watch-support.js';

describe('TenantStatusWriter: a status the API server refuses for what it carries', () => {
  let api: TestApiServer;
  let writer: TenantStatusWriter | undefined;
  let log: ReturnType<typeof captureLogger>;

  beforeEach(async () => {
    api = await TestApiServer.start();
    api.registerResource(TENANTS);
    log = captureLogger();
  });

  afterEach(async () => {
    writer?.stop();
    writer = undefined;
    await api.close();
  });

  function start(): TenantStatusWriter {
    writer = new TenantStatusWriter(api.kubeConfig().makeApiClient(CustomObjectsApi), log.logger, {
      retryMs: 60_000,
    });
    return writer;
  }

  function target(message: string): StatusTarget {
    const object = api.store.get(TENANTS, undefined, 'team-b') as Record<string, unknown>;
    return {
      name: 'team-b',
      object,
      outcome: outcomeOf(1, undefined, { tenant: 'team-b', reason: 'NamespaceConflict', message }),
    };
  }

  const puts = (): number => api.count({ verb: 'update', resource: 'tenants', name: 'team-b' });

  const refusals: Array<{ name: string; action: FaultAction }> = [
    {
      name: '413',
      action: { status: 413, reason: 'RequestEntityTooLarge', message: 'request entity too large' },
    },
    {
      name: "etcd's 500",
      action: { status: 500, reason: 'InternalError', message: 'etcdserver: request is too large' },
    },
    { name: '422', action: { status: 422, reason: 'Invalid', message: 'status.message: Too long' } },
  ];
  for (const r of refusals) {
    test(`${r.name}: the same write is not sent again; a new verdict is`, async () => {
      api.seed(TENANTS, undefined, tenantDoc('team-b'));
      api.inject({ verb: 'update', resource: 'tenants', name: 'team-b' }, r.action);
      const w = start();
      w.sync([target('spec.namespaces[0]: taken')]);
      await w.idle();
      assert.equal(puts(), 1);
      for (let i = 0; i < 3; i++) {
        w.sync([target('spec.namespaces[0]: taken')]);
        await w.idle();
      }
      assert.equal(puts(), 1, 'the refused write was sent again');
      const warned = log.lines.filter((l) => l.code === 'ERR_TENANT_STATUS');
      assert.equal(warned.length, 1);
      assert.match(String(warned[0]?.msg), /not sent again until the Tenant or its verdict changes/);

      api.clearFaults();
      w.sync([target('spec.namespaces[1]: taken')]);
      await w.idle();
      assert.equal(puts(), 2, 'another verdict is another write');
      assert.equal(
        statusOf(api.store.get(TENANTS, undefined, 'team-b'))?.message,
        'spec.namespaces[1]: taken',
      );
    });
  }

  test('a 500 for any other reason is a failure worth sending again', async () => {
    api.seed(TENANTS, undefined, tenantDoc('team-b'));
    api.inject(
      { verb: 'update', resource: 'tenants', name: 'team-b' },
      { status: 500, reason: 'InternalError', message: 'etcdserver: leader changed' },
      1,
    );
    const w = start();
    w.sync([target('spec.namespaces[0]: taken')]);
    await w.idle();
    w.sync([target('spec.namespaces[0]: taken')]);
    await w.idle();
    assert.equal(puts(), 2);
    assert.equal(statusOf(api.store.get(TENANTS, undefined, 'team-b'))?.message, 'spec.namespaces[0]: taken');
  });
});

describe('TenantStatusWriter: two writers that disagree (a rolling upgrade, two installs)', () => {
  let api: TestApiServer;
  let clock: number;
  const writers: TenantStatusWriter[] = [];

  beforeEach(async () => {
    api = await TestApiServer.start();
    api.registerResource(TENANTS);
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    clock = Date.parse('2025-03-01T10:00:00Z');
  });

  afterEach(async () => {
    for (const w of writers.splice(0)) w.stop();
    await api.close();
  });

  /** A writer whose verdict on team-a is `outcome`, and how it sees team-a (the watch's view). */
  function writer(outcome: () => StatusTarget['outcome']) {
    const log = captureLogger();
    const timers = new ManualTimers();
    const w = new TenantStatusWriter(api.kubeConfig().makeApiClient(CustomObjectsApi), log.logger, {
      now: () => clock,
      timers,
    });
    writers.push(w);
    /** Hands the writer team-a as stored now, as its watch would after each event. */
    const see = async (): Promise<void> => {
      const object = api.store.get(TENANTS, undefined, 'team-a') as Record<string, unknown>;
      w.sync([{ name: 'team-a', object, outcome: outcome() }]);
      await w.idle();
    };
    const fire = async (ms: number): Promise<number> => {
      const fired = timers.fire(ms);
      await w.idle();
      return fired;
    };
    return { w, log, timers, see, fire };
  }

  const puts = (): number => api.count({ verb: 'update', resource: 'tenants', name: 'team-a' });
  const contested = (lines: Array<Record<string, unknown>>) =>
    lines.filter((l) => l.code === 'ERR_TENANT_STATUS_CONTESTED' && l.level === 40);
  const accepted = () => outcomeOf(1, undefined, undefined);
  const invalid = () => outcomeOf(1, 'spec.namespaces[1]: "team-a-cd" is the Argo CD namespace', undefined);

  test('they do not rewrite the status forever: each overwrite doubles the wait, logged once', async () => {
    const one = writer(accepted);
    const two = writer(invalid);
    for (let round = 0; round < 20; round++) {
      await one.see();
      await two.see();
    }
    // one wrote, two overwrote; one saw the overwrite and waits. Before: 2 PUTs a round.
    assert.equal(puts(), 2);
    assert.deepEqual(one.timers.delays(), [5000]);
    const [line] = contested(one.log.lines);
    assert.equal(contested(one.log.lines).length, 1);
    assert.match(
      String(line?.msg),
      /another writer disagrees .* it wrote not accepted \(Invalid: spec\.namespaces\[1\]/,
    );
    assert.match(String(line?.msg), /this one holds accepted/);

    // The wait is over: one writes again; two sees it, waits 5 s; then one waits 10 s.
    clock += 5000;
    assert.equal(await one.fire(5000), 1);
    assert.equal(puts(), 3);
    await two.see();
    assert.deepEqual(two.timers.delays(), [5000]);
    clock += 5000;
    await two.fire(5000);
    assert.equal(puts(), 4);
    await one.see();
    assert.deepEqual(one.timers.delays(), [10_000]);
    for (let round = 0; round < 20; round++) {
      await one.see();
      await two.see();
    }
    assert.equal(puts(), 4, 'nothing while both wait');
    assert.equal(contested(one.log.lines).length, 1, 'one line for the whole contest');
    assert.equal(contested(two.log.lines).length, 1);
  });

  test('a new generation is a new question: written at once', async () => {
    const one = writer(accepted);
    const two = writer(invalid);
    await one.see();
    await two.see();
    await one.see();
    assert.deepEqual(one.timers.delays(), [5000], 'one waits');
    const stored = api.store.get(TENANTS, undefined, 'team-a') as Record<string, any>;
    const edited = api.store.update(TENANTS, undefined, 'team-a', {
      ...stored,
      spec: { ...stored.spec, projects: ['team-a', 'team-a-2'] },
    }) as Record<string, any>;
    assert.equal(edited.metadata.generation, 2);
    const before = puts();
    await one.see();
    assert.equal(puts(), before + 1);
    assert.equal(statusOf(api.store.get(TENANTS, undefined, 'team-a'))?.observedGeneration, 2);
  });

  test('status writes of one Tenant are capped per minute in any case', async () => {
    let flip = 0;
    const one = writer(() =>
      outcomeOf(1, undefined, {
        tenant: 'team-a',
        reason: 'ProjectConflict',
        message: `verdict ${flip++ % 2}`,
      }),
    );
    // 31 looks: the last one wants the verdict other than the one stored.
    for (let i = 0; i < 31; i++) await one.see();
    assert.equal(puts(), 10, 'a verdict that changes at every look is written 10 times a minute at most');
    assert.deepEqual(one.timers.delays(), [60_000]);
    assert.equal(one.log.lines.filter((l) => /reached the cap/.test(String(l.msg))).length, 1);
    clock += 60_000;
    await one.fire(60_000);
    assert.equal(puts(), 11);
  });
});
