/**
 * `tenant-guard serve`: the webhook (and what other components mount) over HTTPS.
 *
 * Extension points:
 * - a `ServeComponent` (src/server/component.ts) declares its flags for `serve` and, once started, contributes routers,
 *   readiness checks and a close hook (the broker mounts its endpoints this way): pass it in
 *   the `components` of `register` in main.ts;
 * - `createHttpsServer` is the one place the TLS server is made (swap in a reloading one);
 * - `buildServeApp` builds the express app from injected parts, without listening.
 */
import type { RequestListener } from 'node:http';
import type { Server } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Express } from 'express';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AdmissionPolicy } from '../admission/admit.js';
import { warmUpAdmission } from '../admission/warm-up.js';
import type { AdmissionLimits } from '../policy/limits.js';
import { createLogger, pinoAuditSink } from '../audit/logger.js';
import type { AuditSink } from '../audit/record.js';
import { TenantGuardError } from '../errors.js';
import { ensureCertificates } from '../server/certificates.js';
import type {
  ComponentFlag,
  ServeComponent,
  ServeComponentContext,
  ServeContribution,
} from '../server/component.js';
import { createMetricsRegistry, registerCertificateExpiry } from '../server/metrics.js';
import { createReloadingHttpsServer, type ReloadingHttpsServer } from '../server/tls.js';
import { createWebhookApp } from '../server/webhook-app.js';
import type { Settings } from '../settings.js';
import { FileRegistry } from '../tenancy/file-registry.js';
import type { RegistryProvider } from '../tenancy/registry.js';
import { registerRegistryMetrics } from '../tenancy/tenant-metrics.js';
import type { WatchedRegistryOptions } from '../tenancy/watch-source.js';
import {
  addSettingOptions,
  DEFAULT_TENANTS_FILE,
  envOption,
  limitsFromOptions,
  settingsFromOptions,
  valueOf,
  type CliContext,
  type CliIo,
} from './io.js';
import { parseBooleanText } from '../flag-value.js';

export interface ServeAppOptions {
  readonly settings: Settings;
  readonly registry: RegistryProvider;
  readonly logger: Logger;
  /** Default: audit lines through `logger`. */
  readonly audit?: AuditSink;
  /** Default: a new Registry with prom-client's default process metrics. */
  readonly metricsRegistry?: Registry;
  readonly policy?: AdmissionPolicy;
  readonly contributions?: readonly ServeContribution[];
  /** Serve /mutate and /validate. Default true (`--components` without `webhook`: false). */
  readonly admission?: boolean;
  /** How much of a request the webhook reads. Default `DEFAULT_LIMITS`. */
  readonly limits?: AdmissionLimits;
}

