/**
 * `npm run bench -- noisy [--seconds N]`: one tenant's worst-case objects against another
 * tenant's small requests (issue 10). For each worst case of bench/worst-case.ts, a fresh
 * webhook process under the shipped heap limit (`--max-old-space-size=192`) takes four
 * clients sending that object back to back (a load process of its own) while this process,
 * as the other tenant, sends a small typical ApplicationSet to /mutate 50 times a second.
 * Reported: the small request's p50/p99/max, the server's longest event-loop block, its
 * peak RSS (VmHWM), and whether it survived. Three processes, so no client work lands on
 * the server's or the victim's event loop. Linux (reads /proc).
 *
 * The verdict (issue 10's proof): a case passes when the server survives, every small
 * request is answered 200 with a p99 under 100 ms, the worst-case requests get 200 or 429
 * (refused while the large-request gate is full) and nothing else, and the peak RSS stays
 * under the shipped memory limit. Heap cap and memory limit are read from the shipped
 * Deployment (webhook-config/base/webhook.yaml). Any failing case prints FAIL and makes
 * the run exit 1. A timing check, so it is not part of `npm test`: run it on a quiet machine.
 *
 * `--root DIR` runs the server from another checkout (the figures before a change);
 * `--only TEXT` runs the cases whose name contains TEXT. Diagnostics: BENCH_SERVER_FLAGS
 * adds node flags to the server (`--cpu-prof --cpu-prof-dir=DIR --trace-gc`), and
 * BENCH_SERVER_OUT=FILE appends the server's stdout (the `--trace-gc` lines) to FILE.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageNodeFlags, shippedDeployment, type ShippedDeployment } from './shipped.js';
import { typicalReview } from './webhook.js';
import { worstCases } from './worst-case.js';

const SELF = fileURLToPath(import.meta.url);
const HERE = fileURLToPath(new URL('.', import.meta.url));

/** The other tenant's p99 must stay under this (issue 10). */
export const VICTIM_P99_LIMIT_MS = 100;

/** What the webhook Deployment ships (bench/shipped.ts). */
export type ShippedLimits = ShippedDeployment;

/** The webhook container's NODE_OPTIONS and memory limit, from `root`'s webhook-config/base/webhook.yaml. */
export function shippedLimits(root: string): ShippedLimits {
  return shippedDeployment('webhook', root);
}

interface Answer {
  status: number;
  ms: number;
  bytes: number;
}

function post(agent: Agent, port: number, path: string, body: string, timeoutMs = 10_000): Promise<Answer> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const done = (status: number, bytes: number) =>
      resolve({ status, bytes, ms: Number(process.hrtime.bigint() - started) / 1e6 });
    // The run's own self-signed certificate, on loopback.
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
        });
        res.on('end', () => done(res.statusCode ?? 0, bytes));
        res.on('error', () => done(-1, bytes));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => done(-1, 0));
    req.end(body);
  });
}

/** The load process: `clients` loops sending worst case `index` for `seconds`; prints a JSON summary. */
async function runLoadProcess(port: number, index: number, seconds: number, clients: number): Promise<void> {
  const worst = worstCases()[index];
  if (worst === undefined) throw new Error(`no worst case ${index}`);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const deadline = Date.now() + seconds * 1000;
  const statuses: Record<string, number> = {};
  let answers = 0;
  let largest = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < deadline) {
        const a = await post(agent, port, '/validate', worst.body);
        statuses[a.status] = (statuses[a.status] ?? 0) + 1;
        answers += 1;
        largest = Math.max(largest, a.bytes);
        if (a.status === -1) await new Promise((r) => setTimeout(r, 50));
      }
    }),
  );
  agent.destroy();
  process.stdout.write(
    `${JSON.stringify({ answers, statuses, largestAnswerBytes: largest, bodyBytes: worst.body.length })}\n`,
  );
}

interface Server {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
  lines: string[];
}

async function startServer(
  root: string,
  nodeOptions: readonly string[],
  allocatorEnv: Readonly<Record<string, string>>,
): Promise<Server> {
  const script = join(root, 'bench', 'webhook-server.ts');
  const child = spawn(
    process.execPath,
    [
      ...imageNodeFlags(root),
      ...nodeOptions,
      ...(process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter((f) => f !== ''),
      '--import',
      'tsx',
      script,
      'webhook',
      '10',
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...allocatorEnv, BENCH_EVENT_LOOP: '1' },
    },
  );
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? null : -1))),
  );
  child.stderr?.on('data', (c: Buffer) => {
    if (/FATAL|heap/i.test(c.toString())) lines.push(c.toString().split('\n')[0] ?? '');
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buffer = '';
    const out = process.env.BENCH_SERVER_OUT;
    child.stdout?.on('data', (chunk: Buffer) => {
      if (out !== undefined) appendFileSync(out, chunk);
      // Only the start is kept (the PORT line); `--trace-gc` may print lines before it.
      if (!/PORT \d+\n/.test(buffer)) buffer = (buffer + chunk.toString()).slice(-4096);
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l.startsWith('ELD ')),
      );
      const match = /PORT (\d+)\n/.exec(buffer);
      if (match?.[1] !== undefined) resolve(Number(match[1]));
    });
    void exited.then((code) => reject(new Error(`benchmark server exited with ${code}`)));
  });
  return { child, port, exited, lines };
}

