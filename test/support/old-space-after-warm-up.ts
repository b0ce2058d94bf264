/**
 * Run in a child process by test/server/full-gc.test.ts, with the shipped NODE_OPTIONS:
 * judges the warm-up objects as `serve` does, collects, and prints the old space as
 * JSON (`{"sizeBytes":..,"usedBytes":..}`). Modes: `plain` collects with V8's ordinary
 * full collection; `now` with collectGarbageNow; `now-then-plain` calls collectGarbageNow,
 * warms up again and collects the ordinary way (was compaction left on?).
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { warmUpAdmission } from '../../src/admission/warm-up.js';
import { collectGarbageNow } from '../../src/server/full-gc.js';
import { resolveSettings } from '../../src/settings.js';

function plainFullGc(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  setFlagsFromString('--no-expose-gc');
  gc();
}

const mode = process.argv[2];
const settings = resolveSettings({});
warmUpAdmission({ settings });
if (mode === 'plain') plainFullGc();
else if (mode === 'now') collectGarbageNow();
else if (mode === 'now-then-plain') {
  collectGarbageNow();
  warmUpAdmission({ settings });
  plainFullGc();
} else throw new Error(`unknown mode ${String(mode)}`);
const old = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
if (old === undefined) throw new Error('V8 reports no old space');
process.stdout.write(`${JSON.stringify({ sizeBytes: old.space_size, usedBytes: old.space_used_size })}\n`);
