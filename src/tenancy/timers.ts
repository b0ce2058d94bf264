/**
 * Timers the Tenant sources take, injected so tests drive them; the real ones are unref'd so
 * they never keep the process alive. Its own module: the file registry uses them without
 * loading the Kubernetes client (bounded-watch.ts) that the watch needs.
 */
export interface WatchTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const REAL_TIMERS: WatchTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
