/**
 * TurnBatch: tasks put off to the end of the turn run there, in order, a bounded number a
 * turn, and one that throws does not stop the others. The turn is an injected scheduler, so
 * the tests say when it ends.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_MAX_TASKS_PER_TURN, TurnBatch } from '../../src/server/turn-batch.js';

/** A scheduler whose turns end when the test says so. */
function manualTurns() {
  const scheduled: Array<() => void> = [];
  return {
    schedule: (run: () => void) => void scheduled.push(run),
    /** How many ends of turn are waiting. */
    get waiting() {
      return scheduled.length;
    },
    /** Ends the turn: runs what was scheduled before this call (not what that schedules). */
    endTurn() {
      for (const run of scheduled.splice(0)) run();
    },
  };
}

/** onError of a batch whose tasks must not throw. */
function unexpected(err: unknown): never {
  throw new Error(`a task threw: ${String(err)}`);
}

describe('TurnBatch', () => {
  test('runs nothing at once; at the end of the turn, every task in the order it came, one schedule a turn', () => {
    const turns = manualTurns();
    const batch = new TurnBatch({ onError: unexpected, schedule: turns.schedule });
    const ran: number[] = [];
    for (let i = 0; i < 5; i++) batch.defer(() => void ran.push(i));
    assert.deepEqual(ran, []);
    assert.equal(batch.waiting, 5);
    assert.equal(turns.waiting, 1);
    turns.endTurn();
    assert.deepEqual(ran, [0, 1, 2, 3, 4]);
    assert.equal(batch.waiting, 0);
    assert.equal(turns.waiting, 0, 'nothing left: no other turn is asked for');
  });

  test('a task that throws goes to onError and the tasks after it still run', () => {
    const turns = manualTurns();
    const errors: unknown[] = [];
    const batch = new TurnBatch({ onError: (err) => errors.push(err), schedule: turns.schedule });
    const ran: string[] = [];
    batch.defer(() => void ran.push('a'));
    batch.defer(() => {
      throw new Error('boom');
    });
    batch.defer(() => void ran.push('c'));
    turns.endTurn();
    assert.deepEqual(ran, ['a', 'c']);
    assert.equal(errors.length, 1);
    assert.match((errors[0] as Error).message, /boom/);
  });

  test('at most maxPerTurn tasks a turn; the rest run on the next turns, still in order, before later tasks', () => {
    const turns = manualTurns();
    const batch = new TurnBatch({ onError: unexpected, schedule: turns.schedule, maxPerTurn: 2 });
    const ran: number[] = [];
    for (let i = 0; i < 5; i++) batch.defer(() => void ran.push(i));
    turns.endTurn();
    assert.deepEqual(ran, [0, 1]);
    assert.equal(batch.waiting, 3);
    assert.equal(turns.waiting, 1, 'the rest asked for the next turn');
    batch.defer(() => void ran.push(5));
    assert.equal(turns.waiting, 1, 'a task deferred meanwhile waits for that same turn');
    turns.endTurn();
    assert.deepEqual(ran, [0, 1, 2, 3]);
    turns.endTurn();
    assert.deepEqual(ran, [0, 1, 2, 3, 4, 5]);
    assert.equal(turns.waiting, 0);
  });

  test('a task deferred by a running task runs on a later turn, not in the same one', () => {
    const turns = manualTurns();
    const batch = new TurnBatch({ onError: unexpected, schedule: turns.schedule });
    const ran: string[] = [];
    batch.defer(() => {
      ran.push('first');
      batch.defer(() => void ran.push('deferred by first'));
    });
    batch.defer(() => void ran.push('second'));
    turns.endTurn();
    assert.deepEqual(ran, ['first', 'second']);
    assert.equal(turns.waiting, 1);
    turns.endTurn();
    assert.deepEqual(ran, ['first', 'second', 'deferred by first']);
  });

  test("the answers tasks return run after every task of the turn, in the tasks' order; one that throws does not stop the others", () => {
    const turns = manualTurns();
    const errors: unknown[] = [];
    const batch = new TurnBatch({ onError: (err) => errors.push(err), schedule: turns.schedule });
    const ran: string[] = [];
    batch.defer(() => {
      ran.push('judge a');
      return () => void ran.push('answer a');
    });
    batch.defer(() => void ran.push('judge b (no answer)'));
    batch.defer(() => {
      ran.push('judge c');
      return () => {
        throw new Error('answer c failed');
      };
    });
    batch.defer(() => {
      ran.push('judge d');
      return () => void ran.push('answer d');
    });
    turns.endTurn();
    assert.deepEqual(ran, ['judge a', 'judge b (no answer)', 'judge c', 'judge d', 'answer a', 'answer d']);
    assert.equal(errors.length, 1);
    assert.match((errors[0] as Error).message, /answer c failed/);
  });

  test('past maxPerTurn, each turn answers the tasks it ran', () => {
    const turns = manualTurns();
    const batch = new TurnBatch({ onError: unexpected, schedule: turns.schedule, maxPerTurn: 2 });
    const ran: string[] = [];
    for (const name of ['a', 'b', 'c'])
      batch.defer(() => {
        ran.push(`judge ${name}`);
        return () => void ran.push(`answer ${name}`);
      });
    turns.endTurn();
    assert.deepEqual(ran, ['judge a', 'judge b', 'answer a', 'answer b']);
    turns.endTurn();
    assert.deepEqual(ran.slice(4), ['judge c', 'answer c']);
  });

  test('maxPerTurn must be a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      assert.throws(() => new TurnBatch({ onError: unexpected, maxPerTurn: bad }), RangeError);
    assert.ok(DEFAULT_MAX_TASKS_PER_TURN >= 1);
  });

  test('by default the end of the turn is setImmediate: tasks deferred now have run once an immediate queued after them has', async () => {
    const batch = new TurnBatch({ onError: unexpected });
    const ran: number[] = [];
    batch.defer(() => void ran.push(1));
    batch.defer(() => void ran.push(2));
    assert.deepEqual(ran, []);
    await new Promise((ok) => setImmediate(ok));
    assert.deepEqual(ran, [1, 2]);
  });
});
