/**
 * Starting `tenant-guard serve`: reads its options, opens the Tenant registry, makes or reads
 * the certificates, starts the components, builds the app and listens. The parts:
 * - `serve-options.ts`: the flags and their parsing;
 * - `tenant-registry.ts`: the tenants file or the watch on Tenant objects;
 * - `serve-app.ts`: the express app from injected parts, without listening;
 * - `https-server.ts`: the one place the TLS server is made (swap in a reloading one);
 * - `shutdown.ts`: the drain window and closing;
 * - `component.ts`: the plug-in contract (the broker and the reporter are components).
 */
import type { Server } from 'node:https';
import { relative, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AdmissionPolicy } from '../admission/admit.js';
import type { Clock } from '../clock.js';
import { createLogger, pinoAuditSink } from '../audit/logger.js';
import { ensureCertificates } from './certificates.js';
import type { ServeComponent, ServeComponentContext, ServeContribution } from './component.js';
import { createHttpsServer, listen, serverUrl } from './https-server.js';
import {
  createMetricsRegistry,
  registerCertificateExpiry,
  registerCertificateRefused,
  registerConnectionsClosed,
} from './metrics.js';
import { buildServeApp } from './serve-app.js';
import { collectGarbageNow } from './full-gc.js';
import { LineBatch } from './line-batch.js';
import { boundedStdout, LogDrops, registerLogDrops } from './log-drops.js';
import { ClientCaEpochs } from './client-ca-epochs.js';
import { knownVariables, unknownVariableMessage, unknownVariables } from './environment.js';
import { warmUpAdmission } from '../admission/warm-up.js';
import {
  limitsFromOptions,
  parseServeOptions,
  settingsFromOptions,
  type ServeOptions,
} from './serve-options.js';
import { drainingListener, serverShutdown, type DrainState, type ServerShutdown } from './shutdown.js';
import { openTenantRegistry, type TenantWatchTuning } from './tenant-registry.js';

/** The process around `serve`: the environment, the directory relative paths start from, where the start-up lines go. */
export interface ServeIo {
  readonly stderr: { write(text: string): unknown };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /**
   * Where the log and audit lines go, one write a line, unless a logger is injected. Default:
   * the process's stdout (file descriptor 1), batched (LOG_WRITE_BYTES, LOG_WRITE_MS). A run
   * inside another process (a test of the CLI) gives its own, so that the lines do not land
   * in that process's output.
   */
  readonly logs?: { write(line: string): unknown };
}

/** A running server. */
export interface ServeHandle extends ServerShutdown {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  /** True from the start of `drain`. */
  readonly draining: boolean;
}

/** Optional parts `startServe` would otherwise make (tests inject a logger). */
export interface ServeInjections {
  readonly logger?: Logger;
  readonly policy?: AdmissionPolicy;
  readonly components?: readonly ServeComponent[];
  /** Clock, timers and bounds of the Tenant watch (tests). */
  readonly tenantWatch?: TenantWatchTuning;
  /** The clock the serving certificate's dates are checked against. Default `Date.now`. */
  readonly now?: Clock;
}

/** Log and audit lines are written to stdout once about this many bytes wait... */
export const LOG_WRITE_BYTES = 4096;
/** ...or this many milliseconds after the first of them: the most a line waits on a quiet webhook. */
export const LOG_WRITE_MS = 10;

/**
 * Loads the tenants, makes or reads the certificates, starts the components and listens.
 * @param raw commander's parsed options of `serve` (attribute names), components' flags included
 * @throws TenantGuardError on bad options, tenants file or certificates.
 */
export async function startServe(
  raw: Record<string, unknown>,
  io: ServeIo,
  injected: ServeInjections = {},
): Promise<ServeHandle> {
  const options = parseServeOptions(raw, io.env, injected.components ?? []);
  // Asynchronous stdout: a synchronous write per line costs ~70 us on a pipe (a container's
  // stdout), ~13 us asynchronously (npm run bench). Lines are written LOG_WRITE_BYTES at a
  // time, or LOG_WRITE_MS after the first waits: one write (a thread-pool round trip and a
  // wake-up of the reader) for a review or two cost ~30 us of a review's ~115 at 4
  // connections. They wait in a LineBatch, joined once (sonic-boom's own batching copies
  // its pending lines on every line), which flushes them synchronously on exit: the SIGTERM
  // drain ends there, so no audit line is lost.
  let lines: LineBatch | undefined;
  let logger = injected.logger;
  if (logger === undefined && io.logs !== undefined)
    logger = createLogger({ level: options.logLevel, destination: io.logs });
  let drops: LogDrops | undefined;
  if (logger === undefined) {
    // Bounded: a stalled reader of stdout made the writer's buffer grow until the heap
    // limit (log-drops.ts); past the bound lines are dropped and counted.
    const stdout = boundedStdout();
    lines = new LineBatch(stdout, { minChars: LOG_WRITE_BYTES, maxDelayMs: LOG_WRITE_MS });
    const lineLogger = createLogger({ level: options.logLevel, destination: lines });
    drops = new LogDrops((dropped) =>
      lineLogger.warn(
        { code: 'ERR_LOG_DROPPED', dropped },
        'log and audit lines dropped: stdout did not take them (see tenant_guard_log_lines_dropped_total)',
      ),
    );
    drops.watch(stdout);
    logger = lineLogger;
  }
  try {
    return await serveWith(options, raw, io, injected, logger, lines, drops);
  } catch (err) {
    // Nothing will close what never started: the lines go straight out from now on.
    lines?.stop();
    throw err;
  }
}

