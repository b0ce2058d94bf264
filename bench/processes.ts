/**
 * Servers and floors of the benchmarks, each in its own process: start one, wait for its
 * `PORT <n>` line, read its resident memory (/proc, Linux), stop it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Running {
  readonly port: number;
  readonly child: ChildProcess;
  /** Lines the process printed on stdout so far. */
  readonly lines: string[];
}

/**
 * Spawns `node [...args]` (with `env`, else this process's environment) and resolves once
 * it prints `PORT <n>` (or `listenPattern` matches its stderr, for `serve`, which says where
 * it listens there). `discardStdout`: its stdout goes to /dev/null (a server's log lines
 * under load, which this process would otherwise read and keep).
 */
export function startProcess(
  args: readonly string[],
  options: { listenPattern?: RegExp; cwd?: string; env?: NodeJS.ProcessEnv; discardStdout?: boolean } = {},
): Promise<Running> {
  const child = spawn(process.execPath, [...args], {
    stdio: ['ignore', options.discardStdout === true ? 'ignore' : 'pipe', 'pipe'],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const lines: string[] = [];
  return new Promise<Running>((resolve, reject) => {
    let out = '';
    let err = '';
    const settle = (port: number) => resolve({ port, child, lines });
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const parts = out.split('\n');
      out = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        const m = /^PORT (\d+)$/.exec(line);
        if (m?.[1] !== undefined) settle(Number(m[1]));
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const m = options.listenPattern?.exec(err);
      if (m?.[1] !== undefined) settle(Number(m[1]));
    });
    child.once('exit', (code) =>
      reject(new Error(`benchmark process ${args.join(' ')} exited with ${code}: ${err.slice(-2000)}`)),
    );
  });
}

/** Sends `signal` and resolves with the first new stdout line starting with `prefix`. */
export async function ask(running: Running, signal: NodeJS.Signals, prefix: string): Promise<string> {
  const seen = running.lines.length;
  running.child.kill(signal);
  for (let i = 0; i < 200; i++) {
    const line = running.lines.slice(seen).find((l) => l.startsWith(prefix));
    if (line !== undefined) return line.slice(prefix.length).trim();
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no ${prefix} line after ${signal}`);
}

/** Resident memory of a process in MB (VmRSS), Linux only. */
export function rssMb(pid: number | undefined, field: 'VmRSS' | 'RssAnon' = 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1];
  if (kb === undefined) throw new Error(`no ${field} for ${pid}`);
  return Number(kb) / 1024;
}

let clockTicks: number | undefined;

/**
 * CPU time (user + system, all threads) a process has used so far, in seconds, from
 * /proc/<pid>/stat (Linux only; clock-tick resolution, 10 ms on most machines).
 */
export function cpuSeconds(pid: number | undefined): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const [utime, stime] = [Number(fields[11]), Number(fields[12])];
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`no CPU times for ${pid}`);
  return (utime + stime) / clockTicks;
}

export function stop(running: Running): Promise<void> {
  return new Promise((resolve) => {
    // Exited already, with a code or by a signal: no 'exit' is coming.
    if (running.child.exitCode !== null || running.child.signalCode !== null) {
      resolve();
      return;
    }
    running.child.removeAllListeners('exit');
    running.child.once('exit', () => resolve());
    running.child.kill('SIGTERM');
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
