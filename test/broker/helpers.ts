/**
 * Shared pieces of the broker tests: a tenant registry with targets, broker options with
 * short timings, and a pino logger that records its lines.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino, type Logger } from 'pino';
import { parseBrokerOptions, type BrokerConfig } from '../../src/broker/options.js';
import { staticRegistry, type RegistryProvider } from '../../src/tenancy/registry.js';
import type { Broker } from '../../src/broker/broker.js';
import type { Every } from '../../src/every.js';
import { createBroker } from '../../src/broker/create-broker.js';
import type { ReviewOutcome } from '../../src/broker/callers/token-review.js';
import { createBrokerRouter } from '../../src/broker/router.js';
import { loadTenants } from '../support/policy-fixtures.js';
import type { TestTls } from '../support/test-tls.js';

export const CONTROLLER = 'system:serviceaccount:argocd:argocd-application-controller';

/** The broker tests' tenants (test/fixtures/tenants/broker.yaml), as a static provider. */
export function testRegistry(): RegistryProvider {
  return staticRegistry(loadTenants('broker'));
}

/** Broker options for tests (flags as given on a command line, with quick timings). */
export function testConfig(flags: Record<string, string | boolean> = {}): BrokerConfig {
  return parseBrokerOptions({
    reviewTimeout: '500ms',
    jwksMaxAge: '1s',
    reloadInterval: '200ms',
    publishAhead: '2s',
    rotationPeriod: '1h',
    ...flags,
  });
}

/** A pino logger at debug level whose JSON lines land in `lines` (and raw text in `text()`). */
export function recordingLogger(): {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  text: () => string;
} {
  const raw: string[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(line: string) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  return { logger, lines, text: () => raw.join('') };
}

/** The audit records among logged lines. */
export function auditRecords(lines: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return lines.filter((l) => l.audit === true);
}

/** An express app with the broker's router (what serve mounts). */
export function brokerApp(broker: Broker): express.Express {
  const app = express();
  app.use(createBrokerRouter(broker));
  return app;
}

/**
 * An HTTPS server on 127.0.0.1:0 whose handler is set once the port (and so the issuer) is
 * known: `setApp(app)`.
 */
export async function startHttps(tls: TestTls): Promise<{
  server: HttpsServer;
  port: number;
  origin: string;
  setApp(app: express.Express): void;
  close(): Promise<void>;
}> {
  let handler: express.Express | undefined;
  const server = createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    if (handler === undefined) {
      res.statusCode = 503;
      res.end();
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    origin: `https://127.0.0.1:${port}`,
    setApp: (app) => {
      handler = app;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A broker over the test registry with no Kubernetes API: its TokenReviews are answered by
 * `review` (given the caller token), on the clock `now`, with broker `flags` as in `testConfig`.
 */
export function brokerReviewing(options: {
  review: (token: string) => ReviewOutcome | Promise<ReviewOutcome>;
  now?: () => number;
  logger?: Logger;
  flags?: Record<string, string | boolean>;
  issuer?: string;
  every?: Every;
}): Promise<Broker> {
  const { review } = options;
  return createBroker({
    config: testConfig(options.flags),
    issuer: options.issuer ?? 'https://broker.example.com',
    allowedCallers: [CONTROLLER],
    registry: testRegistry(),
    logger: options.logger ?? recordingLogger().logger,
    kubeConfig: null,
    now: options.now ?? (() => 1_000_000),
    reviewer: { review: async (token) => review(token) },
    ...(options.every === undefined ? {} : { every: options.every }),
  });
}
