/**
 * Broker throughput: tokens per second through `GET /api/get-target-token` over HTTPS with a
 * warm TokenReview cache (the review itself is out of the picture after the first request),
 * next to bare jose signing of the same claims in the same run, as a ratio; for RS256 and
 * ES256. `runBrokerBench()` is what `npm run bench` calls; `node --import tsx bench/broker.ts`
 * runs it alone.
 */
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { pino } from 'pino';
import { generate } from 'selfsigned';
import { createBroker } from '../src/broker/create-broker.js';
import { parseBrokerOptions, type SigningAlg } from '../src/broker/options.js';
import { createBrokerRouter } from '../src/broker/router.js';
import { generateKeyRecord } from '../src/broker/key-material.js';
import { signToken } from '../src/broker/signer.js';
import type { TokenReviewer } from '../src/broker/token-review.js';
import { parseTenantsYaml } from '../src/tenancy/file-source.js';
import { staticRegistry } from '../src/tenancy/registry.js';
import { runLoad } from './load.js';

const CALLER = 'system:serviceaccount:argocd:argocd-application-controller';
const TENANTS = `
apiVersion: tenantguard.dev/v1alpha1
kind: Tenant
metadata: { name: bench }
spec:
  owners: { groups: [bench-admins] }
  namespaces: [bench]
  projects: [bench]
  clusters:
    - { name: k8s-bench-dev, server: https://bench-dev.example.com, groups: [tenant-admins] }
`;

/** One row of the result. */
export interface BrokerBenchRow {
  alg: SigningAlg;
  /** Bare jose signing, tokens per second (as many in flight as the HTTP run has connections). */
  bareTokensPerSecond: number;
  /** Through the broker's HTTP endpoint, warm review cache. */
  brokerTokensPerSecond: number;
  /** broker / bare. */
  ratio: number;
  brokerP99Ms: number;
  /** `GET /openid/v1/jwks` of the same server (HTTPS + express, no signing): the HTTP floor. */
  jwksRequestsPerSecond: number;
  /** TokenReviews made during the run (1: the cache stayed warm). */
  reviews: number;
  errors: number;
}

/** Options of `runBrokerBench`. */
export interface BrokerBenchOptions {
  /** Seconds of each measurement. Default 5. */
  durationSeconds?: number;
  /** Concurrent connections (and bare signatures in flight). Default 8. */
  connections?: number;
  write?: (line: string) => void;
}

async function bareSigning(alg: SigningAlg, seconds: number, concurrency: number): Promise<number> {
  const key = await generateKeyRecord(alg, Date.now(), Date.now());
  const claims = { issuer: 'https://bench.example.com', subject: 'tenantguard:k8s-bench-dev', audience: 'k8s-bench-dev', groups: ['tenant-admins'], ttlSeconds: 60, caller: CALLER };
  await signToken(key, claims, Date.now()); // import the key once, as the broker does
  const end = Date.now() + seconds * 1000;
  let count = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < end) {
      await signToken(key, claims, Date.now());
      count++;
    }
  }));
  return count / seconds;
}

async function brokerOverHttps(alg: SigningAlg, seconds: number, connections: number, cert: { cert: string; key: string }): Promise<{ rps: number; p99: number; jwksRps: number; reviews: number; errors: number }> {
  let reviews = 0;
  const reviewer: TokenReviewer = {
    review: async () => {
      reviews++;
      return { authenticated: true, username: CALLER, groups: [], extra: { 'authentication.kubernetes.io/pod-name': ['argocd-application-controller-0'] }, audiences: ['tenant-guard'] };
    },
  };
  const server = createServer({ cert: cert.cert, key: cert.key });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const broker = await createBroker({
    config: parseBrokerOptions({ signingAlg: alg, reviewCacheTtl: '1h', callerRate: '1000000', callerBurst: '1000000' }),
    issuer: origin,
    allowedCallers: [CALLER],
    registry: staticRegistry(parseTenantsYaml(TENANTS, 'bench tenants', 'argocd')),
    // Audit records are written as in production, to a sink.
    logger: pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false })),
    kubeConfig: null,
    reviewer,
  });
  const app = express();
  app.use(createBrokerRouter(broker));
  server.on('request', app);
  try {
    const url = `${origin}/api/get-target-token?targetName=k8s-bench-dev`;
    const headers = { authorization: 'Bearer bench-caller-token' };
    await runLoad({ label: 'warm-up', url, headers, durationSeconds: 1, connections });
    const r = await runLoad({ label: `broker ${alg}`, url, headers, durationSeconds: seconds, connections });
    const floor = await runLoad({ label: 'jwks', url: `${origin}/openid/v1/jwks`, durationSeconds: seconds, connections });
    return { rps: r.requestsPerSecond, p99: r.p99Ms, jwksRps: floor.requestsPerSecond, reviews, errors: r.errors + r.non2xx + floor.errors + floor.non2xx };
  } finally {
    broker.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** Runs the comparison for RS256 and ES256 and prints a table. */
export async function runBrokerBench(options: BrokerBenchOptions = {}): Promise<BrokerBenchRow[]> {
  const seconds = options.durationSeconds ?? 5;
  const connections = options.connections ?? 8;
  const write = options.write ?? console.log;
  const tls = await generate([{ name: 'commonName', value: '127.0.0.1' }], { keyType: 'ec', algorithm: 'sha256' });
  const rows: BrokerBenchRow[] = [];
  for (const alg of ['RS256', 'ES256'] as const) {
    const bare = await bareSigning(alg, seconds, connections);
    const http = await brokerOverHttps(alg, seconds, connections, { cert: tls.cert, key: tls.private });
    rows.push({ alg, bareTokensPerSecond: bare, brokerTokensPerSecond: http.rps, ratio: http.rps / bare, brokerP99Ms: http.p99, jwksRequestsPerSecond: http.jwksRps, reviews: http.reviews, errors: http.errors });
  }
  write(`\nBroker tokens/s: GET /api/get-target-token over HTTPS, warm TokenReview cache, ${connections} connections, ${seconds}s each (node ${process.version})`);
  write('| alg | bare jose sign/s | broker tokens/s | broker / bare | broker p99 ms | JWKS req/s (HTTP floor) | broker / floor | TokenReviews | errors |');
  write('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const cells = [r.alg, r.bareTokensPerSecond.toFixed(0), r.brokerTokensPerSecond.toFixed(0), r.ratio.toFixed(2), r.brokerP99Ms.toFixed(1), r.jwksRequestsPerSecond.toFixed(0), (r.brokerTokensPerSecond / r.jwksRequestsPerSecond).toFixed(2), String(r.reviews), String(r.errors)];
    write(`| ${cells.join(' | ')} |`);
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runBrokerBench();
}
