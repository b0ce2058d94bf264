/**
 * Issue 10 item 6: a Tenant watch whose API server stops answering (no error, no close) is
 * noticed within its silence bound, aborted and re-listed, with a log line; readiness says
 * not-ready while the registry is older than its bound; stop() aborts hung requests.
 * Time is injected: the silence and list bounds fire when the test says, the clock moves
 * when the test moves it.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
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

describe('Tenant watch against a hanging API server', () => {
  let api: TestApiServer;
  let clock: number;
  let timers: ManualTimers;
  let watched: WatchedRegistry | undefined;
  let log: ReturnType<typeof captureLogger>;

  beforeEach(async () => {
    clock = Date.parse('2025-03-01T10:00:00Z');
    api = await TestApiServer.start({ now: () => clock });
    api.registerResource(TENANTS);
    timers = new ManualTimers();
    log = captureLogger();
  });

  afterEach(async () => {
    await watched?.stop();
    watched = undefined;
    await api.close();
  });

  /** The defaults for every time bound; only the retry backoff is shortened. */
  function watch(): WatchedRegistry {
    watched = startWatchedRegistry(api, log.logger, { timers, now: () => clock });
    return watched;
  }

  const watchRequests = () => api.requests.filter((r) => r.verb === 'watch' && r.resource === 'tenants');

  test('the watch asks for bookmarks and a server-side end, and a bookmark keeps the registry fresh', async () => {
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    const w = watch();
    await w.whenSynced();
    await eventually('watching', () => watchRequests().length === 1);
    const query = watchRequests()[0]?.query;
    assert.equal(query?.allowWatchBookmarks, 'true');
    assert.equal(query?.timeoutSeconds, String(WATCH_DEFAULTS.watchTimeoutSeconds));
    assert.deepEqual(timers.delays(), [WATCH_DEFAULTS.silenceMs], 'one silence bound armed, at its default');

    clock += WATCH_DEFAULTS.maxStalenessMs - 1000;
    assert.equal(w.isFresh(), true);
    api.sendBookmarks();
    await eventually('the bookmark confirmed the registry', () => w.ageMs() === 0);
    clock += WATCH_DEFAULTS.maxStalenessMs;
    assert.equal(w.isFresh(), true, 'the bookmark counts as a confirmation');
  });

  test('a silent watch: not ready once older than its bound, then aborted, re-listed and logged when the silence bound passes', async () => {
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    const w = watch();
    await w.whenSynced();
    await eventually('watching', () => watchRequests().length === 1);
    const lists = api.count({ verb: 'list', resource: 'tenants' });

    api.stallWatches(); // the API server stops answering: no error, no close
    api.seed(TENANTS, undefined, tenantDoc('team-b'));
    assert.equal(w.current()?.tenant('team-b'), undefined);
    assert.equal(w.isFresh(), true, 'within the staleness bound');
    clock += WATCH_DEFAULTS.maxStalenessMs + 1;
    assert.equal(w.isFresh(), false, 'older than the staleness bound: /readyz answers 503');
    assert.equal(w.state().fresh, false);

    assert.equal(timers.fire(WATCH_DEFAULTS.silenceMs), 1, 'the silence bound fires');
    await eventually('team-b, re-listed', () => w.current()?.tenant('team-b') !== undefined);
    assert.equal(w.isFresh(), true, 'fresh again after the re-list');
    assert.ok(api.count({ verb: 'list', resource: 'tenants' }) > lists, 're-listed');
    await eventually(
      'the silent watch was closed by the client',
      () => watchRequests()[0]?.clientClosed === true,
    );
    const silent = log.lines.filter((l) => String(l.msg).startsWith('Tenant watch silent'));
    assert.equal(silent.length, 1);
    assert.equal(silent[0]?.level, 40);
    assert.equal(silent[0]?.silentMs, WATCH_DEFAULTS.silenceMs);
    assert.equal(w.state().stale, true, 'a new watch request has proved nothing yet');
    await eventually('watching again', () => watchRequests().length === 2);
    api.sendBookmarks();
    await eventually('the new watch proved itself (a bookmark): re-established', () =>
      log.lines.some((l) => String(l.msg).startsWith('Tenant watch re-established')),
    );
    assert.equal(w.state().stale, false);
  });

  test('a watch answered 200 and then nothing (stall fault) is abandoned the same way', async () => {
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    api.inject({ verb: 'watch', resource: 'tenants' }, { stall: true }, 1);
    const w = watch();
    await w.whenSynced();
    await eventually('watching', () => watchRequests().length === 1);
    api.seed(TENANTS, undefined, tenantDoc('team-c'));
    assert.equal(timers.fire(WATCH_DEFAULTS.silenceMs), 1);
    await eventually('team-c after the re-list', () => w.current()?.tenant('team-c') !== undefined);
  });

  test('a list with no answer is abandoned at its timeout and tried again', async () => {
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    api.inject({ verb: 'list', resource: 'tenants' }, { hang: true }, 1);
    const w = watch();
    await eventually('the list is waiting', () => api.count({ verb: 'list', resource: 'tenants' }) === 1);
    assert.equal(w.current(), undefined);
    assert.equal(timers.fire(WATCH_DEFAULTS.listTimeoutMs), 1, 'the list timeout fires');
    await w.whenSynced();
    assert.equal(w.current()?.tenant('team-a')?.name, 'team-a');
    assert.ok(log.lines.some((l) => String(l.msg).startsWith('Tenant list silent')));
    await eventually(
      'the hung list was closed by the client',
      () => api.requests.find((r) => r.verb === 'list')?.clientClosed === true,
    );
  });

  test('stop() aborts a hung list and a silent watch: no request is left open', async () => {
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    const w = watch();
    await w.whenSynced();
    await eventually('watching', () => watchRequests().length === 1);
    api.stallWatches();
    await w.stop();
    await eventually(
      'the watch request closed by the client',
      () => watchRequests()[0]?.clientClosed === true,
    );
    watched = undefined;

    api.inject({ verb: 'list', resource: 'tenants' }, { hang: true });
    const hung = watch();
    await eventually(
      'a second list is waiting',
      () => api.count({ verb: 'list', resource: 'tenants' }) === 2,
    );
    await hung.stop();
    await eventually(
      'the hung list closed by the client',
      () => api.requests.filter((r) => r.verb === 'list')[1]?.clientClosed === true,
    );
    assert.equal(timers.delays().length, 0, 'no bound left armed');
  });
});
