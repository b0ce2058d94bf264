/**
 * The controller's token latency while bogus caller tokens flood the broker (issue 15 item 4).
 *
 * This process runs the test API server (test/support) and the broker over HTTPS, and probes
 * `GET /api/get-target-token` with the application controller's pod-bound token at a fixed
 * rate, each call on a new TLS connection as the exec plugin makes it. A second process (this
 * file with `--flood`) sends random bogus tokens at a fixed rate, each from one of many
 * loopback source addresses (127.0.0.2, 127.0.0.3, ...), as many pods would.
 *
 * The API server is modelled with a bounded capacity: at most `API_CONCURRENCY` TokenReviews
 * at once, each taking `REVIEW_MS`; beyond that they queue, as an API server under priority
 * and fairness limits does. Figures are for this machine and loopback; read them as before
 * and after, not as absolutes.
 *
 *   node --import tsx bench/broker-flood.ts [--rate 400] [--seconds 10] [--sources 200] [--token-bytes 1000]
 *                                           [--api-concurrency 4] [--review-ms 20]
 *
 * It prints the controller's latency (p50, p99, max) and statuses, the flood's statuses,
 * the TokenReviews made, the API's peak concurrent reviews, this process's peak RSS, and its
 * event-loop delay (p99): a high one means this machine's CPU, not the broker's queue, set
 * the latency.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { pino } from 'pino';
import { createBroker } from '../src/broker/create-broker.js';
import { parseBrokerOptions } from '../src/broker/options.js';
import { createBrokerRouter } from '../src/broker/router.js';
import { parseTenantsYaml } from '../src/tenancy/file-source.js';
import { staticRegistry } from '../src/tenancy/registry.js';
import { knownTokensHandler, type KnownToken } from '../test/support/api-token-review.js';
import { serviceAccountToken } from '../test/support/caller-tokens.js';
import { TestApiServer } from '../test/support/test-api-server.js';
import { makeTestTls } from '../test/support/test-tls.js';

const API_CONCURRENCY = arg('api-concurrency', 4);
const REVIEW_MS = arg('review-ms', 20);
const PROBE_PER_SECOND = 10;
const TARGET = 'k8s-bench-dev';
/** The server TARGET is registered with; the controller's plugin names it in each request. */
const TARGET_SERVER = 'https://bench-dev.example.com';
const TENANTS = `
apiVersion: tenantguard.dev/v1alpha1
kind: Tenant
metadata: { name: bench }
spec:
  owners: { groups: [bench-admins] }
  namespaces: [bench]
  projects: [bench]
  clusters:
    - { name: ${TARGET}, server: ${TARGET_SERVER} }
`;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i === -1 ? undefined : Number(process.argv[i + 1]);
  return v === undefined || !Number.isFinite(v) ? fallback : v;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function get(
  url: string,
  token: string,
  ca: string,
  opts: { agent?: Agent | false; localAddress?: string },
): Promise<number> {
  return new Promise((resolve) => {
    const r = request(
      url,
      {
        headers: { Authorization: `Bearer ${token}` },
        ca,
        agent: opts.agent ?? false,
        ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
        timeout: 15_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(-1));
      },
    );
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', () => resolve(-1));
    r.end();
  });
}

/** The flood process: bogus tokens at `rate` per second for `seconds`, over `sources` source addresses. */
async function flood(): Promise<void> {
  const url = process.argv[process.argv.indexOf('--flood') + 1] ?? '';
  const ca = Buffer.from(process.env.BENCH_CA ?? '', 'base64').toString('utf8');
  const rate = arg('rate', 400);
  const seconds = arg('seconds', 10);
  const sources = arg('sources', 200);
  const tokenBytes = arg('token-bytes', 1000);
  const agents = Array.from({ length: sources }, () => new Agent({ keepAlive: true, maxSockets: 4 }));
  const statuses: Record<string, number> = {};
  const pending: Array<Promise<void>> = [];
  const end = Date.now() + seconds * 1000;
  let sent = 0;
  const started = Date.now();
  while (Date.now() < end) {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    for (; sent < due; sent++) {
      const i = sent % sources;
      const token = randomBytes(Math.ceil((tokenBytes * 3) / 4))
        .toString('base64url')
        .slice(0, tokenBytes);
      pending.push(
        get(url, token, ca, {
          agent: agents[i] ?? false,
          localAddress: `127.0.${Math.floor((i + 2) / 250)}.${((i + 2) % 250) + 1}`,
        }).then((s) => {
          statuses[s] = (statuses[s] ?? 0) + 1;
        }),
      );
    }
    await sleep(5);
  }
  await Promise.all(pending);
  for (const a of agents) a.destroy();
  process.stdout.write(`${JSON.stringify({ sent, statuses })}\n`);
}

