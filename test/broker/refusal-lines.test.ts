// Every refused token request is an audit line or counted on one (SPEC section 8), within a
// budget of lines per source. A red-team review: a caller that made 500 forbidden requests
// and stopped left 20 lines and no count of the other 480, as the count waited for the
// budget's next refusal, which never came.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TokenAuditRecord } from '../../src/audit/record.js';
import {
  MAX_WAITING_BUDGETS,
  REFUSAL_LINES_BURST,
  REFUSAL_LINES_PER_SECOND,
  RefusalLines,
  SWEEP_MS,
} from '../../src/broker/refusal-lines.js';
import { auditRecords, brokerReviewing, recordingLogger } from './helpers.js';

const SERVER = 'https://team-a-dev.example.com';

function refusal(i: number, source = '10.9.0.1'): TokenAuditRecord {
  return {
    event: 'refused',
    target: `t${i}`,
    caller: null,
    pod: null,
    code: 'ERR_BROKER_UNAUTHENTICATED',
    source,
  };
}

/** Refusals accounted for by `lines`: each line, and the count it carries. */
function accounted(lines: readonly TokenAuditRecord[]): number {
  return lines.reduce((sum, l) => sum + 1 + (l.suppressed ?? 0), 0);
}

describe('refusal lines: a budget per source, nothing lost', () => {
  test('a source that stops: the sweep writes what waits once its budget allows, the last refusal with the count of the others', () => {
    let clock = 1_000_000;
    const lines: TokenAuditRecord[] = [];
    const refusals = new RefusalLines(
      (r) => lines.push(r),
      () => clock,
    );
    for (let i = 0; i < 500; i++) refusals.refused('source 10.9.0.1', refusal(i));
    assert.equal(lines.length, REFUSAL_LINES_BURST);
    assert.equal(refusals.waitingCount, 500 - REFUSAL_LINES_BURST);
    refusals.sweep();
    assert.equal(lines.length, REFUSAL_LINES_BURST, 'no line before the budget allows one');
    clock += 1_000 / REFUSAL_LINES_PER_SECOND;
    refusals.sweep();
    assert.equal(lines.length, REFUSAL_LINES_BURST + 1);
    assert.deepEqual(lines.at(-1), { ...refusal(499), suppressed: 500 - REFUSAL_LINES_BURST - 1 });
    assert.equal(refusals.waitingCount, 0);
    assert.equal(accounted(lines), 500, 'every refusal is a line or counted on one');
    refusals.sweep();
    assert.equal(lines.length, REFUSAL_LINES_BURST + 1, 'nothing is written twice');
  });

  test('the next refusal within the budget still carries the count, as before', () => {
    let clock = 1_000_000;
    const lines: TokenAuditRecord[] = [];
    const refusals = new RefusalLines(
      (r) => lines.push(r),
      () => clock,
    );
    for (let i = 0; i < 30; i++) refusals.refused('source a', refusal(i));
    clock += 1_000;
    refusals.refused('source a', refusal(30));
    assert.deepEqual(lines.at(-1), { ...refusal(30), suppressed: 10 });
    assert.equal(accounted(lines), 31);
  });

  test('close writes what waits, whatever the budget', () => {
    const lines: TokenAuditRecord[] = [];
    const refusals = new RefusalLines(
      (r) => lines.push(r),
      () => 5,
    );
    for (let i = 0; i < REFUSAL_LINES_BURST + 1; i++) refusals.refused('source a', refusal(i));
    for (let i = 0; i < REFUSAL_LINES_BURST + 3; i++) refusals.refused('source b', refusal(i, '10.9.0.2'));
    refusals.close();
    assert.equal(accounted(lines), 2 * REFUSAL_LINES_BURST + 4);
    assert.deepEqual(lines.slice(-2), [
      refusal(REFUSAL_LINES_BURST),
      { ...refusal(REFUSAL_LINES_BURST + 2, '10.9.0.2'), suppressed: 2 },
    ]);
  });

  test(`past ${MAX_WAITING_BUDGETS} budgets waiting, the least recently refused is written, not forgotten`, () => {
    const lines: TokenAuditRecord[] = [];
    const refusals = new RefusalLines(
      (r) => lines.push(r),
      () => 5,
    );
    const burst = (budget: number) => {
      for (let i = 0; i <= REFUSAL_LINES_BURST; i++)
        refusals.refused(`source ${budget}`, refusal(i, `s${budget}`));
    };
    for (let b = 0; b < MAX_WAITING_BUDGETS; b++) burst(b);
    const before = lines.length;
    burst(MAX_WAITING_BUDGETS);
    const written = lines.slice(before);
    assert.equal(
      written.length,
      REFUSAL_LINES_BURST + 1,
      "the new source's burst, and the oldest's waiting line",
    );
    assert.deepEqual(written.at(-1), refusal(REFUSAL_LINES_BURST, 's0'));
    assert.equal(refusals.waitingCount, MAX_WAITING_BUDGETS);
    assert.equal(
      accounted(lines) + refusals.waitingCount,
      (MAX_WAITING_BUDGETS + 1) * (REFUSAL_LINES_BURST + 1),
    );
  });

  test('the broker sweeps on its timer and writes what waits on close', async () => {
    let clock = 1_000_000;
    const { logger, lines } = recordingLogger();
    const sweeps: Array<{ ms: number; task: () => void; stopped: boolean }> = [];
    const broker = await brokerReviewing({
      review: () => ({ authenticated: false, username: '', groups: [], extra: {}, audiences: [] }),
      now: () => clock,
      logger,
      every: (ms, task) => {
        const timer = { ms, task, stopped: false };
        sweeps.push(timer);
        return () => {
          timer.stopped = true;
        };
      },
    });
    const refused = () =>
      auditRecords(lines).filter((r) => r.event === 'refused') as unknown as TokenAuditRecord[];
    for (let i = 0; i < 100; i++) await broker.issue(undefined, 'k8s-team-a-dev', '10.9.0.1', SERVER);
    await broker.issue(undefined, 'k8s-team-a-dev', '10.9.0.2', SERVER);
    for (let i = 0; i < 30; i++) await broker.issue(undefined, 'k8s-team-a-dev', '10.9.0.3', SERVER);
    assert.equal(refused().length, 2 * REFUSAL_LINES_BURST + 1);
    const [sweep] = sweeps;
    assert.ok(sweep !== undefined && sweeps.length === 1 && sweep.ms === SWEEP_MS, 'one sweep timer');
    clock += 1_000;
    sweep.task();
    assert.equal(refused().length, 2 * REFUSAL_LINES_BURST + 3, 'both waiting sources get their line');
    assert.equal(accounted(refused()), 131);
    for (let i = 0; i < 5; i++) await broker.issue(undefined, 'k8s-team-a-dev', '10.9.0.1', SERVER);
    broker.close();
    assert.ok(sweep.stopped, 'close stops the timer');
    assert.equal(accounted(refused()), 136, 'and writes what waits');
  });
});
