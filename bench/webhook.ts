/**
 * Webhook throughput and latency next to a no-op `node:https` AdmissionReview handler, each
 * server in its own process and the load generator in a third, all in the same run: req/s at
 * 32 connections, p99 at 4, for a registry of 10 tenants and one of 10,000 (30,000 clusters).
 * The webhook is what the image runs: `serve` from the esbuild bundle, with the shipped
 * flags; the policy core and express rows are bench/webhook-server.ts bundled the same way,
 * so no row pays for tsx's compile hooks and source maps, which no Deployment runs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { bundleBenchEntry } from './bundle.js';
import { printTable, runLoad, type LoadResult } from './load.js';
import { cpuSeconds, startProcess, stop, type Running } from './processes.js';
import { servedBundle, startServe, tenantsYaml } from './serve-process.js';

const NOOP = fileURLToPath(new URL('./noop-server.mjs', import.meta.url));

/** A typical tenant ApplicationSet: a matrix of a clusters and a git generator. */
export function typicalReview(tenant: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: 'argoproj.io', version: 'v1alpha1', kind: 'ApplicationSet' },
      resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'applicationsets' },
      name: 'guestbook',
      namespace: tenant,
      operation: 'CREATE',
      userInfo: { username: 'alice', groups: [`${tenant}-admins`, 'system:authenticated'] },
      dryRun: false,
      object: {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'ApplicationSet',
        metadata: { name: 'guestbook', namespace: tenant },
        spec: {
          goTemplate: true,
          generators: [
            {
              matrix: {
                generators: [
                  { clusters: { selector: { matchLabels: { stage: 'dev' } } } },
                  {
                    git: {
                      repoURL: 'https://github.com/example/apps.git',
                      revision: 'HEAD',
                      directories: [{ path: 'apps/*' }],
                    },
                  },
                ],
              },
            },
          ],
          template: {
            metadata: { name: '{{.name}}-{{.path.basename}}' },
            spec: {
              project: tenant,
              source: {
                repoURL: 'https://github.com/example/apps.git',
                targetRevision: 'HEAD',
                path: '{{.path.path}}',
              },
              destination: { server: '{{.server}}', namespace: '{{.path.basename}}' },
            },
          },
        },
      },
    },
  });
}

function post(port: number, path: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // The run's own self-signed certificate, on loopback.
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The review /validate gets in a real flow: the object after /mutate's patch. Also checks
 * that it is allowed, so the benchmark measures the path a tenant's object takes.
 */
async function mutatedReview(port: number, body: string): Promise<string> {
  const answer = JSON.parse(await post(port, '/mutate', body)) as { response: { patch?: string } };
  const review = JSON.parse(body) as { request: { object: object } };
  const patch = JSON.parse(
    Buffer.from(answer.response.patch ?? 'W10=', 'base64').toString('utf8'),
  ) as Operation[];
  review.request.object = jsonPatch.applyPatch(review.request.object, patch, false, false).newDocument;
  const mutated = JSON.stringify(review);
  const verdict = JSON.parse(await post(port, '/validate', mutated)) as {
    response: { allowed: boolean; status?: { message?: string } };
  };
  if (!verdict.response.allowed)
    throw new Error(`the mutated benchmark object is denied: ${verdict.response.status?.message ?? ''}`);
  return mutated;
}

/**
 * Throws unless `path` answers `body` with an allowed AdmissionReview for its uid, carrying
 * a JSON Patch on /mutate: the path a tenant's typical object takes, not a refusal.
 */
async function expectAdmitted(port: number, path: string, body: string, label: string): Promise<void> {
  const text = await post(port, path, body);
  let answer: {
    response?: { uid?: string; allowed?: boolean; patch?: string; status?: { message?: string } };
  };
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    throw new Error(`${label}: the answer is not JSON: ${text.slice(0, 200)}`);
  }
  const uid = (JSON.parse(body) as { request: { uid: string } }).request.uid;
  const response = answer.response;
  if (response?.uid !== uid || response.allowed !== true)
    throw new Error(`${label}: the benchmark review is not admitted: ${text.slice(0, 300)}`);
  if (path === '/mutate' && (response.patch === undefined || response.patch.length === 0))
    throw new Error(`${label}: /mutate answered the benchmark review without a patch`);
}

/** Connections of the throughput rows, and of the latency rows. */
export const THROUGHPUT_CONNECTIONS = 32;
export const LATENCY_CONNECTIONS = 4;

