import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { ConnectionGuard, type ConnectionGuardLimits } from '../../src/server/connection-guard.js';
import { registerConnectionsClosed } from '../../src/server/metrics.js';

/** A guard over named connections, on a clock the test moves. */
function guardWith(limits: Partial<ConnectionGuardLimits> = {}) {
  let now = 0;
  const guard = new ConnectionGuard<string>(
    { maxConnections: 4, maxIdlePerSource: 4, sourceGraceMs: 0, ...limits },
    () => now,
  );
  const admit = (name: string, source = 'a') => {
    const admission = guard.admit(name, source);
    return admission.admitted ? admission.close : 'refused';
  };
  return { guard, admit, tick: (ms = 1) => (now += ms) };
}

describe('ConnectionGuard', () => {
  test('below the cap and the share, every connection is admitted and none closed', () => {
    const { guard, admit } = guardWith();
    assert.deepEqual(
      ['c1', 'c2', 'c3', 'c4'].map((c) => admit(c)),
      [[], [], [], []],
    );
    assert.deepEqual(guard.load, { open: 4, idle: 4 });
  });

  test('at the cap, a new connection closes the one idle the longest, of any source', () => {
    const { guard, admit, tick } = guardWith({ maxConnections: 3 });
    admit('old', 'b');
    tick();
    admit('c2');
    tick();
    admit('c3');
    assert.deepEqual(admit('new'), ['old']);
    assert.deepEqual(guard.counts, { evictedAtCap: 1, evictedPerSource: 0, refused: 0 });
  });

  test('the longest idle counts from the end of its last answer, not from its opening', () => {
    const { guard, admit, tick } = guardWith({ maxConnections: 2 });
    admit('keepAlive');
    tick();
    admit('silent');
    tick();
    guard.requestStarted('keepAlive');
    tick();
    assert.deepEqual(guard.requestEnded('keepAlive'), []);
    assert.deepEqual(admit('new'), ['silent']);
  });

  test('a busy connection is never closed for room; when all are busy the newcomer is refused', () => {
    const { guard, admit } = guardWith({ maxConnections: 2 });
    admit('busy1');
    admit('busy2');
    guard.requestStarted('busy1');
    guard.requestStarted('busy2');
    assert.equal(admit('new'), 'refused');
    assert.deepEqual(guard.load, { open: 2, idle: 0 });
    assert.deepEqual(guard.counts, { evictedAtCap: 0, evictedPerSource: 0, refused: 1 });
    // Pipelined requests: busy until the last answer ends.
    guard.requestStarted('busy1');
    assert.deepEqual(guard.requestEnded('busy1'), []);
    assert.equal(admit('new'), 'refused');
    guard.requestEnded('busy1');
    assert.deepEqual(admit('new'), ['busy1']);
  });

  test("past its share, a source's own longest-idle connections close, not another source's", () => {
    const { guard, admit, tick } = guardWith({ maxConnections: 10, maxIdlePerSource: 2 });
    admit('other', 'b');
    tick();
    admit('a1');
    tick();
    admit('a2');
    tick();
    assert.deepEqual(admit('a3'), ['a1']);
    assert.deepEqual(guard.counts, { evictedAtCap: 0, evictedPerSource: 1, refused: 0 });
    assert.deepEqual(guard.load, { open: 3, idle: 3 });
  });

  test('busy connections do not count against the share, and one going idle past it trims the oldest', () => {
    const { guard, admit, tick } = guardWith({ maxConnections: 100, maxIdlePerSource: 2 });
    const busy = Array.from({ length: 50 }, (_, i) => `busy${i}`);
    for (const c of busy) {
      assert.deepEqual(admit(c), []);
      guard.requestStarted(c);
    }
    assert.deepEqual(guard.load, { open: 50, idle: 0 });
    tick();
    assert.deepEqual(guard.requestEnded('busy0'), []);
    tick();
    assert.deepEqual(guard.requestEnded('busy1'), []);
    tick();
    assert.deepEqual(guard.requestEnded('busy2'), ['busy0']);
  });

  test('within the grace, new connections past the share are kept (a burst in its handshakes)', () => {
    const { guard, admit, tick } = guardWith({
      maxConnections: 100,
      maxIdlePerSource: 2,
      sourceGraceMs: 2_000,
    });
    for (let i = 0; i < 10; i++) assert.deepEqual(admit(`burst${i}`), []);
    tick(1_999);
    assert.deepEqual(admit('more'), []);
    tick(1);
    // Past the grace, the source is brought back to its share at once (the newcomer's room
    // included); those still within it stay.
    assert.deepEqual(
      admit('late'),
      Array.from({ length: 10 }, (_, i) => `burst${i}`),
    );
    assert.deepEqual(guard.load, { open: 2, idle: 2 });
  });

  test('the cap makes room whatever the grace', () => {
    const { admit } = guardWith({ maxConnections: 2, sourceGraceMs: 60_000 });
    admit('c1');
    admit('c2');
    assert.deepEqual(admit('c3'), ['c1']);
  });

  test('a closed connection leaves the guard; closing an unknown one is a no-op', () => {
    const { guard, admit } = guardWith({ maxConnections: 2 });
    admit('c1');
    admit('c2');
    guard.closed('c1');
    guard.closed('never');
    guard.requestStarted('never');
    assert.deepEqual(guard.requestEnded('never'), []);
    assert.deepEqual(admit('c3'), []);
    assert.deepEqual(guard.load, { open: 2, idle: 2 });
  });

  test('limits below 1 are refused at construction', () => {
    assert.throws(
      () => new ConnectionGuard({ maxConnections: 0, maxIdlePerSource: 1, sourceGraceMs: 0 }),
      RangeError,
    );
    assert.throws(
      () => new ConnectionGuard({ maxConnections: 1, maxIdlePerSource: 0, sourceGraceMs: 0 }),
      RangeError,
    );
  });
});

test('tenant_guard_connections_closed_total says what the guard closed, by reason, at each scrape', async () => {
  const registry = new Registry();
  const { guard, admit } = guardWith({ maxConnections: 1 });
  registerConnectionsClosed(registry, () => guard.counts);
  admit('c1');
  admit('c2');
  guard.requestStarted('c2');
  admit('c3');
  const lines = async () =>
    (await registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith('tenant_guard_connections_closed_total{'));
  assert.deepEqual(await lines(), [
    'tenant_guard_connections_closed_total{reason="at_cap"} 1',
    'tenant_guard_connections_closed_total{reason="per_source"} 0',
    'tenant_guard_connections_closed_total{reason="refused"} 1',
  ]);
  admit('c4');
  assert.equal((await lines())[2], 'tenant_guard_connections_closed_total{reason="refused"} 2');
});
