/**
 * Log and audit lines a stalled stdout cannot take are bounded and counted, not buffered
 * until the heap limit. A red-team review stalled the webhook's stdout and sent denials with
 * 240 KB names: the writer's buffer grew by each line until the shipped 192 MiB heap was
 * reached and the process died.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import type { LineBatchTimers } from '../../src/server/line-batch.js';
import {
  boundedStdout,
  DROP_REPORT_MS,
  LogDrops,
  MAX_UNWRITTEN_LOG_BYTES,
  registerLogDrops,
} from '../../src/server/log-drops.js';

/** One-shot timers fired by hand. */
function manualTimers(): LineBatchTimers & { fire(): void; pending: Array<{ ms: number }> } {
  const pending: Array<{ fire: () => void; ms: number }> = [];
  return {
    pending,
    set: (fire, ms) => {
      const t = { fire, ms };
      pending.push(t);
      return t;
    },
    clear: (handle) => void pending.splice(pending.indexOf(handle as { fire: () => void; ms: number }), 1),
    fire: () => {
      for (const t of pending.splice(0)) t.fire();
    },
  };
}

describe('lines a stalled stdout cannot take', () => {
  test('the writer of stdout holds at most MAX_UNWRITTEN_LOG_BYTES for a reader that never reads, and says what it dropped', async () => {
    // A FIFO nobody reads, opened read-write so that it opens without a reader: the pipe fills
    // (64 KiB) and stays full, as a container's stdout does behind a stalled log writer.
    const dir = mkdtempSync(join(tmpdir(), 'tg-fifo-'));
    const fifo = join(dir, 'stdout');
    execFileSync('mkfifo', [fifo]);
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const writer = boundedStdout(fd);
    try {
      assert.equal((writer as unknown as { maxLength: number }).maxLength, MAX_UNWRITTEN_LOG_BYTES);
      const drops = new LogDrops(() => undefined, manualTimers());
      drops.watch(writer);
      const line = `${JSON.stringify({ msg: 'admission denied', name: 'n'.repeat(240_000) })}\n`;
      const lines = Math.ceil((2 * MAX_UNWRITTEN_LOG_BYTES) / line.length);
      for (let i = 0; i < lines; i++) writer.write(line);
      const kept = (writer as unknown as { _len: number })._len;
      assert.ok(kept <= MAX_UNWRITTEN_LOG_BYTES, `${kept} bytes kept for the pipe`);
      assert.ok(drops.total >= lines / 2 - 1, `${drops.total} of ${lines} lines counted as dropped`);
      assert.ok(drops.total < lines, 'what fits is kept');
    } finally {
      // What it kept is dropped with the writer, which closes its fd; a write of it still in
      // flight may then fail, which is no matter here.
      writer.on('error', () => undefined);
      const closed = new Promise((done) => writer.once('close', done));
      writer.destroy();
      await closed;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('drops are counted by line and reported at most once a second, then in the counter', async () => {
    const timers = manualTimers();
    const reports: number[] = [];
    const drops = new LogDrops((n) => reports.push(n), timers);
    const writer = new EventEmitter();
    drops.watch(writer);
    writer.emit('drop', '{"a":1}\n{"a":2}\n{"a":3}\n');
    writer.emit('drop', '{"a":4}\n');
    assert.equal(drops.total, 4);
    assert.deepEqual(
      timers.pending.map((t) => t.ms),
      [DROP_REPORT_MS],
      'one report waits, whatever the drops',
    );
    timers.fire();
    assert.deepEqual(reports, [4]);
    writer.emit('drop', '{"a":5}\n');
    timers.fire();
    assert.deepEqual(reports, [4, 1], 'each report says the lines since the last');
    timers.fire();
    assert.deepEqual(reports, [4, 1], 'and none without drops');
    const registry = new Registry();
    registerLogDrops(registry, () => drops.total);
    assert.match(await registry.metrics(), /^tenant_guard_log_lines_dropped_total 5$/m);
    writer.emit('drop', 'x\n');
    assert.match(await registry.metrics(), /^tenant_guard_log_lines_dropped_total 6$/m);
  });
});
