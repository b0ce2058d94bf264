/**
 * A bounded HTTP load driver (autocannon) shared by the benchmarks: a fixed duration and
 * connection count against one URL on loopback, reporting requests per second and latency
 * percentiles. Every figure is meant to be read as a ratio to a floor measured in the same run.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LOAD_CHILD = fileURLToPath(new URL('./load-child.mjs', import.meta.url));

export interface LoadResult {
  readonly label: string;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
}

export interface LoadOptions {
  readonly label: string;
  readonly url: string;
  readonly method?: 'GET' | 'POST';
  readonly body?: string;
  readonly headers?: Record<string, string>;
  /** Seconds of load. Default 5. */
  readonly durationSeconds?: number;
  /** Concurrent keep-alive connections. Default 8. */
  readonly connections?: number;
  /** Time each request (µs resolution) with a closed-loop client instead of autocannon. */
  readonly latency?: boolean;
}

/** Runs one bounded load against a loopback URL, from a load generator in its own process. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { label, ...load } = options;
  const child = spawn(process.execPath, [LOAD_CHILD, JSON.stringify(load)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const code = await new Promise<number | null>((ok) => child.on('exit', ok));
  if (code !== 0) throw new Error(`load generator for ${label} exited with ${code}`);
  return { label, ...(JSON.parse(out) as Omit<LoadResult, 'label'>) };
}

/** Prints results as a table with each row's ratio to the floor (the first row of the group). */
export function printTable(
  title: string,
  floor: LoadResult,
  rows: LoadResult[],
  write: (line: string) => void = console.log,
): void {
  write(`\n${title}`);
  write('| target | req/s | p50 ms | p99 ms | req/s vs floor | p99 vs floor | errors |');
  write('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of [floor, ...rows]) {
    const rate = (r.requestsPerSecond / floor.requestsPerSecond).toFixed(2);
    const p99 = floor.p99Ms > 0 ? (r.p99Ms / floor.p99Ms).toFixed(2) : 'n/a';
    write(
      `| ${r.label} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${rate} | ${p99} | ${r.errors + r.non2xx} |`,
    );
  }
}
