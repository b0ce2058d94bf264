/**
 * One full, memory-reducing garbage collection, on demand, without running the process
 * with `--expose-gc`: `serve` calls it once after the warm-up, whose objects (deep YAML,
 * long lists) left the old generation ~10 MB larger than the server ever needs at rest.
 * The flag is turned on only to take V8's `gc` function from a fresh context, then off
 * again, so nothing else in the process sees a global `gc`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export function collectGarbageNow(): void {
  setFlagsFromString('--expose-gc');
  try {
    const gc: unknown = runInNewContext('gc');
    if (typeof gc === 'function') gc();
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
