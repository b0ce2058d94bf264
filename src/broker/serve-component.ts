/**
 * The broker as a component of `tenant-guard serve` (src/server/component.ts): its flags, and on
 * start its routes and close hook. Register it in main.ts's serve components when
 * `--components` includes `broker`.
 */
import { valueOf } from '../flag-value.js';
import type {
  ComponentFlag,
  ServeComponent,
  ServeComponentContext,
  ServeContribution,
} from '../server/component.js';
import type { ReadinessCheck } from '../server/health.js';
import type { Broker } from './broker.js';
import { defaultIssuer } from './discovery.js';
import { brokerFlags, parseBrokerOptions } from './options.js';
import { INTERNAL_ERROR_MESSAGE } from '../server/webhook-app.js';
import { leanTokenHandler } from './lean-token.js';
import { createBrokerRouter } from './router.js';

/** The broker's flags as `serve` adds them (`--kubeconfig` is shared with the Tenant watch). */
const brokerComponentFlags: readonly ComponentFlag[] = brokerFlags.map((f) => ({
  flag: f.flag,
  env: f.env,
  description: f.description,
  ...(f.kind === 'boolean' ? { boolean: true } : {}),
  ...(f.default === undefined ? {} : { default: f.default }),
}));

/**
 * The issuer: `--issuer` / TG_ISSUER when given, else the URL `serve` listens on (so the
 * discovery document's `jwks_uri` points where the JWKS is served, whatever `--port` says).
 */
export function brokerIssuer(context: Pick<ServeComponentContext, 'options' | 'env' | 'settings'>): string {
  if (valueOf(context.options.issuer, context.env, 'TG_ISSUER') !== undefined)
    return context.settings.issuerUrl;
  const host = valueOf(context.options.host, context.env, 'TG_HOST', '127.0.0.1');
  const port = Number(valueOf(context.options.port, context.env, 'TG_PORT', '8443'));
  return defaultIssuer(host, port) ?? context.settings.issuerUrl;
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
    if (
      valueOf(context.options.issuer, context.env, 'TG_ISSUER') === undefined &&
      Number(valueOf(context.options.port, context.env, 'TG_PORT', '8443')) === 0
    ) {
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
