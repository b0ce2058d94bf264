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
import { captureLogger, statusOf, TENANTS, tenantDoc } from './watch-support.js';

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
