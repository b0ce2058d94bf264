/**
 * Webhook throughput and latency next to a no-op HTTPS handler measured in the same run,
 * and with a registry of 10,000 tenants (30,000 clusters) next to one of 10.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { fileURLToPath } from 'node:url';
import { printTable, runLoad, type LoadResult } from './load.js';

const SERVER = fileURLToPath(new URL('./webhook-server.ts', import.meta.url));

interface Running { port: number; child: ChildProcess }

async function startServer(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /PORT (\d+)/.exec(buffer);
      if (match?.[1] !== undefined) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`benchmark server exited with ${code}`)));
  });
  return { port, child };
}

function stop(running: Running): Promise<void> {
  return new Promise((resolve) => {
    running.child.once('exit', () => resolve());
    running.child.kill('SIGTERM');
  });
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

/** Runs the webhook benchmark; each load lasts `seconds`. */
export async function benchWebhook(seconds = 5, write: (line: string) => void = console.log): Promise<void> {
  const load = (label: string, port: number, path: string, body: string): Promise<LoadResult> =>
    runLoad({ label, url: `https://127.0.0.1:${port}${path}`, method: 'POST', body, durationSeconds: seconds });
  const noop = await startServer(['noop']);
  const floor = await load('no-op HTTPS handler', noop.port, '/', typicalReview('team-3'));
  await stop(noop);
  const rows: LoadResult[] = [];
  const bare = await startServer(['express']);
  rows.push(await load('express + JSON body, fixed answer', bare.port, '/', typicalReview('team-3')));
  await stop(bare);
  for (const count of [10, 10_000]) {
    const server = await startServer(['webhook', String(count)]);
    const body = typicalReview(`team-${count - 7}`);
    rows.push(await load(`/mutate, ${count} tenants`, server.port, '/mutate', body));
    rows.push(await load(`/validate (mutated object), ${count} tenants`, server.port, '/validate', await mutatedReview(server.port, body)));
    await stop(server);
  }
  printTable(`Webhook, typical ApplicationSet, ${seconds} s per row, 8 connections`, floor, rows, write);
  const [, m10, v10, m10k, v10k] = rows;
  if (m10 !== undefined && v10 !== undefined && m10k !== undefined && v10k !== undefined) {
    write(`10,000 tenants vs 10: /mutate req/s x${(m10k.requestsPerSecond / m10.requestsPerSecond).toFixed(2)}, /validate req/s x${(v10k.requestsPerSecond / v10.requestsPerSecond).toFixed(2)}`);
  }
  const failures = [floor, ...rows].reduce((n, r) => n + r.errors + r.non2xx, 0);
  if (failures > 0) throw new Error(`${failures} benchmark requests failed`);
}
