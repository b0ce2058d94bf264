/**
 * A bounded HTTP load driver (autocannon) shared by the benchmarks: a fixed duration and
 * connection count against one URL on loopback, reporting requests per second and latency
 * percentiles. Every figure is meant to be read as a ratio to a floor measured in the same run.
 */
import autocannon from 'autocannon';

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
}

/** Runs one bounded load against a loopback URL. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new Error(`benchmarks target loopback only, not ${url.hostname}`);
  const result = await autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    ...(options.body === undefined ? {} : { body: options.body }),
    headers: { 'content-type': 'application/json', ...options.headers },
    duration: options.durationSeconds ?? 5,
    connections: options.connections ?? 8,
    pipelining: 1,
    // Self-signed certificates of the run; loopback only.
    tlsOptions: { rejectUnauthorized: false },
  } as autocannon.Options);
  return {
    label: options.label,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** Prints results as a table with each row's ratio to the floor (the first row of the group). */
export function printTable(title: string, floor: LoadResult, rows: LoadResult[], write: (line: string) => void = console.log): void {
  write(`\n${title}`);
  write('| target | req/s | p50 ms | p99 ms | req/s vs floor | p99 vs floor | errors |');
  write('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of [floor, ...rows]) {
    const rate = (r.requestsPerSecond / floor.requestsPerSecond).toFixed(2);
    const p99 = floor.p99Ms > 0 ? (r.p99Ms / floor.p99Ms).toFixed(2) : 'n/a';
    write(`| ${r.label} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${rate} | ${p99} | ${r.errors + r.non2xx} |`);
  }
}
