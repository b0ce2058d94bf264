/**
 * Log and audit lines gathered and handed to the stdout writer (pino's asynchronous
 * sonic-boom destination) a few KB at a time, joined once.
 *
 * Why not sonic-boom's own `minLength`: it appends each line to its pending string and, on
 * the next line, measures that string's UTF-8 length, which flattens it, so a batch of n
 * lines copies ~n²/2 lines. With lines gathered to 4 KB that was ~8 KB copied a `/mutate`,
 * a sixth of all it allocated, and ~2 µs of its CPU (docs/capacity.md).
 * Here the lines wait in an array and are joined once, when `minChars` wait or `maxDelayMs`
 * after the first of them, and sonic-boom (with no `minLength` of its own) writes them at once.
 *
 * Nothing is lost on exit: a hook on the process's `exit` event hands what waits to the
 * writer and flushes it synchronously, whichever runs first of it and pino's own exit flush.
 * `stop()` ends the batching (later lines go straight to the writer, which pino flushes on
 * exit) and removes the hook, so closing a server leaves no listener behind.
 */

/** What the lines go to: sonic-boom's `write` and `flushSync`. */
export interface LineSink {
  write(data: string): boolean;
  flushSync(): void;
}

/** A one-shot timer that does not keep the process alive (injected in tests). */
export interface LineBatchTimers {
  set(fire: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Where the exit hook is registered (the process's `exit` event; injected in tests). */
export interface ExitHooks {
  add(hook: () => void): void;
  remove(hook: () => void): void;
}

export interface LineBatchOptions {
  /** Lines are handed over once this many characters wait (UTF-16 units: about bytes for log lines)... */
  readonly minChars: number;
  /** ...or this many milliseconds after the first of them. */
  readonly maxDelayMs: number;
}

export const realTimers: LineBatchTimers = {
  set: (fire, ms) => setTimeout(fire, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export const processExitHooks: ExitHooks = {
  add: (hook) => void process.on('exit', hook),
  remove: (hook) => void process.removeListener('exit', hook),
};

export class LineBatch {
  private pending: string[] = [];
  private chars = 0;
  private timer: unknown = undefined;
  private batching = true;
  private readonly onExit = (): void => this.flushSync();

  constructor(
    private readonly sink: LineSink,
    private readonly options: LineBatchOptions,
    private readonly timers: LineBatchTimers = realTimers,
    private readonly exitHooks: ExitHooks = processExitHooks,
  ) {
    exitHooks.add(this.onExit);
  }

  /** pino's destination interface: one serialized line, its newline included. */
  write(line: string): boolean {
    if (!this.batching) return this.sink.write(line);
    this.pending.push(line);
    this.chars += line.length;
    if (this.chars >= this.options.minChars) this.flush();
    else if (this.timer === undefined)
      this.timer = this.timers.set(() => {
        this.timer = undefined;
        this.flush();
      }, this.options.maxDelayMs);
    return true;
  }

  /** Hands what waits to the writer now, joined into one string. */
  flush(): void {
    if (this.timer !== undefined) {
      this.timers.clear(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const data = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.chars = 0;
    this.sink.write(data);
  }

  /** Hands what waits to the writer and has it write everything before returning (exit). */
  flushSync(): void {
    this.flush();
    this.sink.flushSync();
  }

  /** Ends the batching: what waits is handed over, later lines go straight to the writer. */
  stop(): void {
    this.flush();
    this.batching = false;
    this.exitHooks.remove(this.onExit);
  }
}
