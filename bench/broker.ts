/**
 * Broker throughput: tokens per second through `GET /api/get-target-token` over HTTPS with a
 * warm TokenReview cache, for RS256 and ES256, next to its serial floor measured in the same
 * run: bare jose signing of the same claims in its own process (the broker signs with
 * node:crypto, ADR 0010; its own signer is a context column), plus a no-op HTTPS request
 * (a `node:https` server in its own process), i.e. 1 / (1/sign/s + 1/no-op req/s). The
 * broker runs in its own process (bench/broker-server.ts), the load generator in another.
 * `runBrokerBench()` is what `npm run bench` calls; `node --import tsx bench/broker.ts` runs it alone.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SigningAlg } from '../src/broker/options.js';
import { runLoad } from './load.js';
import { bundleBenchEntry } from './bundle.js';
import { ask, startProcess, stop } from './processes.js';
import { shippedLaunch } from './shipped.js';

const NOOP = fileURLToPath(new URL('./noop-server.mjs', import.meta.url));
/** The server bench/broker-server.ts registers its target `k8s-bench-dev` with. */
const BENCH_TARGET_SERVER = 'https://bench-dev.example.com';

/** One row of the result. */
export interface BrokerBenchRow {
  alg: SigningAlg;
  /** Bare jose signing in its own process, one after another, tokens per second. */
  signPerSecond: number;
  /** The broker's own signer (signer.ts) the same way: context, not the floor. */
  ourSignPerSecond: number;
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

function signFloor(signFloorBundle: string, alg: SigningAlg, seconds: number, ours = false): Promise<number> {
  const args = [signFloorBundle, alg, String(seconds), ...(ours ? ['--ours'] : [])];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  return new Promise((ok, fail) =>
    child.on('exit', (code) => {
      const m = /SIGN ([\d.]+)/.exec(out);
      if (code !== 0 || m?.[1] === undefined) fail(new Error(`sign floor exited with ${code}`));
      else ok(Number(m[1]));
    }),
  );
}

/** One round of one algorithm: per second, except the p99 (ms) and the error count. */
interface RoundSample {
  sign: number;
  ours: number;
  noop: number;
  broker: number;
  p99: number;
  errors: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Runs the comparison for RS256 and ES256 and prints a table: every server started at once,
 * then `rounds` rounds of (sign floor, no-op request, broker) per algorithm, so a neighbour's
 * burst touches a floor and its broker alike; the median of the rounds is reported.
 */
export async function runBrokerBench(
  options: BrokerBenchOptions = {},
  rounds = 3,
): Promise<BrokerBenchRow[]> {
  const seconds = options.durationSeconds ?? 5;
  const connections = options.connections ?? 8;
  const write = options.write ?? console.log;
  // Bundled as the image's command is (bundle.ts): no tsx in any measured process.
  const [brokerServer, signFloorBundle] = await Promise.all([
    bundleBenchEntry('broker-server', 'broker'),
    bundleBenchEntry('sign-floor', 'broker'),
  ]);
  const noop = await startProcess([NOOP]);
  const shipped = shippedLaunch('broker');
  const servers = {
    RS256: await startProcess([...shipped.flags, brokerServer, 'RS256'], {
      env: shipped.env,
    }),
    ES256: await startProcess([...shipped.flags, brokerServer, 'ES256'], {
      env: shipped.env,
    }),
  };
  const rows: BrokerBenchRow[] = [];
  try {
    // The target and the server it is registered with, as the exec plugin asks for a token
    // (the broker refuses a request that names no server: ERR_BROKER_SERVER_UNBOUND).
    const query = `targetName=k8s-bench-dev&server=${encodeURIComponent(BENCH_TARGET_SERVER)}`;
    const noopUrl = `https://127.0.0.1:${noop.port}/api/get-target-token?${query}`;
    const headers = { authorization: 'Bearer bench-caller-token' };
    const brokerUrl = (port: number) => `https://127.0.0.1:${port}/api/get-target-token?${query}`;
    await runLoad({ label: 'warm-up', url: noopUrl, durationSeconds: 1, connections });
    for (const alg of ['RS256', 'ES256'] as const) {
      const warm = await runLoad({
        label: 'warm-up',
        url: brokerUrl(servers[alg].port),
        headers,
        durationSeconds: 1,
        connections,
      });
      // Refused requests are cheap and would read as a fast broker: stop before measuring them.
      if (warm.errors + warm.non2xx > 0)
        throw new Error(
          `the ${alg} broker refused ${warm.errors + warm.non2xx} warm-up requests; see its log (${brokerUrl(servers[alg].port)})`,
        );
    }
    const samples: Record<SigningAlg, RoundSample[]> = { RS256: [], ES256: [] };
    for (let round = 0; round < rounds; round++) {
      for (const alg of ['RS256', 'ES256'] as const) {
        const sign = await signFloor(signFloorBundle, alg, seconds);
        const ours = await signFloor(signFloorBundle, alg, seconds, true);
        const n = await runLoad({ label: 'no-op', url: noopUrl, durationSeconds: seconds, connections });
        const r = await runLoad({
          label: `broker ${alg}`,
          url: brokerUrl(servers[alg].port),
          headers,
          durationSeconds: seconds,
          connections,
        });
        samples[alg].push({
          sign,
          ours,
          noop: n.requestsPerSecond,
          broker: r.requestsPerSecond,
          p99: r.p99Ms,
          errors: r.errors + r.non2xx + n.errors + n.non2xx,
        });
      }
    }
    for (const alg of ['RS256', 'ES256'] as const) {
      const list = samples[alg];
      const reviews = Number(await ask(servers[alg], 'SIGUSR2', 'REVIEWS'));
      const signPerSecond = median(list.map((x) => x.sign));
      const noopRequestsPerSecond = median(list.map((x) => x.noop));
      const brokerTokensPerSecond = median(list.map((x) => x.broker));
      rows.push({
        alg,
        signPerSecond,
        ourSignPerSecond: median(list.map((x) => x.ours)),
        noopRequestsPerSecond,
        serialFloor: median(list.map((x) => 1 / (1 / x.sign + 1 / x.noop))),
        brokerTokensPerSecond,
        ratio: median(list.map((x) => x.broker / (1 / (1 / x.sign + 1 / x.noop)))),
        brokerP99Ms: median(list.map((x) => x.p99)),
        reviews,
        errors: list.reduce((e, x) => e + x.errors, 0),
      });
    }
  } finally {
    await stop(noop);
    await stop(servers.RS256);
    await stop(servers.ES256);
  }
  write(
    `\nBroker tokens/s: GET /api/get-target-token over HTTPS, warm TokenReview cache, ${connections} connections, median of ${rounds} rounds of ${seconds} s (node ${process.version})`,
  );
  write(
    '| alg | bare jose sign/s | (context) our signer sign/s | no-op HTTPS req/s | serial floor tokens/s | broker tokens/s | broker / floor | broker p99 ms | TokenReviews | errors |',
  );
  write('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const cells = [
      r.alg,
      r.signPerSecond.toFixed(0),
      r.ourSignPerSecond.toFixed(0),
      r.noopRequestsPerSecond.toFixed(0),
      r.serialFloor.toFixed(0),
      r.brokerTokensPerSecond.toFixed(0),
      r.ratio.toFixed(2),
      r.brokerP99Ms.toFixed(1),
      String(r.reviews),
      String(r.errors),
    ];
    write(`| ${cells.join(' | ')} |`);
  }
  if (rows.some((r) => r.errors > 0)) throw new Error('broker benchmark requests failed');
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runBrokerBench();
}