async function main(): Promise<void> {
  const seconds = arg('seconds', 10);
  const tls = await makeTestTls();
  const api = await TestApiServer.start();
  const known = new Map<string, KnownToken>();
  const answer = knownTokensHandler(known, Date.now);
  let active = 0;
  let peakActive = 0;
  const waiting: Array<() => void> = [];
  api.onTokenReview(async (req) => {
    if (active >= API_CONCURRENCY) await new Promise<void>((r) => waiting.push(r));
    active++;
    peakActive = Math.max(peakActive, active);
    try {
      await sleep(REVIEW_MS);
      return answer(req);
    } finally {
      active--;
      waiting.shift()?.();
    }
  });
  const controller = serviceAccountToken({ exp: Math.floor(Date.now() / 1000) + 3600 });
  known.set(controller.token, controller.known);

  const broker = await createBroker({
    config: parseBrokerOptions({}),
    issuer: 'https://broker.bench.example.com',
    allowedCallers: [controller.username],
    registry: staticRegistry(parseTenantsYaml(TENANTS, 'bench', 'argocd')),
    logger: pino({ level: 'silent' }),
    kubeConfig: api.kubeConfig(),
  });
  const app = express();
  app.use(createBrokerRouter(broker));
  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, app);
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/api/get-target-token?targetName=${TARGET}&server=${encodeURIComponent(TARGET_SERVER)}`;

  let peakRss = 0;
  const rssTimer = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);

  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--flood', url, ...process.argv.slice(2)],
    {
      env: { ...process.env, BENCH_CA: Buffer.from(tls.caPem).toString('base64') },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let childOut = '';
  child.stdout.on('data', (d: Buffer) => {
    childOut += d.toString('utf8');
  });
  const childDone = new Promise<void>((r) => child.on('exit', () => r()));

  await sleep(1500); // the flood process starts (tsx) and reaches its rate
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const reviewsBefore = api.tokenReviews.length;
  const latencies: number[] = [];
  const probeStatuses: Record<string, number> = {};
  const probes: Array<Promise<void>> = [];
  const end = Date.now() + (seconds - 2) * 1000;
  while (Date.now() < end) {
    const t0 = performance.now();
    probes.push(
      get(url, controller.token, tls.caPem, {}).then((s) => {
        latencies.push(performance.now() - t0);
        probeStatuses[s] = (probeStatuses[s] ?? 0) + 1;
      }),
    );
    await sleep(1000 / PROBE_PER_SECOND);
  }
  await Promise.all(probes);
  const reviewsDuring = api.tokenReviews.length - reviewsBefore;
  loopDelay.disable();
  await childDone;
  clearInterval(rssTimer);
  latencies.sort((a, b) => a - b);
  const result = {
    controller: {
      requests: latencies.length,
      statuses: probeStatuses,
      p50Ms: Math.round(percentile(latencies, 50)),
      p99Ms: Math.round(percentile(latencies, 99)),
      maxMs: Math.round(latencies.at(-1) ?? Number.NaN),
    },
    flood: JSON.parse(childOut.trim() || '{}') as unknown,
    tokenReviewsDuringProbe: reviewsDuring,
    tokenReviewsTotal: api.tokenReviews.length,
    apiPeakConcurrentReviews: peakActive,
    peakRssMiB: Math.round(peakRss / 1048576),
    eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
    model: { apiConcurrency: API_CONCURRENCY, reviewMs: REVIEW_MS, probePerSecond: PROBE_PER_SECOND },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  broker.close();
  server.closeAllConnections();
  server.close();
  await api.close();
}

if (process.argv.includes('--flood')) await flood();
else await main();
