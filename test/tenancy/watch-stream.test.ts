/**
 * The Tenant watch stream is untrusted input (a red-team review): a line that is no watch
 * event, an ERROR event, or a watch that ends at once having sent nothing is a failure
 * (logged, stale, backed off, re-listed), never a crash and never a confirmation; the backoff
 * grows until a watch proves itself; a 429's Retry-After is honoured. The clock is injected
 * (it does not move unless a test moves it, so every watch "lasts" 0 ms).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { readWatchEvent } from '../../src/tenancy/bounded-watch.js';
import type { WatchedRegistry } from '../../src/tenancy/watch-source.js';
import { TestApiServer } from '../support/test-api-server.js';
import { captureLogger, eventually, startWatchedRegistry, tenantDoc, TENANTS } from './watch-support.js';

const status = (code: number, reason: string) =>
  JSON.stringify({
    type: 'ERROR',
    object: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      code,
      reason,
      message: reason,
    },
  });

describe('the Tenant watch stream is untrusted input', () => {
  let api: TestApiServer;
  let clock: number;
  let watched: WatchedRegistry | undefined;
  let log: ReturnType<typeof captureLogger>;

  beforeEach(async () => {
    clock = Date.parse('2025-03-01T10:00:00Z');
    api = await TestApiServer.start({ now: () => clock });
    api.registerResource(TENANTS);
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    log = captureLogger();
  });

  afterEach(async () => {
    await watched?.stop();
    watched = undefined;
    await api.close();
  });

  function watch(backoffMaxMs = 20): WatchedRegistry {
    watched = startWatchedRegistry(api, log.logger, { backoffMaxMs, now: () => clock });
    return watched;
  }

  const broken = () => log.lines.filter((l) => String(l.msg).startsWith('Tenant watch broken'));
  const lists = () => api.count({ verb: 'list', resource: 'tenants' });

  const badLines: Array<[string, string, RegExp]> = [
    ['an object without metadata', '{"type":"MODIFIED","object":{}}', /MODIFIED event without metadata/],
    ['a null object', '{"type":"ADDED","object":null}', /not a watch event/],
    ['null metadata', '{"type":"DELETED","object":{"metadata":null}}', /DELETED event without metadata/],
    [
      'a nameless event',
      '{"type":"ADDED","object":{"metadata":{"resourceVersion":"7"}}}',
      /ADDED event without metadata.name/,
    ],
    ['a bookmark without a resourceVersion', '{"type":"BOOKMARK","object":{}}', /BOOKMARK event without/],
    [
      'an unknown type',
      '{"type":"PATCHED","object":{"metadata":{"name":"team-a","resourceVersion":"7"}}}',
      /unknown type "PATCHED"/,
    ],
    [
      'a torn line',
      '{"type":"MODIFIED","object":{"metadata":{"name":"team-a","resourceVersion":"9"',
      /not a watch event/,
    ],
    ['a line of a proxy', '<html>keep-alive</html>', /not a watch event \(a line of 23 characters\)/],
  ];
  for (const [name, line, reason] of badLines) {
    test(`${name}: the watch ends as a failure, the process goes on, a re-list carries the change`, async () => {
      const w = watch();
      await w.whenSynced();
      const before = lists();
      api.inject({ verb: 'watch', resource: 'tenants' }, { watchLines: [line] }, 1);
      clock += 2_000; // the watch open now ends normally after 2 s: the informer re-watches
      api.dropWatches();
      // Only a list can carry this change: the next watch is the faulty one, which sends no event.
      api.seed(TENANTS, undefined, tenantDoc('team-b'));
      await eventually('team-b, re-listed', () => w.current()?.tenant('team-b') !== undefined, 5000);
      assert.ok(lists() > before, 're-listed');
      assert.equal(broken().length, 1);
      const why = String(broken()[0]?.msg);
      assert.match(why, reason);
      assert.doesNotMatch(why, /resourceVersion":"9|keep-alive/, 'the line itself is not logged');
    });
  }

  test('readWatchEvent passes the events the informer reads, and only those', () => {
    const rv = { resourceVersion: '5' };
    for (const type of ['ADDED', 'MODIFIED', 'DELETED'])
      assert.equal(typeof readWatchEvent({ type, object: { metadata: { name: 'a', ...rv } } }), 'object');
    assert.equal(typeof readWatchEvent({ type: 'BOOKMARK', object: { metadata: rv } }), 'object');
    assert.equal(typeof readWatchEvent({ type: 'ERROR', object: { code: 410 } }), 'object');
    assert.equal(
      typeof readWatchEvent({ type: 'ADDED', object: { metadata: { name: 'a', namespace: 3, ...rv } } }),
      'string',
    );
    assert.equal(
      typeof readWatchEvent({ type: 'ADDED', object: { metadata: { name: '', ...rv } } }),
      'string',
    );
    assert.equal(typeof readWatchEvent({ type: 'ADDED', object: [] }), 'string');
  });

  test('an ERROR event other than 410 is a failure with its code, not a confirmation', async () => {
    const w = watch();
    await w.whenSynced();
    api.inject(
      { verb: 'watch', resource: 'tenants' },
      { watchLines: [status(500, 'InternalError')], end: true },
      1,
    );
    clock += 2_000;
    api.dropWatches();
    await eventually('the failure is logged', () => broken().length === 1, 5000);
    assert.match(String(broken()[0]?.msg), /ERROR event: 500 InternalError/);
  });

  test('410 Gone is no failure: the informer re-lists, nothing is logged as broken', async () => {
    const w = watch();
    await w.whenSynced();
    const before = lists();
    api.inject(
      { verb: 'watch', resource: 'tenants' },
      { watchLines: [status(410, 'Expired')], end: true },
      1,
    );
    clock += 2_000;
    api.dropWatches();
    await eventually('re-listed', () => lists() > before, 5000);
    assert.deepEqual(broken(), []);
    assert.equal(w.state().stale, false);
  });

  test('watches that end at once having sent nothing: failures whose count grows, stale until one proves itself', async () => {
    const w = watch();
    await w.whenSynced();
    api.inject({ verb: 'watch', resource: 'tenants' }, { watchLines: [], end: true }, Infinity);
    api.dropWatches();
    await eventually('failures pile up', () => w.state().consecutiveFailures >= 4, 5000);
    assert.equal(w.state().stale, true);
    assert.equal(broken().length, 1, 'one line when it broke, no flapping');
    assert.match(String(broken()[0]?.msg), /ended after 0 ms having sent nothing/);
    assert.ok(!log.lines.some((l) => String(l.msg).startsWith('Tenant watch re-established')));
    api.clearFaults();
    api.sendBookmarks();
    await eventually('re-established by a bookmark', () => w.state().stale === false, 5000);
    assert.equal(w.state().consecutiveFailures, 0);
  });

  test("a watch answered 429 waits the API server's Retry-After", async () => {
    const w = watch(60_000);
    await w.whenSynced();
    api.inject({ verb: 'watch', resource: 'tenants' }, { status: 429, retryAfterSeconds: 7 }, 1);
    clock += 2_000;
    api.dropWatches();
    await eventually('the failure is logged', () => broken().length === 1, 5000);
    const retryInMs = Number(broken()[0]?.retryInMs);
    assert.ok(retryInMs >= 7000 && retryInMs <= 60_000, `retry in ${retryInMs} ms`);
    assert.match(String(broken()[0]?.msg), /answered 429/);
  });

  test("a list answered 429 waits the API server's Retry-After too", async () => {
    api.inject({ verb: 'list', resource: 'tenants' }, { status: 429, retryAfterSeconds: 3 }, 1);
    watch(60_000);
    const cannot = () => log.lines.filter((l) => String(l.msg).startsWith('cannot list Tenants'));
    await eventually('the failure is logged', () => cannot().length === 1, 5000);
    const retryInMs = Number(cannot()[0]?.retryInMs);
    assert.ok(retryInMs >= 3000 && retryInMs <= 60_000, `retry in ${retryInMs} ms`);
  });
});
