/**
 * TurnBatch: tasks put off to the end of the turn run there, in order, a bounded number and
 * time a turn, and one that throws does not stop the others. The turn is an injected scheduler and the
 * clock an injected one, so the tests say when a turn ends and how long a task took.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_MAX_TASKS_PER_TURN,
  DEFAULT_TURN_BUDGET_MS,
  TurnBatch,
} from '../../src/server/turn-batch.js';

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

/** A clock in milliseconds that moves only when a task says how long it took. */
function manualClock() {
  let ms = 1_000;
  return {
    now: () => ms,
    spend(cost: number) {
      ms += cost;
    },
  };
}

/** A batch with a 10 ms budget, its turns and its clock driven by the test. */
function budgetedBatch(onError: (err: unknown) => void = unexpected) {
  const turns = manualTurns();
  const clock = manualClock();
  const batch = new TurnBatch({ onError, schedule: turns.schedule, now: clock.now, budgetMs: 10 });
  return { turns, clock, batch };
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

  test('once a task ends with the time budget spent, the rest wait for the next turn, in order, ahead of later tasks', () => {
    const { turns, clock, batch } = budgetedBatch();
    const ran: string[] = [];
    // Findings-heavy reviews of 4 ms each: the third ends the turn (12 ms >= 10).
    for (const name of ['a', 'b', 'c', 'd', 'e'])
      batch.defer(() => {
        ran.push(`judge ${name}`);
        clock.spend(4);
        return () => void ran.push(`answer ${name}`);
      });
    turns.endTurn();
    assert.deepEqual(ran, ['judge a', 'judge b', 'judge c', 'answer a', 'answer b', 'answer c']);
    assert.equal(batch.waiting, 2, 'none dropped');
    assert.equal(turns.waiting, 1, 'the rest asked for the next turn');
    batch.defer(() => void ran.push('judge f'));
    assert.equal(turns.waiting, 1, 'a task deferred meanwhile waits for that same turn');
    turns.endTurn();
    assert.deepEqual(ran.slice(6), ['judge d', 'judge e', 'judge f', 'answer d', 'answer e']);
    assert.equal(batch.waiting, 0);
    assert.equal(turns.waiting, 0);
  });

  test('a task that alone takes longer than the budget still runs, one a turn', () => {
    const { turns, clock, batch } = budgetedBatch();
    const ran: number[] = [];
    for (let i = 0; i < 3; i++)
      batch.defer(() => {
        ran.push(i);
        clock.spend(45);
      });
    for (let turn = 1; turn <= 3; turn++) {
      turns.endTurn();
      assert.deepEqual(ran, [0, 1, 2].slice(0, turn));
    }
    assert.equal(turns.waiting, 0);
  });

  test('a task that throws counts against the budget like any other', () => {
    const errors: unknown[] = [];
    const { turns, clock, batch } = budgetedBatch((err) => errors.push(err));
    const ran: string[] = [];
    batch.defer(() => {
      clock.spend(20);
      throw new Error('slow and broken');
    });
    batch.defer(() => void ran.push('next'));
    turns.endTurn();
    assert.deepEqual(ran, []);
    assert.equal(errors.length, 1);
    turns.endTurn();
    assert.deepEqual(ran, ['next']);
  });

  test('by default, cheap tasks fill a turn up to maxPerTurn: the budget leaves the typical path as it was', () => {
    const turns = manualTurns();
    const clock = manualClock();
    const batch = new TurnBatch({ onError: unexpected, schedule: turns.schedule, now: clock.now });
    let ran = 0;
    // 64 typical reviews of ~60 µs: ~4 ms in all, under the default budget.
    for (let i = 0; i < DEFAULT_MAX_TASKS_PER_TURN + 1; i++)
      batch.defer(() => {
        ran += 1;
        clock.spend(0.06);
      });
    turns.endTurn();
    assert.equal(ran, DEFAULT_MAX_TASKS_PER_TURN);
    assert.equal(DEFAULT_TURN_BUDGET_MS, 10);
    turns.endTurn();
    assert.equal(ran, DEFAULT_MAX_TASKS_PER_TURN + 1);
  });

  test('budgetMs must be a positive number', () => {
    for (const bad of [0, -1, Number.NaN])
      assert.throws(() => new TurnBatch({ onError: unexpected, budgetMs: bad }), RangeError);
    assert.doesNotThrow(() => new TurnBatch({ onError: unexpected, budgetMs: Number.POSITIVE_INFINITY }));
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
