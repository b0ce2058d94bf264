/**
 * The watched registry's size is a checked bound (a red-team review filled the heap of every
 * replica with schema-valid Tenants at the first list): Tenants are listed in pages of one
 * snapshot, and past `maxRegistryChars` of JSON, listed or added by watch events, the
 * registry is not loaded further: a failure like any other, the last good registry served.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { LIST_PAGE_SIZE } from '../../src/tenancy/registry-size.js';
import type { WatchedRegistry } from '../../src/tenancy/watch-source.js';
import { TestApiServer } from '../support/test-api-server.js';
import { captureLogger, eventually, startWatchedRegistry, tenantDoc, TENANTS } from './watch-support.js';

describe('the watched registry is bounded', () => {
  let api: TestApiServer;
  let watched: WatchedRegistry | undefined;
  let log: ReturnType<typeof captureLogger>;

  beforeEach(async () => {
    api = await TestApiServer.start();
    api.registerResource(TENANTS);
    log = captureLogger();
  });

  afterEach(async () => {
    await watched?.stop();
    watched = undefined;
    await api.close();
  });

  function watch(maxRegistryChars?: number): WatchedRegistry {
    watched = startWatchedRegistry(
      api,
      log.logger,
      maxRegistryChars === undefined ? {} : { maxRegistryChars },
    );
    return watched;
  }

  const lists = () => api.requests.filter((r) => r.verb === 'list' && r.resource === 'tenants');
  const tooLarge = () => log.lines.filter((l) => String(l.msg).includes('characters of JSON'));

  test(`Tenants come in pages of ${LIST_PAGE_SIZE}, all of one snapshot`, async () => {
    const count = 2 * LIST_PAGE_SIZE + 20;
    for (let i = 0; i < count; i++) api.seed(TENANTS, undefined, tenantDoc(`team-${i}`));
    const w = watch();
    await w.whenSynced();
    assert.equal(w.current()?.size, count);
    const pages = lists();
    assert.equal(pages.length, 3);
    assert.ok(pages.every((p) => p.query.limit === String(LIST_PAGE_SIZE)));
    assert.equal(pages[0]?.query.continue, undefined);
    assert.ok(pages.slice(1).every((p) => typeof p.query.continue === 'string'));
  });

  test('a list past the bound is refused: the registry is not loaded, the reason is logged; loaded once within it', async () => {
    for (let i = 0; i < 10; i++) api.seed(TENANTS, undefined, tenantDoc(`team-${i}`));
    const w = watch(2_000);
    await eventually('the list refused', () => tooLarge().length > 0, 5000);
    assert.equal(w.current(), undefined, 'not synced: every admission request is denied');
    assert.equal(tooLarge()[0]?.code, 'ERR_TENANT_WATCH');
    for (let i = 2; i < 10; i++) api.store.delete(TENANTS, undefined, `team-${i}`);
    await w.whenSynced();
    assert.equal(w.current()?.size, 2);
  });

  test('watch events that grow the registry past the bound: the last good registry is served, stale', async () => {
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    const w = watch(3_000);
    await w.whenSynced();
    for (let i = 0; i < 10; i++) api.seed(TENANTS, undefined, tenantDoc(`team-${i}`));
    await eventually('the growth refused', () => tooLarge().length > 0, 5000);
    assert.equal(w.state().stale, true);
    assert.ok(w.current()?.tenant('team-a') !== undefined, 'the last good registry');
    assert.ok((w.current()?.size ?? 0) < 11);
  });
});