/** Throughput (at 32 connections) and latency (at 4) of one target. */
export interface Measured {
  readonly label: string;
  readonly throughput: LoadResult;
  readonly latency: LoadResult;
  /**
   * CPU the server process spent a request during the throughput loads (median of the
   * rounds), in µs: unlike req/s, not bounded by a load generator that shares the cores.
   */
  readonly serverCpuMicroseconds: number;
}

/** CPU a request of the calibration floor spends: the policy core's cost that issue 14 names. */
export const CALIBRATION_BUSY_MICROSECONDS = 25;

export interface WebhookBench {
  readonly floor: Measured;
  /**
   * The no-op floor that also reads the body into one string and `JSON.parse`s it: the least
   * any AdmissionReview handler does, so the ceiling of every webhook on this machine.
   */
  readonly parseFloor: Measured;
  /**
   * The no-op floor with CALIBRATION_BUSY_MICROSECONDS of busy CPU a request: what a handler
   * doing only that much work reaches on this machine (the load generator shares its cores).
   */
  readonly calibration: Measured;
  readonly express: Measured;
  /** The policy core alone on bare node:https (no log, audit or metrics): the ceiling here. */
  readonly core: Measured;
  readonly mutate10: Measured;
  readonly validate10: Measured;
  readonly mutate10k: Measured;
  readonly validate10k: Measured;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of each figure over the rounds. */
function medianResult(results: readonly LoadResult[]): LoadResult {
  return {
    label: results[0]?.label ?? '',
    requestsPerSecond: median(results.map((r) => r.requestsPerSecond)),
    p50Ms: median(results.map((r) => r.p50Ms)),
    p99Ms: median(results.map((r) => r.p99Ms)),
    errors: results.reduce((n, r) => n + r.errors, 0),
    non2xx: results.reduce((n, r) => n + r.non2xx, 0),
  };
}

/**
 * Runs the webhook benchmark: every server started at once (each in its own process), then
 * `rounds` rounds in which each target is loaded in turn (the floor first), so that a
 * neighbour's burst on a shared machine touches the floor and the targets alike; the
 * median of the rounds is reported. Each load lasts `seconds`.
 */
export async function benchWebhook(
  seconds = 5,
  write: (line: string) => void = console.log,
  rounds = 3,
): Promise<WebhookBench> {
  const dir = mkdtempSync(join(tmpdir(), 'tg-bench-webhook-'));
  const servers: Running[] = [];
  const started = async (starting: Promise<Running>): Promise<Running> => {
    const running = await starting;
    servers.push(running);
    return running;
  };
  try {
    const [served, benchServer] = await Promise.all([
      servedBundle(),
      bundleBenchEntry('webhook-server', 'webhook'),
    ]);
    writeFileSync(join(dir, 'tenants-10.yaml'), tenantsYaml(10));
    writeFileSync(join(dir, 'tenants-10000.yaml'), tenantsYaml(10_000));
    mkdirSync(join(dir, 'certs'));
    const noop = await started(startProcess([NOOP]));
    const parsing = await started(startProcess([NOOP, '--parse']));
    const busy = await started(startProcess([NOOP, String(CALIBRATION_BUSY_MICROSECONDS)]));
    const bare = await started(startProcess([benchServer, 'express']));
    const core = await started(startProcess([benchServer, 'core', '10']));
    const serve = (count: number) =>
      started(
        startServe(served, join(dir, `tenants-${count}.yaml`), join(dir, 'certs'), {
          discardLogs: true,
        }),
      );
    const small = await serve(10);
    const large = await serve(10_000);
    const smallBody = typicalReview('team-3');
    const largeBody = typicalReview('team-9993');
    const targets: Array<{ label: string; path: string; body: string; server: Running }> = [
      { label: 'no-op node:https handler', path: '/', body: smallBody, server: noop },
      {
        label: 'no-op handler that reads and JSON.parses the body (calibration)',
        path: '/',
        body: smallBody,
        server: parsing,
      },
      {
        label: `no-op handler + ${CALIBRATION_BUSY_MICROSECONDS} µs of CPU a request (calibration)`,
        path: '/',
        body: smallBody,
        server: busy,
      },
      {
        label: 'express + JSON body, fixed answer',
        path: '/',
        body: smallBody,
        server: bare,
      },
      {
        label: 'policy core alone, bare node:https, /mutate',
        path: '/mutate',
        body: smallBody,
        server: core,
      },
      { label: '/mutate, 10 tenants', path: '/mutate', body: smallBody, server: small },
      {
        label: '/validate (mutated object), 10 tenants',
        path: '/validate',
        body: await mutatedReview(small.port, smallBody),
        server: small,
      },
      { label: '/mutate, 10000 tenants', path: '/mutate', body: largeBody, server: large },
      {
        label: '/validate (mutated object), 10000 tenants',
        path: '/validate',
        body: await mutatedReview(large.port, largeBody),
        server: large,
      },
    ];
    // Every target answers its body with `allowed` (and /mutate with a patch) before any
    // load, so no row measures a refusal: a refused review costs less than an admitted one.
    for (const t of targets) if (t.path !== '/') await expectAdmitted(t.server.port, t.path, t.body, t.label);
    const throughput: LoadResult[][] = targets.map(() => []);
    const latency: LoadResult[][] = targets.map(() => []);
    const cpu: number[][] = targets.map(() => []);
    for (const t of targets)
      await runLoad({
        label: 'warm-up',
        url: `https://127.0.0.1:${t.server.port}${t.path}`,
        method: 'POST',
        body: t.body,
        durationSeconds: 1,
        connections: LATENCY_CONNECTIONS,
      });
    for (let round = 0; round < rounds; round++) {
      for (const [i, t] of targets.entries()) {
        const url = `https://127.0.0.1:${t.server.port}${t.path}`;
        const cpuBefore = cpuSeconds(t.server.child.pid);
        const loaded = await runLoad({
          label: t.label,
          url,
          method: 'POST',
          body: t.body,
          durationSeconds: seconds,
          connections: THROUGHPUT_CONNECTIONS,
        });
        const requests = loaded.requestsPerSecond * seconds;
        cpu[i]!.push(requests > 0 ? ((cpuSeconds(t.server.child.pid) - cpuBefore) / requests) * 1e6 : NaN);
        throughput[i]!.push(loaded);
        latency[i]!.push(
          await runLoad({
            label: t.label,
            url,
            method: 'POST',
            body: t.body,
            durationSeconds: seconds,
            connections: LATENCY_CONNECTIONS,
            latency: true,
          }),
        );
      }
    }
    const measured: Measured[] = targets.map((t, i) => ({
      label: t.label,
      throughput: medianResult(throughput[i]!),
      latency: medianResult(latency[i]!),
      serverCpuMicroseconds: median(cpu[i]!),
    }));
    const [floor, parseFloor, calibration, express, core10, mutate10, validate10, mutate10k, validate10k] =
      measured as [Measured, Measured, Measured, Measured, Measured, Measured, Measured, Measured, Measured];
    printTable(
      `Webhook, typical ApplicationSet, ${THROUGHPUT_CONNECTIONS} connections (autocannon), median of ${rounds} rounds of ${seconds} s (node ${process.version})`,
      floor.throughput,
      measured.slice(1).map((m) => m.throughput),
      write,
    );
    printTable(
      `Webhook latency, ${LATENCY_CONNECTIONS} connections (closed loop, hrtime per request), median of ${rounds} rounds of ${seconds} s (node ${process.version})`,
      floor.latency,
      measured.slice(1).map((m) => m.latency),
      write,
    );
    write(
      `\nServer CPU a request during the ${THROUGHPUT_CONNECTIONS}-connection loads (user + system, /proc), median of ${rounds} rounds (node ${process.version})`,
    );
    write('| target | µs a request | vs floor |');
    write('| --- | ---: | ---: |');
    for (const m of measured)
      write(
        `| ${m.label} | ${m.serverCpuMicroseconds.toFixed(1)} | ${(m.serverCpuMicroseconds / floor.serverCpuMicroseconds).toFixed(2)}× |`,
      );
    const failures = measured.reduce(
      (n, m) => n + m.throughput.errors + m.throughput.non2xx + m.latency.errors + m.latency.non2xx,
      0,
    );
    if (failures > 0) throw new Error(`${failures} benchmark requests failed`);
    return {
      floor,
      parseFloor,
      calibration,
      express,
      core: core10,
      mutate10,
      validate10,
      mutate10k,
      validate10k,
    };
  } finally {
    for (const s of servers) await stop(s);
    rmSync(dir, { recursive: true, force: true });
  }
}
