/**
 * A benchmark server in its own process, so the load driver does not share its event loop:
 * `noop` answers every POST with a fixed AdmissionReview over HTTPS (the floor); `core` serves
 * the policy core alone on bare node:https (no log, audit or metrics: the ceiling), answering
 * at the end of the turn as `serve` does; `express` parses the body with express as the
 * webhook does and answers a fixed review; `webhook` serves our real app with a registry of
 * N generated tenants (3 clusters each).
 * Prints `PORT <n>` once listening; stops on SIGTERM (with `BENCH_EVENT_LOOP=1`, printing
 * the longest event-loop block first).
 */
import { createServer } from 'node:https';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import express from 'express';
import pino from 'pino';
import { Registry } from 'prom-client';
import { admit, defaultPolicy } from '../src/admission/admit.js';
import { outcomeResponse } from '../src/admission/response.js';
import { parseAdmissionReview, readAdmissionRequest } from '../src/admission/review.js';
import { warmUpAdmission } from '../src/admission/warm-up.js';
import { pinoAuditSink } from '../src/audit/logger.js';
import { generateCertificates } from '../src/server/certificates.js';
import { TurnBatch } from '../src/server/turn-batch.js';
import { createWebhookApp } from '../src/server/webhook-app.js';
import { resolveSettings } from '../src/settings.js';
import { buildRegistry, staticRegistry } from '../src/tenancy/registry.js';
import { generatedTenants } from './tenants.js';

async function main(): Promise<void> {
  const [mode = 'noop', countArg = '10'] = process.argv.slice(2);
  const bundle = await generateCertificates({ names: ['127.0.0.1', 'localhost'] });
  let handler: Parameters<typeof createServer>[1];
  if (mode === 'noop') {
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'x', allowed: true },
    });
    handler = (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      });
    };
  } else if (mode === 'express') {
    // The second floor: express with the same JSON body parser, answering a fixed review.
    const app = express();
    app.set('etag', false);
    app.post('/', express.json({ limit: 3 * 1024 * 1024 }), (req, res) => {
      res.json({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: (req.body as { request?: { uid?: string } }).request?.uid, allowed: true },
      });
    });
    handler = app;
  } else if (mode === 'core') {
    // The ceiling: the policy core alone behind bare node:https (no log, audit or metrics),
    // its answers at the end of the turn as `serve`'s lean path does (src/server/turn-batch.ts).
    const { registry } = buildRegistry(generatedTenants(Number(countArg)));
    const settings = resolveSettings({});
    const answers = new TurnBatch({
      onError: (err) => {
        throw err;
      },
    });
    handler = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        answers.defer(() => {
          const request = readAdmissionRequest(parseAdmissionReview(body));
          const endpoint = req.url === '/validate' ? 'validate' : 'mutate';
          const outcome = admit(endpoint, request, { policy: defaultPolicy, registry, settings });
          const text = JSON.stringify(outcomeResponse(request.uid, outcome));
          return () => {
            res.writeHead(200, {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(text),
            });
            res.end(text);
          };
        });
      });
    };
  } else {
    const started = process.hrtime.bigint();
    const { registry } = buildRegistry(generatedTenants(Number(countArg)));
    const buildMs = Number(process.hrtime.bigint() - started) / 1e6;
    // As `serve` does before it listens (src/cli/serve.ts).
    const settings = resolveSettings({});
    warmUpAdmission({ settings });
    const logger = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }));
    const app = createWebhookApp({
      registry: staticRegistry(registry),
      settings,
      logger,
      audit: pinoAuditSink(logger),
      metricsRegistry: new Registry(),
    });
    handler = app;
    process.stderr.write(
      `registry of ${registry.size} tenants built in ${buildMs.toFixed(0)} ms, heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB\n`,
    );
  }
  const server = createServer({ cert: bundle.cert, key: bundle.key }, handler);
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address !== null && typeof address === 'object') process.stdout.write(`PORT ${address.port}\n`);
  });
  // BENCH_EVENT_LOOP=1: on SIGTERM, print `ELD {"maxMs":..}`, the longest event-loop block seen.
  const loop = process.env.BENCH_EVENT_LOOP === '1' ? monitorEventLoopDelay({ resolution: 5 }) : undefined;
  loop?.enable();
  process.on('SIGTERM', () => {
    if (loop !== undefined)
      process.stdout.write(
        `ELD ${JSON.stringify({ maxMs: loop.max / 1e6, p99Ms: loop.percentile(99) / 1e6 })}\n`,
      );
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
