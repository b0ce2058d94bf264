/**
 * The broker as a component of `tenant-guard serve` (src/server/component.ts): its flags, and on
 * start its routes and close hook. Register it in main.ts's serve components when
 * `--components` includes `broker`.
 */
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

/**
 * The issuer: `--issuer` / TG_ISSUER when given, else the URL `serve` listens on (so the
 * discovery document's `jwks_uri` points where the JWKS is served, whatever `--port` says).
 */
export function brokerIssuer(context: Pick<ServeComponentContext, 'options' | 'env' | 'settings'>): string {
  const { issuer, host, port } = listenFlags(context);
  if (issuer !== undefined) return context.settings.issuerUrl;
  return defaultIssuer(host, Number(port)) ?? context.settings.issuerUrl;
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
    const broker = await createBroker({
      config: parseBrokerOptions(flags, context.env),
      issuer: brokerIssuer(context),
      allowedCallers: context.settings.brokerAllowedCallers,
      registry: context.registry,
      logger: context.logger,
      audit: context.audit,
      metricsRegistry: context.metricsRegistry,
      env: context.env,
    });
    const { issuer, port } = listenFlags(context);
    if (issuer === undefined && Number(port) === 0) {
      context.logger.warn(
        { issuer: broker.issuer },
        'no --issuer given and the port is chosen when listening: the discovery issuer is the default; give --issuer',
      );
    }
    const lean = leanTokenHandler(broker, { logger: context.logger, message: INTERNAL_ERROR_MESSAGE });
    return {
      mounts: [{ path: '/', router: createBrokerRouter(broker), lean }],
      readiness: [keyRingReadiness(broker)],
      close: () => broker.close(),
    };
  },
};
