/**
 * The broker in its own process, as `serve --components broker` runs it: createWebhookApp
 * without admission, the broker's router mounted, over HTTPS, a TokenReview fake that always
 * authenticates the controller (so the review cache is warm after the first request), audit
 * lines to /dev/null asynchronously. Prints `PORT <n>` once listening, `REVIEWS <n>` on
 * SIGUSR2; stops on SIGTERM.
 *   node --import tsx bench/broker-server.ts RS256|ES256 (the bench runs it bundled, bench/bundle.ts)
 */
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { pinoAuditSink } from '../src/audit/logger.js';
import { createBroker } from '../src/broker/create-broker.js';
import { parseBrokerOptions, type SigningAlg } from '../src/broker/options.js';
import { leanTokenHandler } from '../src/broker/lean-token.js';
import { createBrokerRouter } from '../src/broker/router.js';
import type { TokenReviewer } from '../src/broker/callers/token-review.js';
import { generateCertificates } from '../src/server/certificates.js';
import { createWebhookApp, INTERNAL_ERROR_MESSAGE } from '../src/server/webhook-app.js';
import { resolveSettings } from '../src/settings.js';
import { parseTenantsYaml } from '../src/tenancy/file-source.js';
import { staticRegistry } from '../src/tenancy/registry.js';

/** The Argo CD controller's user name, as bench/sign-floor.ts signs it. */
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

async function main(): Promise<void> {
  const alg = (process.argv[2] ?? 'RS256') as SigningAlg;
  const bundle = await generateCertificates({ names: ['127.0.0.1', 'localhost'] });
  let reviews = 0;
  const reviewer: TokenReviewer = {
    review: async () => {
      reviews++;
      return {
        authenticated: true,
        username: CALLER,
        groups: [],
        extra: { 'authentication.kubernetes.io/pod-name': ['argocd-application-controller-0'] },
        audiences: ['tenant-guard'],
      };
    },
  };
  const server = createServer({ cert: bundle.cert, key: bundle.key });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const logger = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }));
  const registry = staticRegistry(parseTenantsYaml(TENANTS, 'bench tenants', 'argocd'));
  const metricsRegistry = new Registry();
  const broker = await createBroker({
    config: parseBrokerOptions({
      signingAlg: alg,
      reviewCacheTtl: '1h',
      callerRate: '1000000',
      callerBurst: '1000000',
    }),
    issuer: origin,
    allowedCallers: [CALLER],
    registry,
    logger,
    audit: pinoAuditSink(logger),
    metricsRegistry,
    kubeConfig: null,
    reviewer,
  });
  const app = createWebhookApp({
    registry,
    settings: resolveSettings({}),
    logger,
    audit: pinoAuditSink(logger),
    metricsRegistry,
    admission: false,
    mounts: [
      {
        path: '/',
        router: createBrokerRouter(broker),
        lean: leanTokenHandler(broker, { logger, message: INTERNAL_ERROR_MESSAGE }),
      },
    ],
  });
  server.on('request', app);
  process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`);
  process.on('SIGUSR2', () => process.stdout.write(`REVIEWS ${reviews}\n`));
  process.on('SIGTERM', () => {
    broker.close();
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
