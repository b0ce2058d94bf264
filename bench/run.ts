/**
 * `npm run bench [policy|webhook|broker|memory|scan|noisy|cost] [--seconds N]`: every figure
 * next to a floor measured in the same run, printed as ratios; each server, each floor and
 * the load generator in its own process. With everything selected, ends with the table of
 * issue 14 (goal per row). `scan` (bench/scan.ts), `noisy` (bench/noisy-neighbour.ts) and
 * `cost` (bench/worst-case-cost.ts) run only when named; `noisy` also takes `--root DIR`
 * and `--only TEXT`, and exits 1 when a case fails (see bench/noisy-neighbour.ts).
 */
import { runBrokerBench, type BrokerBenchRow } from './broker.js';
import { benchMemory, type MemoryBench } from './memory.js';
import { benchPolicy } from './policy.js';
import {
  benchWebhook,
  CALIBRATION_BUSY_MICROSECONDS,
  LATENCY_CONNECTIONS,
  THROUGHPUT_CONNECTIONS,
  type WebhookBench,
} from './webhook.js';

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const seconds = Number(option('--seconds') ?? 5);
const VALUED = ['--seconds', '--root', '--only'];
const only = args.filter((a, i) => !a.startsWith('--') && !VALUED.includes(args[i - 1] ?? ''));
const wants = (name: string) =>
  (only.length === 0 && name !== 'noisy' && name !== 'cost') || only.includes(name);

if (wants('policy')) benchPolicy();
const webhook = wants('webhook') ? await benchWebhook(seconds) : undefined;
const broker = wants('broker') ? await runBrokerBench({ durationSeconds: seconds }) : undefined;
const memory = wants('memory') ? await benchMemory(seconds) : undefined;
summary(webhook, broker, memory);