/** The express app of `serve`: the webhook plus every contribution's routers and checks. */
export function buildServeApp(options: ServeAppOptions): Express {
  const contributions = options.contributions ?? [];
  return createWebhookApp({
    settings: options.settings,
    registry: options.registry,
    logger: options.logger,
    audit: options.audit ?? pinoAuditSink(options.logger),
    metricsRegistry: options.metricsRegistry ?? defaultMetricsRegistry(),
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    mounts: contributions.flatMap((c) => c.mounts ?? []),
    readiness: contributions.flatMap((c) => c.readiness ?? []),
    admission: options.admission ?? true,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
}

function defaultMetricsRegistry(): Registry {
  return createMetricsRegistry();
}

/** The registry gauges for a file registry: synced since it was last read (re-read on change), every Tenant accepted. */
function registerFileRegistryMetrics(metricsRegistry: Registry, registry: FileRegistry): void {
  registerRegistryMetrics(metricsRegistry, () => ({
    synced: true,
    stale: false,
    fresh: true,
    lastSyncTime: registry.lastLoaded(),
    accepted: registry.current().size,
    rejected: 0,
    invalid: 0,
    consecutiveFailures: 0,
  }));
}

/**
 * The HTTPS server of `serve` (TLS 1.2+): it takes a new certificate when the files change
 * (cert-manager or a Secret update rotating them) without dropping a connection.
 */
export function createHttpsServer(
  app: Express | RequestListener,
  certFile: string,
  keyFile: string,
  logger: Logger,
): ReloadingHttpsServer {
  const reloading = createReloadingHttpsServer(app, { certFile, keyFile }, logger);
  // The API server gives a webhook at most 30 s; nothing here should take longer.
  reloading.server.requestTimeout = 30_000;
  reloading.server.headersTimeout = 10_000;
  return reloading;
}

function parseComponents(
  text: string | undefined,
  known: readonly string[],
  defaults: readonly string[] = known,
): Set<string> {
  if (text === undefined) return new Set(defaults);
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = names.filter((n) => !known.includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new TenantGuardError(
      'ERR_USAGE',
      `--components "${text}": use a comma-separated list of ${known.join(', ')}`,
    );
  }
  return new Set(names);
}

/**
 * The Kubernetes API for the Tenant watch: --kubeconfig, else in-cluster. @kubernetes/client-node
 * (~77 MB resident) is imported only here and by the components that call the API, so a
 * webhook serving a file registry never loads it.
 */
async function tenantWatchKubeConfig(
  kubeconfig: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<KubeConfig> {
  const { loadKubeConfig } = await import('../kube/kube-config.js');
  const kc = loadKubeConfig(kubeconfig, env);
  if (kc === undefined)
    throw new TenantGuardError(
      'ERR_USAGE',
      '--watch-tenants needs a Kubernetes API: run in a cluster or give --kubeconfig',
    );
  return kc;
}

/** Parsed options of `serve`. */
export interface ServeOptions {
  tenants: string;
  host: string;
  port: number;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  certsDir: string;
  logLevel: string;
  components: Set<string>;
  watchTenants: boolean;
  kubeconfig: string | undefined;
  /** How long a SIGTERM'd process keeps serving with /readyz 503, in ms (--drain-seconds). */
  drainMs: number;
}

/** Default of --drain-seconds: longer than Endpoints take to reach kube-proxy and the API server. */
export const DEFAULT_DRAIN_SECONDS = 10;
/** After the drain window, how long requests in flight may take before their connections are cut. */
export const CLOSE_GRACE_MS = 10_000;

/** A running server. */
export interface ServeHandle {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish (at most `graceMs`, default 10 s), closes components. */
  close(graceMs?: number): Promise<void>;
  /**
   * The SIGTERM path: /readyz answers 503 at once and every response says `Connection: close`
   * (keep-alive clients move to another replica), while requests and new connections are
   * still served for `drainMs` (default --drain-seconds) so that nobody who has not yet seen
   * the Endpoints change is refused; then `close(graceMs)`. `cut` ends the window early (a
   * second signal).
   */
  drain(options?: {
    drainMs?: number;
    graceMs?: number;
    cut?: Promise<unknown>;
    onDrained?: () => void;
  }): Promise<void>;
  /** True from the start of `drain`. */
  readonly draining: boolean;
}

function parseServeOptions(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  components: readonly ServeComponent[],
): ServeOptions {
  const componentNames = components.map((c) => c.name);
  const defaultNames = components.filter((c) => c.optIn !== true).map((c) => c.name);
  const portText = valueOf(raw.port, env, 'TG_PORT', '8443');
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new TenantGuardError('ERR_USAGE', `--port "${portText}" is not a port number (0..65535)`);
  const tlsCert = valueOf(raw.tlsCert, env, 'TG_TLS_CERT');
  const tlsKey = valueOf(raw.tlsKey, env, 'TG_TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new TenantGuardError('ERR_USAGE', '--tls-cert and --tls-key go together');
  return {
    tenants: valueOf(raw.tenants, env, 'TG_TENANTS', DEFAULT_TENANTS_FILE),
    host: valueOf(raw.host, env, 'TG_HOST', '127.0.0.1'),
    port,
    tlsCert,
    tlsKey,
    certsDir: valueOf(raw.certsDir, env, 'TG_CERTS_DIR', 'certs'),
    logLevel: valueOf(raw.logLevel, env, 'TG_LOG_LEVEL', 'info'),
    components: parseComponents(
      valueOf(raw.components, env, 'TG_COMPONENTS'),
      ['webhook', ...componentNames],
      ['webhook', ...defaultNames],
    ),
    watchTenants: raw.watchTenants === true || parseWatchTenants(env.TG_WATCH_TENANTS ?? ''),
    kubeconfig: valueOf(raw.kubeconfig, env, 'TG_KUBECONFIG'),
    drainMs: parseDrainSeconds(
      valueOf(raw.drainSeconds, env, 'TG_DRAIN_SECONDS', String(DEFAULT_DRAIN_SECONDS)),
    ),
  };
}

function parseWatchTenants(text: string): boolean {
  const value = parseBooleanText(text);
  if (value === undefined)
    throw new TenantGuardError('ERR_USAGE', `TG_WATCH_TENANTS "${text}" is not a boolean; use true or false`);
  return value;
}

function parseDrainSeconds(text: string): number {
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds < 0 || seconds > 600) {
    throw new TenantGuardError('ERR_USAGE', `--drain-seconds "${text}" is not a number of seconds (0..600)`);
  }
  return Math.round(seconds * 1000);
}

/** Optional parts `startServe` would otherwise make (tests inject a logger). */
export interface ServeInjections {
  readonly logger?: Logger;
  readonly policy?: AdmissionPolicy;
  readonly components?: readonly ServeComponent[];
  /** Clock, timers and bounds of the Tenant watch (tests). */
  readonly tenantWatch?: Pick<
    WatchedRegistryOptions,
    'now' | 'timers' | 'silenceMs' | 'maxStalenessMs' | 'backoffInitialMs' | 'backoffMaxMs' | 'debounceMs'
  >;
}

/**
 * Loads the tenants, makes or reads the certificates, starts the components and listens.
 * @throws TenantGuardError on bad options, tenants file or certificates.
 */
export async function startServe(
  raw: Record<string, unknown>,
  io: CliIo,
  injected: ServeInjections = {},
): Promise<ServeHandle> {
  const options = parseServeOptions(raw, io.env, injected.components ?? []);
  const settings = settingsFromOptions(raw, io.env);
  const limits = limitsFromOptions(raw, io.env);
  // Asynchronous stdout: a synchronous write per line costs ~70 us on a pipe (a container's
  // stdout), ~13 us asynchronously (npm run bench). pino flushes it synchronously on exit,
  // which the SIGTERM drain reaches, so no audit line is lost.
  const logger =
    injected.logger ??
    createLogger({ level: options.logLevel, destination: pino.destination({ dest: 1, sync: false }) });
  const tenantsPath = resolve(io.cwd, options.tenants);
  const metricsRegistry = defaultMetricsRegistry();
  const watched = options.watchTenants
    ? new (await import('../tenancy/watch-source.js')).WatchedRegistry({
        kubeConfig: await tenantWatchKubeConfig(
          options.kubeconfig === undefined ? undefined : resolve(io.cwd, options.kubeconfig),
          io.env,
        ),
        logger,
        argocdNamespace: settings.argocdNamespace,
        metrics: metricsRegistry,
        // Only the webhook writes Tenant status; the broker's RBAC has no right to.
        writeStatus: options.components.has('webhook'),
        ...injected.tenantWatch,
      })
    : undefined;
  // The file is re-read when it changes and on SIGHUP; a bad file keeps the last good registry.
  const fromFile =
    watched === undefined
      ? FileRegistry.load({ path: tenantsPath, argocdNamespace: settings.argocdNamespace, logger })
      : undefined;
  const registry: RegistryProvider = watched ?? fromFile ?? unreachable();
  if (fromFile !== undefined) registerFileRegistryMetrics(metricsRegistry, fromFile);
  const certs =
    options.tlsCert !== undefined && options.tlsKey !== undefined
      ? {
          certFile: resolve(io.cwd, options.tlsCert),
          keyFile: resolve(io.cwd, options.tlsKey),
          caFile: undefined,
          generated: false,
        }
      : await ensureCertificates(resolve(io.cwd, options.certsDir));
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
  let draining = false;
  const contributions: ServeContribution[] = [
    { readiness: [{ name: 'not-draining', ready: () => !draining }] },
  ];
  if (watched !== undefined) {
    watched.start();
    // Not ready while the API server has not confirmed the registry within its bound.
    contributions.push({
      readiness: [{ name: 'tenant-registry-fresh', ready: () => watched.isFresh() }],
      close: () => watched.stop(),
    });
  }
  if (fromFile !== undefined) {
    fromFile.start();
    contributions.push({ close: () => fromFile.close() });
  }
  const wanted = (injected.components ?? []).filter((c) => options.components.has(c.name));
  for (const component of wanted) contributions.push(await component.start(context));
  // Before any traffic: the first requests of a kind would run unoptimised code (issue 10).
  if (options.components.has('webhook') && injected.policy === undefined) {
    const started = process.hrtime.bigint();
    const warmed = warmUpAdmission({ settings, limits });
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
  });
  const served: RequestListener = (req, res) => {
    // While draining, no connection is kept for another request: the client's next one
    // opens a new connection, which the Service routes to a replica that is still ready.
    if (draining) res.setHeader('connection', 'close');
    app(req, res);
  };
  const https = createHttpsServer(served, certs.certFile, certs.keyFile, logger);
  registerCertificateExpiry(metricsRegistry, () => https.current().validTo);
  const server = https.server;
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port, options.host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const shownHost =
    options.host === '0.0.0.0' || options.host === '::'
      ? '127.0.0.1'
      : options.host.includes(':')
        ? `[${options.host}]`
        : options.host;
  const url = `https://${shownHost}:${port}`;
  const show = (path: string) => relative(io.cwd, path) || path;
  io.stderr.write(
    [
      `tenant-guard serving ${[...options.components].join(' and ')} on ${url} (${watched === undefined ? `${registry.current()?.size ?? 0} tenants from ${show(tenantsPath)}` : 'tenants from a watch on Tenant objects'})`,
      `  certificate: ${show(certs.certFile)}${certs.generated ? ' (generated)' : ''}${certs.caFile === undefined ? '' : `, CA: ${show(certs.caFile)}`}`,
      '  try:',
      `    curl --cacert ${certs.caFile === undefined ? '<your CA file>' : show(certs.caFile)} ${url}/healthz`,
      `    npx tenant-guard check -f webhook-config/examples/applicationset-allowed.yaml --user alice --groups team-a-admins --tenants ${show(tenantsPath)}`,
      '',
    ].join('\n'),
  );
  logger.info({ url, components: [...options.components] }, 'listening');
  let closing: Promise<void> | undefined;
  const close = (graceMs?: number): Promise<void> =>
    (closing ??= closeServer(https, contributions, logger, graceMs));
  return {
    server,
    url,
    port,
    close,
    get draining() {
      return draining;
    },
    drain: async ({ drainMs = options.drainMs, graceMs, cut, onDrained } = {}) => {
      draining = true;
      logger.info({ drainMs }, 'draining: /readyz answers 503, still serving');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((ok) => {
          timer = setTimeout(ok, drainMs);
        }),
        ...(cut === undefined ? [] : [cut]),
      ]);
      clearTimeout(timer);
      logger.info('drain window over: closing');
      onDrained?.();
      await close(graceMs);
    },
  };
}

