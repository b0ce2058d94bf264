/**
 * Webhook throughput and latency next to a no-op `node:https` AdmissionReview handler, each
 * server in its own process and the load generator in a third, all in the same run: req/s at
 * 32 connections, p99 at 4, for a registry of 10 tenants and one of 10,000 (30,000 clusters).
 */
import { request } from 'node:https';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { fileURLToPath } from 'node:url';
import { printTable, runLoad, type LoadResult } from './load.js';
import { startProcess, stop, type Running } from './processes.js';

const SERVER = fileURLToPath(new URL('./webhook-server.ts', import.meta.url));
const NOOP = fileURLToPath(new URL('./noop-server.mjs', import.meta.url));

function startServer(args: string[]): Promise<Running> {
  return startProcess(['--import', 'tsx', SERVER, ...args]);
}

/** A typical tenant ApplicationSet: a matrix of a clusters and a git generator. */
export function typicalReview(tenant: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: 'argoproj.io', version: 'v1alpha1', kind: 'ApplicationSet' },
      resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'applicationsets' },
      name: 'guestbook', namespace: tenant, operation: 'CREATE',
      userInfo: { username: 'alice', groups: [`${tenant}-admins`, 'system:authenticated'] },
      dryRun: false,
      object: {
        apiVersion: 'argoproj.io/v1alpha1', kind: 'ApplicationSet',
        metadata: { name: 'guestbook', namespace: tenant },
        spec: {
          goTemplate: true,
          generators: [{ matrix: { generators: [
            { clusters: { selector: { matchLabels: { stage: 'dev' } } } },
            { git: { repoURL: 'https://github.com/example/apps.git', revision: 'HEAD', directories: [{ path: 'apps/*' }] } },
          ] } }],
          template: {
            metadata: { name: '{{.name}}-{{.path.basename}}' },
            spec: {
              project: tenant,
              source: { repoURL: 'https://github.com/example/apps.git', targetRevision: 'HEAD', path: '{{.path.path}}' },
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
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
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
  const patch = JSON.parse(Buffer.from(answer.response.patch ?? 'W10=', 'base64').toString('utf8')) as Operation[];
  review.request.object = jsonPatch.applyPatch(review.request.object, patch, false, false).newDocument;
  const mutated = JSON.stringify(review);
  const verdict = JSON.parse(await post(port, '/validate', mutated)) as { response: { allowed: boolean; status?: { message?: string } } };
  if (!verdict.response.allowed) throw new Error(`the mutated benchmark object is denied: ${verdict.response.status?.message ?? ''}`);
  return mutated;
}

/** Connections of the throughput rows, and of the latency rows. */
export const THROUGHPUT_CONNECTIONS = 32;
export const LATENCY_CONNECTIONS = 4;

/** Throughput (at 32 connections) and latency (at 4) of one target. */
export interface Measured {
  readonly label: string;
  readonly throughput: LoadResult;
  readonly latency: LoadResult;
}

export interface WebhookBench {
  readonly floor: Measured;
  readonly express: Measured;
  readonly mutate10: Measured;
  readonly validate10: Measured;
  readonly mutate10k: Measured;
  readonly validate10k: Measured;
}

/** Runs the webhook benchmark; each load lasts `seconds`. */
export async function benchWebhook(seconds = 5, write: (line: string) => void = console.log): Promise<WebhookBench> {
  const measure = async (label: string, port: number, path: string, body: string): Promise<Measured> => {
    const url = `https://127.0.0.1:${port}${path}`;
    await runLoad({ label: 'warm-up', url, method: 'POST', body, durationSeconds: 1, connections: LATENCY_CONNECTIONS });
    const throughput = await runLoad({ label, url, method: 'POST', body, durationSeconds: seconds, connections: THROUGHPUT_CONNECTIONS });
    const latency = await runLoad({ label, url, method: 'POST', body, durationSeconds: seconds, connections: LATENCY_CONNECTIONS });
    return { label, throughput, latency };
  };
  const noop = await startProcess([NOOP]);
  const floor = await measure('no-op node:https handler', noop.port, '/', typicalReview('team-3'));
  await stop(noop);
  const bare = await startServer(['express']);
  const express = await measure('express + JSON body, fixed answer', bare.port, '/', typicalReview('team-3'));
  await stop(bare);
  const measured: Measured[] = [];
  for (const count of [10, 10_000]) {
    const server = await startServer(['webhook', String(count)]);
    const body = typicalReview(`team-${count - 7}`);
    measured.push(await measure(`/mutate, ${count} tenants`, server.port, '/mutate', body));
    measured.push(await measure(`/validate (mutated object), ${count} tenants`, server.port, '/validate', await mutatedReview(server.port, body)));
    await stop(server);
  }
  const [mutate10, validate10, mutate10k, validate10k] = measured as [Measured, Measured, Measured, Measured];
  printTable(`Webhook, typical ApplicationSet, ${seconds} s per row, ${THROUGHPUT_CONNECTIONS} connections (node ${process.version})`, floor.throughput, [express, ...measured].map((m) => m.throughput), write);
  printTable(`Webhook latency, ${seconds} s per row, ${LATENCY_CONNECTIONS} connections (node ${process.version})`, floor.latency, [express, ...measured].map((m) => m.latency), write);
  const failures = [floor, express, ...measured].reduce((n, m) => n + m.throughput.errors + m.throughput.non2xx + m.latency.errors + m.latency.non2xx, 0);
  if (failures > 0) throw new Error(`${failures} benchmark requests failed`);
  return { floor, express, mutate10, validate10, mutate10k, validate10k };
}
