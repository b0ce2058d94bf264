/**
 * 410 Gone on the Tenant watch (a red-team review): a watch answered 410 every time, as an
 * ERROR event or as the answer itself, made the informer re-list in a tight loop (~300 full
 * lists and rebuilds a second), with no backoff, no stale gauge and no log line. One 410 is
 * re-listed at once (normal after compaction); another before a watch proved itself is a
 * failure: backed off, stale, logged once. The clock and the retry timer are injected: a
 * retry happens when the test fires it, and every watch "lasts" 0 ms unless the clock moves.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { WatchedRegistry } from '../../src/tenancy/watch-source.js';
import type { FaultAction } from '../support/api-faults.js';
import { TestApiServer } from '../support/test-api-server.js';
import {
  captureLogger,
  eventually,
  ManualTimers,
  startWatchedRegistry,
  tenantDoc,
  TENANTS,
} from './watch-support.js';

const EXPIRED = JSON.stringify({
  type: 'ERROR',
  object: {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'too old resource version: 5 (12)',
    reason: 'Expired',
    code: 410,
  },
});

const WATCH = { verb: 'watch', resource: 'tenants' } as const;
const INITIAL_MS = 1000;

const storms: Array<[string, FaultAction, RegExp]> = [
  ['an ERROR event 410', { watchLines: [EXPIRED], end: true }, /ERROR event: 410 Expired, again/],
  ['the watch answered 410', { status: 410 }, /answered 410, again/],
];

describe('410 Gone on the Tenant watch', () => {
  let api: TestApiServer;
  let clock: number;
  let retry: ManualTimers;
  let watched: WatchedRegistry | undefined;
  let log: ReturnType<typeof captureLogger>;

  beforeEach(async () => {
    clock = Date.parse('2025-03-01T10:00:00Z');
    api = await TestApiServer.start({ now: () => clock });
    api.registerResource(TENANTS);
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    retry = new ManualTimers();
    log = captureLogger();
  });

  afterEach(async () => {
    await watched?.stop();
    watched = undefined;
    await api.close();
  });

  async function watch(): Promise<WatchedRegistry> {
    watched = startWatchedRegistry(api, log.logger, {
      backoffInitialMs: INITIAL_MS,
      backoffMaxMs: 30_000,
      retryTimers: retry,
      now: () => clock,
    });
    await watched.whenSynced();
    await proven(watched);
    return watched;
  }

  /** Once a watch is open, a bookmark on it, applied (the clock moved: a new confirmation). */
  async function proven(w: WatchedRegistry): Promise<void> {
    await eventually('a watch open', () => api.openWatches() === 1, 5000);
    clock += 1;
    api.sendBookmarks();
    await eventually('the watch proved itself', () => w.ageMs() === 0, 5000);
  }

  const lists = () => api.count({ verb: 'list', resource: 'tenants' });
  const broken = () => log.lines.filter((l) => String(l.msg).startsWith('Tenant watch broken'));
  /** Waits until a retry is pending, or the lists run away (the loop before the fix). */
  const settled = (listsBefore: number) =>
    eventually('a retry pending', () => retry.delays().length > 0 || lists() - listsBefore > 10, 5000);
  /** Fires the pending retry; returns its delay. */
  const fireRetry = (): number => {
    const [delay] = retry.delays();
    assert.ok(delay !== undefined, 'a retry is pending');
    assert.equal(retry.fire(delay), 1);
    return delay;
  };

  for (const [name, storm, why] of storms) {
    test(`every watch answered 410 (${name}): one re-list at once, then failures backed off, stale, logged once`, async () => {
      const w = await watch();
      const before = lists();
      api.inject(WATCH, storm, Infinity);
      clock += 2_000; // the open watch ends normally after 2 s: it proved itself
      api.dropWatches();

      await settled(before);
      assert.equal(lists() - before, 1, 'the first 410 is re-listed at once, the second is not');
      assert.equal(retry.delays().length, 1);
      const first = retry.delays()[0] ?? 0;
      assert.ok(first >= INITIAL_MS * 0.8 && first <= INITIAL_MS * 1.2, `first retry in ${first} ms`);
      assert.equal(w.state().stale, true);
      assert.equal(w.state().consecutiveFailures, 1);
      assert.equal(broken().length, 1);
      assert.match(String(broken()[0]?.msg), why);

      // Each retry lists once, is answered 410 again, and waits twice as long.
      fireRetry();
      await eventually(
        'the next retry pending',
        () => retry.delays().length > 0 || lists() - before > 10,
        5000,
      );
      assert.equal(lists() - before, 2);
      const second = retry.delays()[0] ?? 0;
      assert.ok(
        second >= 2 * INITIAL_MS * 0.8 && second <= 2 * INITIAL_MS * 1.2,
        `second retry in ${second} ms`,
      );
      assert.equal(w.state().consecutiveFailures, 2);
      assert.equal(broken().length, 1, 'one line when it broke, none per attempt');

      // Unconfirmed by the watch: past the staleness bound since the last list, not fresh.
      clock += 60_001;
      assert.equal(w.isFresh(), false);

      // The API server recovers: the next watch proves itself with a bookmark.
      api.clearFaults();
      fireRetry();
      await proven(w);
      assert.equal(w.state().stale, false);
      assert.equal(w.state().consecutiveFailures, 0);
      assert.equal(w.isFresh(), true);
    });
  }

  test('a single 410 after a watch proved itself is re-listed at once, again and again: no failure', async () => {
    const w = await watch();
    for (let round = 1; round <= 3; round += 1) {
      const before = lists();
      api.inject(WATCH, { watchLines: [EXPIRED], end: true }, 1);
      clock += 2_000;
      api.dropWatches();
      await eventually(`round ${round}: re-listed`, () => lists() > before, 5000);
      await proven(w); // the watch after the re-list applies a bookmark
      assert.equal(lists() - before, 1);
    }
    assert.deepEqual(retry.delays(), []);
    assert.deepEqual(broken(), []);
    assert.equal(w.state().stale, false);
    assert.equal(w.state().consecutiveFailures, 0);
  });
});
