/** Runs `task` every `ms` until the returned stopper is called; the broker's timers take one (tests inject theirs). */
export type Every = (ms: number, task: () => void) => () => void;

/** `Every` on an unref'd setInterval: it never keeps the process alive. */
export const unrefInterval: Every = (ms, task) => {
  const timer = setInterval(task, ms);
  timer.unref();
  return () => clearInterval(timer);
};
