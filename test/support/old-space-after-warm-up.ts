/**
 * Run in a child process by test/server/full-gc.test.ts, as the Deployment runs the webhook:
 * judges the warm-up objects as `serve` does, collects, and prints the old space's slack
 * (bytes of its pages holding no live object) as JSON (`{"slackBytes":..}`). Modes:
 * - `plain`: V8's ordinary full collection after each of five warm-ups; the largest slack.
 * - `now`: collectGarbageNow after one warm-up.
 * - `now-then-plain`: collectGarbageNow, then as `plain` (was compaction left on?).
 * V8 may choose to compact an ordinary collection now and then (more often on a busy
 * machine); five rounds keep that from passing for "compaction left on", which would compact
 * all five.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { warmUpAdmission } from '../../src/admission/warm-up.js';
import { collectGarbageNow, v8GcFunction } from '../../src/server/full-gc.js';
import { resolveSettings } from '../../src/settings.js';

function plainFullGc(): void {
  const gc = v8GcFunction();
  if (gc === undefined) throw new Error('V8 gives no gc function');
  gc();
}

function oldSpaceSlack(): number {
  const old = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  if (old === undefined) throw new Error('V8 reports no old space');
  return old.space_size - old.space_used_size;
}

const settings = resolveSettings({});

/** The largest slack of five warm-ups, each followed by an ordinary full collection. */
function plainRounds(): number {
  let largest = 0;
  for (let round = 0; round < 5; round++) {
    warmUpAdmission({ settings });
    plainFullGc();
    largest = Math.max(largest, oldSpaceSlack());
  }
  return largest;
}

const mode = process.argv[2];
let slackBytes: number;
if (mode === 'plain') slackBytes = plainRounds();
else if (mode === 'now') {
  warmUpAdmission({ settings });
  collectGarbageNow();
  slackBytes = oldSpaceSlack();
} else if (mode === 'now-then-plain') {
  warmUpAdmission({ settings });
  collectGarbageNow();
  slackBytes = plainRounds();
} else throw new Error(`unknown mode ${String(mode)}`);
process.stdout.write(`${JSON.stringify({ slackBytes })}\n`);