async function serveWith(
  options: ServeOptions,
  raw: Record<string, unknown>,
  io: ServeIo,
  injected: ServeInjections,
  logger: Logger,
  lines: LineBatch | undefined,
  drops: LogDrops | undefined,
): Promise<ServeHandle> {
  const now = injected.now ?? Date.now;
  const settings = settingsFromOptions(raw, io.env);
  const limits = limitsFromOptions(raw, io.env);
  for (const unknown of unknownVariables(io.env, knownVariables(injected.components ?? [])))
    logger.warn({ code: 'ERR_USAGE', variable: unknown.name }, unknownVariableMessage(unknown));
  logger.info({ settings, limits }, 'settings in effect (flags, then TG_* variables, then defaults)');
  const tenantsPath = resolve(io.cwd, options.tenants);
  const metricsRegistry = createMetricsRegistry(options.metricsMaxTenants);
  registerLogDrops(metricsRegistry, () => drops?.total ?? 0);
  const tenants = await openTenantRegistry({
    watch: options.watchTenants,
    tenantsPath,
    kubeconfig: options.kubeconfig === undefined ? undefined : resolve(io.cwd, options.kubeconfig),
    env: io.env,
    logger,
    settings,
    metricsRegistry,
    writeStatus: options.components.has('webhook'),
    maxRegistryChars: options.maxRegistryChars,
    ...(injected.tenantWatch === undefined ? {} : { tuning: injected.tenantWatch }),
  });
  const { registry } = tenants;
  const certs =
    options.tlsCert !== undefined && options.tlsKey !== undefined
      ? {
          certFile: resolve(io.cwd, options.tlsCert),
          keyFile: resolve(io.cwd, options.tlsKey),
          caFile: undefined,
          generated: false,
        }
      : await ensureCertificates(resolve(io.cwd, options.certsDir), undefined, now);
  const clientCaFile = options.clientCaFile === undefined ? undefined : resolve(io.cwd, options.clientCaFile);
  // Which client CA bundle each connection was verified against: the TLS server stamps
  // them, the admission client check reads them.
  const clientCa =
    clientCaFile === undefined ? undefined : { file: clientCaFile, epochs: new ClientCaEpochs() };
  const audit = pinoAuditSink(logger);
  const context: ServeComponentContext = {
    options: raw,
    env: io.env,
    settings,
    logger,
    audit,
    metricsRegistry,
    registry,
  };
  const state: DrainState = { draining: false };
  const contributions: ServeContribution[] = [
    {
      readiness: [{ name: 'not-draining', ready: () => !state.draining }],
      // Closed: lines from now on go straight to stdout's writer, which pino flushes on exit.
      close: () => lines?.stop(),
    },
  ];
  contributions.push(tenants.start());
  const wanted = (injected.components ?? []).filter((c) => options.components.has(c.name));
  for (const component of wanted) contributions.push(await component.start(context));
  // Before any traffic: the first requests of a kind would run unoptimised code (issue 10).
  if (options.components.has('webhook') && injected.policy === undefined) {
    const started = process.hrtime.bigint();
    const warmed = warmUpAdmission({ settings, limits });
    // Its garbage spread over the old generation; compacted now, the pages go back to the system.
    collectGarbageNow();
    const ms = Math.round(Number(process.hrtime.bigint() - started) / 1e6);
    logger.info({ requests: warmed.requests, ms }, 'admission path warmed up');
  }
  const app = buildServeApp({
    settings,
    registry,
    logger,
    audit,
    metricsRegistry,
    contributions,
    admission: options.components.has('webhook'),
    limits,
    ...(injected.policy === undefined ? {} : { policy: injected.policy }),
    ...(clientCa === undefined
      ? {}
      : { admissionClients: { names: options.clientNames, epochs: clientCa.epochs } }),
  });
  const https = createHttpsServer(
    drainingListener(app, state),
    certs.certFile,
    certs.keyFile,
    logger,
    clientCa,
    now,
  );
  registerCertificateExpiry(metricsRegistry, () => https.current().validTo, now);
  registerCertificateRefused(metricsRegistry, () => https.refused());
  registerConnectionsClosed(metricsRegistry, () => https.connectionCounts());
  const server = https.server;
  const port = await listen(server, options.port, options.host);
  const url = serverUrl(options.host, port);
  const show = (path: string) => relative(io.cwd, path) || path;
  io.stderr.write(
    [
      `tenant-guard serving ${[...options.components].join(' and ')} on ${url} (${tenants.describe(show)})`,
      `  certificate: ${show(certs.certFile)}${certs.generated ? ' (generated)' : ''}${certs.caFile === undefined ? '' : `, CA: ${show(certs.caFile)}`}`,
      '  try:',
      `    curl --cacert ${certs.caFile === undefined ? '<your CA file>' : show(certs.caFile)} ${url}/healthz`,
      `    npx tenant-guard check -f webhook-config/examples/applicationset-allowed.yaml --user alice --groups team-a-admins --tenants ${show(tenantsPath)}`,
      '',
    ].join('\n'),
  );
  logger.info({ url, components: [...options.components] }, 'listening');
  const shutdown = serverShutdown({ https, contributions, logger, drainMs: options.drainMs, state });
  return {
    server,
    url,
    port,
    close: shutdown.close,
    drain: shutdown.drain,
    get draining() {
      return state.draining;
    },
  };
}