function summary(
  w: WebhookBench | undefined,
  b: BrokerBenchRow[] | undefined,
  m: MemoryBench | undefined,
): void {
  const rows: string[][] = [];
  const x = (n: number) => `${n.toFixed(2)}×`;
  if (w !== undefined) {
    const f = w.floor;
    rows.push([
      `/mutate req/s at ${THROUGHPUT_CONNECTIONS} connections vs the no-op node:https floor`,
      `${w.mutate10.throughput.requestsPerSecond.toFixed(0)} vs ${f.throughput.requestsPerSecond.toFixed(0)}`,
      x(w.mutate10.throughput.requestsPerSecond / f.throughput.requestsPerSecond),
      '≥ 0.8×',
    ]);
    rows.push([
      `/validate req/s at ${THROUGHPUT_CONNECTIONS} connections vs that floor`,
      `${w.validate10.throughput.requestsPerSecond.toFixed(0)} vs ${f.throughput.requestsPerSecond.toFixed(0)}`,
      x(w.validate10.throughput.requestsPerSecond / f.throughput.requestsPerSecond),
      '≥ 0.8×',
    ]);
    rows.push([
      `(context) /mutate req/s vs the policy core alone on bare node:https (no log, audit, metrics; answers at the end of the turn, as serve's)`,
      `${w.mutate10.throughput.requestsPerSecond.toFixed(0)} vs ${w.core.throughput.requestsPerSecond.toFixed(0)}`,
      x(w.mutate10.throughput.requestsPerSecond / w.core.throughput.requestsPerSecond),
      '—',
    ]);
    rows.push([
      `(context) a no-op handler that only reads and JSON.parses the body vs the no-op floor: the ceiling of any AdmissionReview handler here`,
      `${w.parseFloor.throughput.requestsPerSecond.toFixed(0)} vs ${f.throughput.requestsPerSecond.toFixed(0)}`,
      x(w.parseFloor.throughput.requestsPerSecond / f.throughput.requestsPerSecond),
      '—',
    ]);
    rows.push([
      `(context) the policy core alone vs the no-op floor: the ceiling of our handler here`,
      `${w.core.throughput.requestsPerSecond.toFixed(0)} vs ${f.throughput.requestsPerSecond.toFixed(0)}`,
      x(w.core.throughput.requestsPerSecond / f.throughput.requestsPerSecond),
      '—',
    ]);
    rows.push([
      `(context) a no-op handler that also spends ${CALIBRATION_BUSY_MICROSECONDS} µs of CPU a request vs the no-op floor: what a policy core of that cost alone reaches here`,
      `${w.calibration.throughput.requestsPerSecond.toFixed(0)} vs ${f.throughput.requestsPerSecond.toFixed(0)}`,
      x(w.calibration.throughput.requestsPerSecond / f.throughput.requestsPerSecond),
      '—',
    ]);
    rows.push([
      `/mutate p99 at ${LATENCY_CONNECTIONS} connections vs the floor's p99`,
      `${w.mutate10.latency.p99Ms.toFixed(2)} ms vs ${f.latency.p99Ms.toFixed(2)} ms`,
      x(w.mutate10.latency.p99Ms / f.latency.p99Ms),
      '≤ 1.3×',
    ]);
    rows.push([
      `/validate p99 at ${LATENCY_CONNECTIONS} connections vs the floor's p99`,
      `${w.validate10.latency.p99Ms.toFixed(2)} ms vs ${f.latency.p99Ms.toFixed(2)} ms`,
      x(w.validate10.latency.p99Ms / f.latency.p99Ms),
      '≤ 1.3×',
    ]);
  }
  for (const r of b ?? []) {
    rows.push([
      `broker ${r.alg} tokens/s (warm review cache) vs serial floor (jose sign + no-op HTTPS, own processes)`,
      `${r.brokerTokensPerSecond.toFixed(0)} vs ${r.serialFloor.toFixed(0)}`,
      x(r.ratio),
      '≥ 0.9×',
    ]);
  }
  if (m !== undefined) {
    for (const r of m.rows) {
      rows.push([
        `resident memory, 10 tenants, idle (${r.build}) vs no-op floor`,
        `${r.idle10.toFixed(0)} MB (anonymous ${r.idle10Anon.toFixed(0)}) vs ${m.floorMb.toFixed(0)} MB`,
        x(r.idle10 / m.floorMb),
        '≤ 75 MB',
      ]);
      rows.push([
        `resident memory, 10,000 tenants / 30,000 clusters, after load (${r.build}) vs no-op floor`,
        `${r.afterLoad10k.toFixed(0)} MB vs ${m.floorMb.toFixed(0)} MB`,
        x(r.afterLoad10k / m.floorMb),
        '≤ 200 MB',
      ]);
    }
  }
  if (w !== undefined) {
    rows.push([
      `/mutate req/s at ${THROUGHPUT_CONNECTIONS} connections, 10,000 tenants vs 10`,
      `${w.mutate10k.throughput.requestsPerSecond.toFixed(0)} vs ${w.mutate10.throughput.requestsPerSecond.toFixed(0)}`,
      x(w.mutate10k.throughput.requestsPerSecond / w.mutate10.throughput.requestsPerSecond),
      '≥ 0.9×',
    ]);
    rows.push([
      `/mutate p50 latency at ${LATENCY_CONNECTIONS} connections, 10 tenants vs 10,000 (speed ratio)`,
      `${w.mutate10.latency.p50Ms.toFixed(2)} ms vs ${w.mutate10k.latency.p50Ms.toFixed(2)} ms`,
      x(w.mutate10.latency.p50Ms / w.mutate10k.latency.p50Ms),
      '≥ 0.9×',
    ]);
  }
  if (rows.length === 0) return;
  console.log(`\nIssue 14 summary (node ${process.version}, ${seconds} s per load)`);
  console.log('| what | measured | ratio | goal |');
  console.log('| --- | ---: | ---: | --- |');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}
if (wants('cost')) {
  const cost = await import('./worst-case-cost.js');
  cost.benchWorstCaseCost();
}
if (wants('noisy')) {
  // `--root DIR`: the server of another checkout; `--only TEXT`: the cases whose name holds TEXT.
  const noisy = await import('./noisy-neighbour.js');
  const root = option('--root');
  const onlyCase = option('--only');
  const bench = await noisy.benchNoisyNeighbour({
    seconds,
    ...(root === undefined ? {} : { root }),
    ...(onlyCase === undefined ? {} : { only: onlyCase }),
  });
  // The proof of issue 10: a case past the limits fails the run.
  if (bench.failed > 0) process.exitCode = 1;
}
