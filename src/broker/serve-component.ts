/**
 * The broker as a component of `tenant-guard serve` (src/server/component.ts): its flags, and on
 * start its routes and close hook. Register it in main.ts's serve components when
 * `--components` includes `broker`.
 */
import { TenantGuardError } from '../errors.js';
import { givenFlags, resolveFlags } from '../flag-value.js';
import {
  componentFlag,
  type ComponentFlag,
  type ServeComponent,
  type ServeComponentContext,
  type ServeContribution,
} from '../server/component.js';
import { SERVE_FLAG_RULES, SERVE_FLAGS } from '../server/serve-options.js';
import { settingFlags } from '../settings.js';
import type { ReadinessCheck } from '../server/health.js';
import type { Broker } from './broker.js';
import { defaultIssuer } from './discovery.js';
import { brokerFlags, parseBrokerOptions } from './options.js';
import { INTERNAL_ERROR_MESSAGE } from '../server/webhook-app.js';
import { leanTokenHandler } from './lean-token.js';
import { createBrokerRouter } from './router.js';

/** The broker's flags as `serve` adds them (`--kubeconfig` is shared with the Tenant watch). */
const brokerComponentFlags: readonly ComponentFlag[] = brokerFlags.map(componentFlag);

/** What the broker reads of `serve`'s own flags and settings: where it listens, and the issuer. */
const LISTEN_FLAGS = {
  issuer: { flag: settingFlags.issuerUrl.flag, env: settingFlags.issuerUrl.env, kind: 'string' },
  host: SERVE_FLAGS.host,
  port: SERVE_FLAGS.port,
} as const;

function listenFlags(context: Pick<ServeComponentContext, 'options' | 'env'>) {
  return resolveFlags(LISTEN_FLAGS, givenFlags(LISTEN_FLAGS, context.options), context.env, SERVE_FLAG_RULES);
}

/** Addresses only this host reaches. */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Why other hosts can reach this broker, or undefined for a local run: it listens on an
 * address that is not loopback, or it runs in a Kubernetes cluster (KUBERNETES_SERVICE_HOST,
 * which the kubelet sets in every container: a Service or a sidecar may forward to loopback).
 */
export function reachableFromOtherHosts(host: string, env: NodeJS.ProcessEnv): string | undefined {
  if (env.KUBERNETES_SERVICE_HOST !== undefined && env.KUBERNETES_SERVICE_HOST !== '')
    return 'it runs in a Kubernetes cluster (KUBERNETES_SERVICE_HOST is set)';
  if (!isLoopback(host))
    return `it listens on ${host === '' ? 'every address' : host}, which other hosts reach`;
  return undefined;
}

/**
 * The issuer: `--issuer` / TG_ISSUER when given, else, for a local run, the URL `serve`
 * listens on (so the discovery document's `jwks_uri` points where the JWKS is served,
 * whatever `--port` says).
 * @throws TenantGuardError ERR_SETTINGS_INVALID when no issuer is given and other hosts reach
 *   the broker: it would sign as https://127.0.0.1:PORT, an issuer no remote API server can
 *   fetch discovery from, so every token it issued would be refused there (401), far from the
 *   cause. `npm start` (127.0.0.1, outside a cluster) keeps its default.
 */
export function brokerIssuer(context: Pick<ServeComponentContext, 'options' | 'env' | 'settings'>): string {
  const { issuer, host, port } = listenFlags(context);
  if (issuer !== undefined) return context.settings.issuerUrl;
  const reachable = reachableFromOtherHosts(host, context.env);
  if (reachable !== undefined)
    throw new TenantGuardError(
      'ERR_SETTINGS_INVALID',
      `the broker needs --issuer (${settingFlags.issuerUrl.env}) because ${reachable}: without it, it would sign as https://127.0.0.1:${port}, which no remote API server can fetch discovery from, and they would refuse every token. Set it to the issuer URL the remote API servers are configured with, byte for byte (docs/install.md, section 2)`,
    );
  return defaultIssuer(host, Number(port)) ?? context.settings.issuerUrl;
}

/**
 * A warning for an issuer given that other hosts cannot use (this host, or the shipped
 * placeholder under example.com) on a broker they reach; undefined otherwise.
 */
export function issuerWarning(issuer: string, host: string, env: NodeJS.ProcessEnv): string | undefined {
  if (reachableFromOtherHosts(host, env) === undefined) return undefined;
  let hostname: string;
  try {
    hostname = new URL(issuer).hostname;
  } catch {
    return undefined; // checkIssuer refuses it
  }
  const placeholder = /(^|\.)example\.(com|org|net)$/.test(hostname);
  if (!placeholder && !isLoopback(hostname)) return undefined;
  return `--issuer ${issuer} is ${placeholder ? "the install's placeholder" : 'this host'}: remote API servers cannot fetch its discovery document, so they will refuse every token (401). Set ${settingFlags.issuerUrl.env} to the URL they are configured with (docs/install.md, section 2)`;
}

/**
 * `/readyz` check `key-ring`: ready only while the broker can sign (its ring was read within
 * the staleness bound and holds the active key); a replica that cannot leaves the Service.
 */
export function keyRingReadiness(broker: Broker): ReadinessCheck {
  return {
    name: 'key-ring',
    ready: () => broker.keyManager.readiness().ready,
    reason: () => {
      const r = broker.keyManager.readiness();
      return r.ready ? undefined : r.reason;
    },
  };
}

/** The token broker: discovery, JWKS and the token endpoints, mounted at `/`. */
export const brokerComponent: ServeComponent = {
  name: 'broker',
  flags: brokerComponentFlags,
  async start(context): Promise<ServeContribution> {
    const flags: Record<string, string | boolean | undefined> = {};
    for (const [k, v] of Object.entries(context.options))
      if (typeof v === 'string' || typeof v === 'boolean') flags[k] = v;
    // Imported on start: it loads @kubernetes/client-node, which a webhook-only process never needs.
    const { createBroker } = await import('./create-broker.js');
    const config = parseBrokerOptions(flags, context.env);
    if (config.callerAudience === '')
      context.logger.warn(
        { code: 'ERR_SETTINGS_INVALID' },
        '--caller-audience is - : caller tokens of any audience are accepted, default API-server tokens included (weaker; SPEC section 7)',
      );
    const broker = await createBroker({
      config,
      issuer: brokerIssuer(context),
      allowedCallers: context.settings.brokerAllowedCallers,
      registry: context.registry,
      logger: context.logger,
      audit: context.audit,
      metricsRegistry: context.metricsRegistry,
      env: context.env,
    });
    const { issuer, host, port } = listenFlags(context);
    if (issuer === undefined && Number(port) === 0) {
      context.logger.warn(
        { issuer: broker.issuer },
        'no --issuer given and the port is chosen when listening: the discovery issuer is the default; give --issuer',
      );
    }
    const warning = issuerWarning(broker.issuer, host, context.env);
    if (warning !== undefined)
      context.logger.warn({ code: 'ERR_SETTINGS_INVALID', issuer: broker.issuer }, warning);
    context.logger.info(
      { issuer: broker.issuer },
      `broker issuer ${broker.issuer}: remote API servers must be configured with exactly this URL`,
    );
    const lean = leanTokenHandler(broker, { logger: context.logger, message: INTERNAL_ERROR_MESSAGE });
    return {
      mounts: [{ path: '/', router: createBrokerRouter(broker), lean }],
      readiness: [keyRingReadiness(broker)],
      close: () => broker.close(),
    };
  },
};
