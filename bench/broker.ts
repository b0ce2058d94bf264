/**
 * Broker throughput: tokens per second through `GET /api/get-target-token` over HTTPS with a
 * warm TokenReview cache, for RS256 and ES256, next to its serial floor measured in the same
 * run: bare jose signing of the same claims in its own process, plus a no-op HTTPS request
 * (a `node:https` server in its own process), i.e. 1 / (1/sign/s + 1/no-op req/s). The
 * broker runs in its own process (bench/broker-server.ts), the load generator in another.
 * `runBrokerBench()` is what `npm run bench` calls; `node --import tsx bench/broker.ts` runs it alone.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SigningAlg } from '../src/broker/options.js';
import { runLoad } from './load.js';
import { ask, startProcess, stop } from './processes.js';

const SIGN_FLOOR = fileURLToPath(new URL('./sign-floor.ts', import.meta.url));
const BROKER_SERVER = fileURLToPath(new URL('./broker-server.ts', import.meta.url));
const NOOP = fileURLToPath(new URL('./noop-server.mjs', import.meta.url));

/** One row of the result. */
export interface BrokerBenchRow {
  alg: SigningAlg;
  /** Bare jose signing in its own process, one after another, tokens per second. */
  signPerSecond: number;
  /** A no-op `node:https` GET at the same connections, requests per second. */
  noopRequestsPerSecond: number;
  /** 1 / (1/sign + 1/no-op): the broker's floor. */
  serialFloor: number;
  /** Through the broker's HTTP endpoint, warm review cache. */
  brokerTokensPerSecond: number;
  /** broker / serial floor. */
  ratio: number;
  brokerP99Ms: number;
  /** TokenReviews made during the run (1: the cache stayed warm). */
  reviews: number;
  errors: number;
}

/** Options of `runBrokerBench`. */
export interface BrokerBenchOptions {
  /** Seconds of each measurement. Default 5. */
  durationSeconds?: number;
  /** Concurrent connections. Default 8. */
  connections?: number;
  write?: (line: string) => void;
}

function signFloor(alg: SigningAlg, seconds: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', SIGN_FLOOR, alg, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  return new Promise((ok, fail) => child.on('exit', (code) => {
    const m = /SIGN ([\d.]+)/.exec(out);
    if (code !== 0 || m?.[1] === undefined) fail(new Error(`sign floor exited with ${code}`));
    else ok(Number(m[1]));
  }));
}

/** Runs the comparison for RS256 and ES256 and prints a table. */
export async function runBrokerBench(options: BrokerBenchOptions = {}): Promise<BrokerBenchRow[]> {
  const seconds = options.durationSeconds ?? 5;
  const connections = options.connections ?? 8;
  const write = options.write ?? console.log;
  const noop = await startProcess([NOOP]);
  const noopUrl = `https://127.0.0.1:${noop.port}/api/get-target-token?targetName=k8s-bench-dev`;
  await runLoad({ label: 'warm-up', url: noopUrl, durationSeconds: 1, connections });
  const noopLoad = await runLoad({ label: 'no-op', url: noopUrl, durationSeconds: seconds, connections });
  await stop(noop);
  const rows: BrokerBenchRow[] = [];
  for (const alg of ['RS256', 'ES256'] as const) {
    const sign = await signFloor(alg, seconds);
    const server = await startProcess(['--import', 'tsx', BROKER_SERVER, alg]);
    try {
      const url = `https://127.0.0.1:${server.port}/api/get-target-token?targetName=k8s-bench-dev`;
      const headers = { authorization: 'Bearer bench-caller-token' };
      await runLoad({ label: 'warm-up', url, headers, durationSeconds: 1, connections });
      const r = await runLoad({ label: `broker ${alg}`, url, headers, durationSeconds: seconds, connections });
      const reviews = Number(await ask(server, 'SIGUSR2', 'REVIEWS'));
      const serialFloor = 1 / (1 / sign + 1 / noopLoad.requestsPerSecond);
      rows.push({
        alg, signPerSecond: sign, noopRequestsPerSecond: noopLoad.requestsPerSecond, serialFloor,
        brokerTokensPerSecond: r.requestsPerSecond, ratio: r.requestsPerSecond / serialFloor, brokerP99Ms: r.p99Ms,
        reviews, errors: r.errors + r.non2xx + noopLoad.errors + noopLoad.non2xx,
      });
    } finally {
      await stop(server);
    }
  }
  write(`\nBroker tokens/s: GET /api/get-target-token over HTTPS, warm TokenReview cache, ${connections} connections, ${seconds}s each (node ${process.version})`);
  write('| alg | bare jose sign/s | no-op HTTPS req/s | serial floor tokens/s | broker tokens/s | broker / floor | broker p99 ms | TokenReviews | errors |');
  write('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const cells = [r.alg, r.signPerSecond.toFixed(0), r.noopRequestsPerSecond.toFixed(0), r.serialFloor.toFixed(0), r.brokerTokensPerSecond.toFixed(0), r.ratio.toFixed(2), r.brokerP99Ms.toFixed(1), String(r.reviews), String(r.errors)];
    write(`| ${cells.join(' | ')} |`);
  }
  if (rows.some((r) => r.errors > 0)) throw new Error('broker benchmark requests failed');
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runBrokerBench();
}
