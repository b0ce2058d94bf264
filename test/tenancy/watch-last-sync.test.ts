/**
 * `tenant_guard_registry_last_sync_timestamp_seconds` says when the API server last confirmed
 * the registry current: a list, an event, a bookmark or a watch the server ended normally,
 * as readiness counts it. In a quiet cluster (no Tenant changes) it follows the bookmarks and
 * watch ends; before, it moved only when a Tenant changed, so TenantGuardRegistryStale fired
 * on a healthy replica 15 minutes after the last change. The clock is injected.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { REGISTRY_METRICS } from '../../src/tenancy/tenant-metrics.js';
import { WATCH_DEFAULTS, type WatchedRegistry } from '../../src/tenancy/watch-source.js';
import { TestApiServer } from '../support/test-api-server.js';
import {
  captureLogger,
  eventually,
  ManualTimers,
  startWatchedRegistry,
  tenantDoc,
  TENANTS,
} from './watch-support.js';

describe('the last-sync gauge of the Tenant watch', () => {
  let api: TestApiServer;
  let clock: number;
  let watched: WatchedRegistry | undefined;
  let metrics: Registry;

  beforeEach(async () => {
    clock = Date.parse('2025-03-01T10:00:00Z');
    api = await TestApiServer.start({ now: () => clock });
    api.registerResource(TENANTS);
    metrics = new Registry();
  });

  afterEach(async () => {
    await watched?.stop();
    watched = undefined;
    await api.close();
  });

  const lastSync = async (): Promise<number | undefined> =>
    (await metrics.getSingleMetric(REGISTRY_METRICS.lastSync)?.get())?.values[0]?.value;
  const watches = () => api.count({ verb: 'watch', resource: 'tenants' });

  test('no Tenant changes: bookmarks and normal watch ends move it, as they keep the registry fresh', async () => {
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    const w = startWatchedRegistry(api, captureLogger().logger, {
      metrics,
      timers: new ManualTimers(),
      now: () => clock,
    });
    watched = w;
    await w.whenSynced();
    await eventually('watching', () => watches() === 1);
    assert.equal(await lastSync(), clock / 1000, 'the list');

    // Ten minutes of bookmarks, one a minute, and no Tenant changed.
    for (let minute = 1; minute <= 10; minute++) {
      clock += 60_000;
      api.sendBookmarks();
      await eventually(`bookmark ${minute} applied`, () => w.ageMs() === 0);
      assert.equal(await lastSync(), clock / 1000, `bookmark ${minute}`);
    }

    // The server ends the watch normally (after its timeout); the informer watches on.
    clock += WATCH_DEFAULTS.watchTimeoutSeconds * 1000;
    api.dropWatches();
    await eventually('the normal end confirmed the registry', () => w.ageMs() === 0);
    assert.equal(await lastSync(), clock / 1000, 'a normal watch end');
    assert.equal(w.isFresh(), true);
    assert.equal(w.state().stale, false);

    // Silence: the gauge stays where the last confirmation left it, and ages with readiness.
    const confirmed = clock;
    clock += WATCH_DEFAULTS.maxStalenessMs + 1;
    assert.equal(w.isFresh(), false);
    assert.equal(await lastSync(), confirmed / 1000);
  });

  test('an event moves it once the registry is rebuilt with it', async () => {
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    const w = startWatchedRegistry(api, captureLogger().logger, { metrics, now: () => clock });
    watched = w;
    await w.whenSynced();
    await eventually('watching', () => watches() === 1);
    clock += 120_000;
    api.seed(TENANTS, undefined, tenantDoc('team-b'));
    await eventually('team-b', () => w.current()?.tenant('team-b') !== undefined);
    assert.equal(await lastSync(), clock / 1000);
  });
});