/** Peak resident set of a process in MB (Linux VmHWM). */
function peakRssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? NaN : Number(match[1]) / 1024;
  } catch {
    return NaN;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** One row of the report. */
export interface NoisyResult {
  readonly name: string;
  readonly survived: boolean;
  readonly noisyAnswers: number;
  readonly noisyStatuses: Record<string, number>;
  readonly largestAnswerBytes: number;
  readonly victimP50Ms: number;
  readonly victimP99Ms: number;
  readonly victimMaxMs: number;
  readonly victimFailures: number;
  readonly eventLoopMaxMs: number;
  readonly peakRssMb: number;
  /** Small requests slower than VICTIM_P99_LIMIT_MS, and how many of them were sent in the first second. */
  readonly victimSlow: number;
  readonly victimSlowFirstSecond: number;
}

/** Why a case fails the proof (empty: it passes). */
export function noisyProblems(r: NoisyResult, limits: ShippedLimits): string[] {
  const problems: string[] = [];
  if (!r.survived) problems.push('the server died');
  if (r.victimFailures > 0) problems.push(`${r.victimFailures} small requests not answered 200`);
  if (!(r.victimP99Ms < VICTIM_P99_LIMIT_MS))
    problems.push(`small request p99 ${r.victimP99Ms.toFixed(1)} ms ≥ ${VICTIM_P99_LIMIT_MS} ms`);
  const other = Object.entries(r.noisyStatuses).filter(([s]) => s !== '200' && s !== '429');
  if (other.length > 0)
    problems.push(`worst-case answers other than 200/429: ${other.map(([s, n]) => `${s}: ${n}`).join(', ')}`);
  if (!(r.peakRssMb < limits.memoryLimitMb))
    problems.push(`peak RSS ${r.peakRssMb.toFixed(0)} MB ≥ the ${limits.memoryLimitMb.toFixed(0)} MB limit`);
  return problems;
}

async function runCase(
  root: string,
  index: number,
  name: string,
  seconds: number,
  clients: number,
  limits: ShippedLimits,
): Promise<NoisyResult> {
  const server = await startServer(root, limits.nodeOptions, limits.allocatorEnv);
  // Several connections, as an API server holds: a slow answer does not queue the next request behind it.
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const small = typicalReview('team-3');
  for (let i = 0; i < 100; i++) await post(agent, server.port, '/mutate', small); // warm up
  const load = spawn(
    process.execPath,
    ['--import', 'tsx', SELF, 'load', String(server.port), String(index), String(seconds), String(clients)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let loadOut = '';
  load.stdout?.on('data', (c: Buffer) => {
    loadOut += c.toString();
  });
  const loadDone = new Promise<void>((resolve) => load.once('exit', () => resolve()));
  await new Promise((r) => setTimeout(r, 500)); // the load process starting up
  const latencies: number[] = [];
  let slow = 0;
  let slowFirstSecond = 0;
  let failures = 0;
  let peak = 0;
  const started = Date.now();
  const deadline = started + (seconds - 1) * 1000;
  const victimOut = process.env.BENCH_VICTIM_OUT;
  const pending: Array<Promise<void>> = [];
  let dead = false;
  void server.exited.then(() => {
    dead = true;
  });
  while (Date.now() < deadline && !dead) {
    const sentAt = Date.now() - started;
    pending.push(
      post(agent, server.port, '/mutate', small).then((a) => {
        if (a.status === 200) latencies.push(a.ms);
        else failures += 1;
        if (a.ms >= VICTIM_P99_LIMIT_MS) {
          slow += 1;
          if (sentAt < 1000) slowFirstSecond += 1;
        }
        // BENCH_VICTIM_OUT=FILE: each small request's send time (ms into the case) and latency.
        if (victimOut !== undefined) appendFileSync(victimOut, `${name}\t${sentAt}\t${a.ms.toFixed(1)}\n`);
      }),
    );
    peak = Math.max(peak, peakRssMb(server.child.pid));
    await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.all(pending);
  await loadDone;
  peak = Math.max(peak, peakRssMb(server.child.pid));
  agent.destroy();
  const survived = !dead;
  if (survived) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  const eld = server.lines.find((l) => l.startsWith('ELD '));
  const loop = eld === undefined ? undefined : (JSON.parse(eld.slice(4)) as { maxMs: number });
  const summary = (() => {
    try {
      return JSON.parse(loadOut.trim().split('\n').at(-1) ?? '{}') as {
        answers?: number;
        statuses?: Record<string, number>;
        largestAnswerBytes?: number;
      };
    } catch {
      return {};
    }
  })();
  latencies.sort((a, b) => a - b);
  return {
    name,
    survived,
    noisyAnswers: summary.answers ?? 0,
    noisyStatuses: summary.statuses ?? {},
    largestAnswerBytes: summary.largestAnswerBytes ?? 0,
    victimP50Ms: percentile(latencies, 50),
    victimP99Ms: percentile(latencies, 99),
    victimMaxMs: latencies.at(-1) ?? NaN,
    victimFailures: failures,
    eventLoopMaxMs: loop?.maxMs ?? NaN,
    peakRssMb: peak,
    victimSlow: slow,
    victimSlowFirstSecond: slowFirstSecond,
  };
}

/** What `benchNoisyNeighbour` measured, and whether every case passed. */
export interface NoisyBench {
  readonly results: NoisyResult[];
  readonly limits: ShippedLimits;
  readonly failed: number;
}

/**
 * Runs every worst case (or those whose name contains `only`), prints a table with a
 * verdict per case and a last line `PASS`/`FAIL`.
 */
export async function benchNoisyNeighbour(
  options: { seconds?: number; root?: string; clients?: number; only?: string } = {},
  write: (line: string) => void = console.log,
): Promise<NoisyBench> {
  const seconds = options.seconds ?? 10;
  const root = options.root ?? join(HERE, '..');
  const clients = options.clients ?? 4;
  const limits = shippedLimits(root);
  const results: NoisyResult[] = [];
  for (const [index, worst] of worstCases().entries()) {
    if (options.only !== undefined && !worst.name.toLowerCase().includes(options.only.toLowerCase()))
      continue;
    results.push(
      await runCase(
        root,
        index,
        `${worst.name} (${(worst.body.length / 1e6).toFixed(1)} MB)`,
        seconds,
        clients,
        limits,
      ),
    );
  }
  write(
    `\nNoisy neighbour: ${clients} clients sending each worst case, ${seconds} s each, server ${[...imageNodeFlags(root), ...limits.nodeOptions].join(' ')}, memory limit ${limits.memoryLimitMb.toFixed(0)} MB, root ${root} (node ${process.version})`,
  );
  write(
    `| Worst case | survived | answers (status: count) | largest answer | other tenant p50 / p99 / max ms | failed | ≥ ${VICTIM_P99_LIMIT_MS} ms (in 1st s) | longest event-loop block ms | peak RSS MB | verdict |`,
  );
  write('|---|---|---|---|---|---|---|---|---|---|');
  let failed = 0;
  for (const r of results) {
    const problems = noisyProblems(r, limits);
    if (problems.length > 0) failed += 1;
    const statuses = Object.entries(r.noisyStatuses)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    write(
      `| ${r.name} | ${r.survived ? 'yes' : 'NO'} | ${r.noisyAnswers} (${statuses}) | ${(r.largestAnswerBytes / 1e3).toFixed(1)} KB | ${r.victimP50Ms.toFixed(1)} / ${r.victimP99Ms.toFixed(1)} / ${r.victimMaxMs.toFixed(1)} | ${r.victimFailures} | ${r.victimSlow} (${r.victimSlowFirstSecond}) | ${r.eventLoopMaxMs.toFixed(0)} | ${r.peakRssMb.toFixed(0)} | ${problems.length === 0 ? 'pass' : `FAIL: ${problems.join('; ')}`} |`,
    );
  }
  write(
    failed === 0
      ? `PASS: all ${results.length} cases within the limits`
      : `FAIL: ${failed} of ${results.length} cases past the limits`,
  );
  return { results, limits, failed };
}

if (process.argv[1] === SELF) {
  const [role, ...rest] = process.argv.slice(2);
  if (role === 'load') {
    const [port, index, seconds, clients] = rest.map(Number);
    await runLoadProcess(port ?? 0, index ?? 0, seconds ?? 10, clients ?? 4);
  } else {
    const arg = (name: string) => {
      const i = process.argv.indexOf(name);
      return i >= 0 ? process.argv[i + 1] : undefined;
    };
    const seconds = arg('--seconds');
    const root = arg('--root');
    const only = arg('--only');
    const bench = await benchNoisyNeighbour({
      ...(seconds === undefined ? {} : { seconds: Number(seconds) }),
      ...(root === undefined ? {} : { root }),
      ...(only === undefined ? {} : { only }),
    });
    if (bench.failed > 0) process.exitCode = 1;
  }
}
