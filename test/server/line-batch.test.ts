/**
 * LineBatch: log and audit lines handed to stdout's writer joined, a few KB at a time or a
 * few ms after the first, all of them flushed synchronously on exit, none after `stop()` held.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  LineBatch,
  realTimers,
  type ExitHooks,
  type LineBatchTimers,
  type LineSink,
} from '../../src/server/line-batch.js';

/** A writer that records what it is handed and when it is flushed. */
function recordingSink() {
  const events: string[] = [];
  const sink: LineSink = {
    write: (data) => {
      events.push(`write ${JSON.stringify(data)}`);
      return true;
    },
    flushSync: () => void events.push('flushSync'),
  };
  return { sink, events };
}

/** Timers fired by hand. */
function manualTimers() {
  const armed = new Map<number, { fire: () => void; ms: number }>();
  let next = 0;
  const timers: LineBatchTimers = {
    set: (fire, ms) => {
      armed.set(++next, { fire, ms });
      return next;
    },
    clear: (handle) => void armed.delete(handle as number),
  };
  const fireAll = () => {
    for (const [id, t] of [...armed]) {
      armed.delete(id);
      t.fire();
    }
  };
  return { timers, armed, fireAll };
}

function exitHooks() {
  const hooks = new Set<() => void>();
  const exit: ExitHooks = { add: (h) => void hooks.add(h), remove: (h) => void hooks.delete(h) };
  return { exit, hooks, exitNow: () => [...hooks].forEach((h) => h()) };
}

const options = { minChars: 30, maxDelayMs: 10 };

test('lines under the threshold wait for the timer, armed once, then go out joined and in order', () => {
  const { sink, events } = recordingSink();
  const { timers, armed, fireAll } = manualTimers();
  const batch = new LineBatch(sink, options, timers, exitHooks().exit);
  batch.write('a\n');
  batch.write('bb\n');
  batch.write('ccc\n');
  assert.deepEqual(events, [], 'nothing written before the threshold or the timer');
  assert.equal(armed.size, 1, 'one timer for the whole batch');
  assert.equal([...armed.values()][0]?.ms, 10);
  fireAll();
  assert.deepEqual(events, ['write "a\\nbb\\nccc\\n"']);
  batch.write('d\n');
  assert.equal(armed.size, 1, 'the next line arms a new timer');
  fireAll();
  assert.deepEqual(events.slice(1), ['write "d\\n"']);
});

test('reaching the threshold hands the batch over at once and disarms the timer', () => {
  const { sink, events } = recordingSink();
  const { timers, armed } = manualTimers();
  const batch = new LineBatch(sink, options, timers, exitHooks().exit);
  batch.write(`${'x'.repeat(20)}\n`);
  batch.write(`${'y'.repeat(9)}\n`);
  assert.deepEqual(events, [`write ${JSON.stringify(`${'x'.repeat(20)}\n${'y'.repeat(9)}\n`)}`]);
  assert.equal(armed.size, 0, 'no timer left for an empty batch');
  batch.write(`${'z'.repeat(40)}\n`);
  assert.equal(events.length, 2, 'a line over the threshold on its own goes out at once');
  assert.equal(armed.size, 0);
});

test('on exit what waits is handed over and flushed synchronously', () => {
  const { sink, events } = recordingSink();
  const { timers } = manualTimers();
  const { exit, hooks, exitNow } = exitHooks();
  const batch = new LineBatch(sink, options, timers, exit);
  assert.equal(hooks.size, 1, 'the batch hooks the exit as it is made');
  batch.write('audit 1\n');
  batch.write('audit 2\n');
  exitNow();
  assert.deepEqual(events, ['write "audit 1\\naudit 2\\n"', 'flushSync']);
});

test('stop() hands over what waits, lets later lines straight through and unhooks the exit', () => {
  const { sink, events } = recordingSink();
  const { timers, armed } = manualTimers();
  const { exit, hooks } = exitHooks();
  const batch = new LineBatch(sink, options, timers, exit);
  batch.write('before\n');
  batch.stop();
  assert.deepEqual(events, ['write "before\\n"']);
  assert.equal(armed.size, 0);
  assert.equal(hooks.size, 0, 'no exit listener left behind');
  batch.write('after 1\n');
  batch.write('after 2\n');
  assert.deepEqual(events.slice(1), ['write "after 1\\n"', 'write "after 2\\n"']);
  assert.equal(armed.size, 0, 'no batching after stop');
});

test('the real timer does not keep the process alive', () => {
  const handle = realTimers.set(() => assert.fail('cleared before it fires'), 60_000) as NodeJS.Timeout;
  try {
    assert.equal(handle.hasRef(), false);
  } finally {
    realTimers.clear(handle);
  }
});
