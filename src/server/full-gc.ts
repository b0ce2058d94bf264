/**
 * One full, compacting, memory-reducing garbage collection, on demand, without running the
 * process with `--expose-gc`: `serve` calls it once after the warm-up. The warm-up's objects
 * (deep YAML, long lists) spread the old generation over ~23 MB of pages holding ~10 MB of
 * live objects; an ordinary full collection frees the garbage but keeps those pages, so the
 * idle webhook stayed ~12 MB larger than it needs (`npm run bench -- memory`).
 *
 * - `--compact-on-every-full-gc`, on for this one collection, makes it move the survivors
 *   together, so the emptied pages can go. It is the only way to ask for compaction that
 *   Node.js 20's V8 has.
 * - A second, `last-resort` collection (V8's memory-reducing one, as on a low-memory
 *   notification) hands the emptied pages back to the system instead of keeping them pooled
 *   for reuse: without it, Node.js 24 kept ~30 MB more resident. Node.js 20's V8 does not
 *   know the option and runs a young-generation collection instead, which costs nothing.
 *
 * Both flags are on only for the moment they are needed, then off again, so nothing else in
 * the process sees a global `gc` or compacts on every full collection.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFunction = (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * V8's `gc` function, taken from a fresh context with `--expose-gc` on for that moment
 * only: nothing else in the process sees a global `gc`. The function works after the flag
 * is off again. Undefined if this V8 gives none.
 */
export function v8GcFunction(): GcFunction | undefined {
  setFlagsFromString('--expose-gc');
  try {
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as GcFunction) : undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

export function collectGarbageNow(): void {
  const gc = v8GcFunction();
  if (gc === undefined) return;
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc();
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
}