async function closeServer(
  https: { server: Server; close(): Promise<void> },
  contributions: readonly ServeContribution[],
  logger: Logger,
  graceMs = 10_000,
): Promise<void> {
  const { server } = https;
  // Stops the certificate watch and stops accepting; resolves once open connections ended.
  const closed = https.close();
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
  for (const c of contributions) {
    try {
      await c.close?.();
    } catch (err) {
      logger.error({ err }, 'component failed to close');
    }
  }
}

function unreachable(): never {
  throw new TenantGuardError('ERR_USAGE', 'no Tenant registry: neither --watch-tenants nor --tenants');
}

/** Resolves on the first SIGTERM or SIGINT. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((ok) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      ok(signal);
    };
    process.once('SIGTERM', on);
    process.once('SIGINT', on);
  });
}

/** Adds each component flag not already on `command` (another component may define `--kubeconfig`). */
export function addComponentFlags(command: Command, flags: readonly ComponentFlag[]): void {
  for (const f of flags) {
    if (command.options.some((o) => o.long === `--${f.flag}`)) continue;
    const spec = f.boolean === true ? `--${f.flag}` : `--${f.flag} <${f.valueName ?? 'value'}>`;
    command.addOption(envOption(spec, f.description, f.env, f.default));
  }
}

/** Registers `serve` with the given components' flags and contributions. */
export function register(
  program: Command,
  context: CliContext,
  components: readonly ServeComponent[] = [],
): void {
  // The parts `serve` can run; the cluster install runs each in its own Deployment.
  const componentNames = ['webhook', ...components.map((c) => c.name)];
  const defaultNames = ['webhook', ...components.filter((c) => c.optIn !== true).map((c) => c.name)];
  const command = program
    .command('serve')
    .description('serve the admission webhook (and mounted components) over HTTPS')
    .addOption(
      envOption(
        '--tenants <file>',
        'Tenant registry file (multi-document YAML)',
        'TG_TENANTS',
        DEFAULT_TENANTS_FILE,
      ),
    )
    .addOption(envOption('--host <host>', 'address to listen on', 'TG_HOST', '127.0.0.1'))
    .addOption(envOption('--port <n>', 'port to listen on (0: any free port)', 'TG_PORT', '8443'))
    .addOption(
      envOption('--tls-cert <file>', 'serving certificate chain (PEM); with --tls-key', 'TG_TLS_CERT'),
    )
    .addOption(envOption('--tls-key <file>', 'serving private key (PEM)', 'TG_TLS_KEY'))
    .addOption(
      envOption(
        '--certs-dir <dir>',
        'where certificates are generated when --tls-cert is not given',
        'TG_CERTS_DIR',
        'certs',
      ),
    )
    .addOption(envOption('--log-level <level>', 'pino log level', 'TG_LOG_LEVEL', 'info'))
    .addOption(
      envOption(
        '--components <list>',
        `what to serve, comma-separated, of: ${componentNames.join(', ')}`,
        'TG_COMPONENTS',
        defaultNames.join(','),
      ),
    )
    .addOption(
      envOption(
        '--watch-tenants',
        'fill the registry from Tenant objects (a watch) instead of --tenants',
        'TG_WATCH_TENANTS',
        'false',
      ),
    )
    .addOption(
      envOption(
        '--kubeconfig <file>',
        'kubeconfig of the control plane (default: in-cluster)',
        'TG_KUBECONFIG',
      ),
    )
    .addOption(
      envOption(
        '--drain-seconds <s>',
        'on SIGTERM, keep serving this long with /readyz 503 before closing',
        'TG_DRAIN_SECONDS',
        String(DEFAULT_DRAIN_SECONDS),
      ),
    );
  addSettingOptions(command);
  for (const component of components) addComponentFlags(command, component.flags ?? []);
  command.action(async (raw: Record<string, unknown>) => {
    const handle = await startServe(raw, context.io, { components });
    const signal = await untilSignal();
    const started = performance.now();
    context.io.stderr.write(
      `tenant-guard: ${signal}, draining: /readyz answers 503, serving on for the drain window (--drain-seconds)\n`,
    );
    // A second signal ends the drain window at once.
    await handle.drain({
      cut: untilSignal(),
      onDrained: () =>
        context.io.stderr.write('tenant-guard: drain window over, closing: requests in flight finish\n'),
    });
    context.io.stderr.write(
      `tenant-guard: stopped ${Math.round(performance.now() - started)} ms after ${signal}\n`,
    );
  });
}
