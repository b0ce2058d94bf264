/**
 * The broker as a component of `tenant-guard serve` (src/cli/serve.ts): its flags, and on
 * start its routes and close hook. Register it in main.ts's serve components when
 * `--components` includes `broker`.
 */
import type { Command } from 'commander';
import type { ServeComponent, ServeContribution } from '../cli/serve.js';
import { envOption } from '../cli/io.js';
import { brokerFlags, parseBrokerOptions } from './options.js';
import { INTERNAL_ERROR_MESSAGE } from '../server/webhook-app.js';
import { leanTokenHandler } from './lean-token.js';
import { createBrokerRouter } from './router.js';

/** Adds every broker flag not already on `command` (another component may define `--kubeconfig`). */
function addBrokerOptions(command: Command): void {
  for (const f of brokerFlags) {
    if (command.options.some((o) => o.long === `--${f.flag}`)) continue;
    const flags = f.kind === 'boolean' ? `--${f.flag}` : `--${f.flag} <value>`;
    command.addOption(envOption(flags, f.description, f.env, f.default));
  }
}

/** The token broker: discovery, JWKS and the token endpoints, mounted at `/`. */
export const brokerComponent: ServeComponent = {
  name: 'broker',
  addOptions: addBrokerOptions,
  async start(context): Promise<ServeContribution> {
    const flags: Record<string, string | boolean | undefined> = {};
    for (const [k, v] of Object.entries(context.options)) if (typeof v === 'string' || typeof v === 'boolean') flags[k] = v;
    // Imported on start: it loads @kubernetes/client-node, which a webhook-only process never needs.
    const { createBroker } = await import('./create-broker.js');
    const broker = await createBroker({
      config: parseBrokerOptions(flags, context.env),
      issuer: context.settings.issuerUrl,
      allowedCallers: context.settings.brokerAllowedCallers,
      registry: context.registry,
      logger: context.logger,
      audit: context.audit,
      metricsRegistry: context.metricsRegistry,
      env: context.env,
    });
    const lean = leanTokenHandler(broker, { logger: context.logger, message: INTERNAL_ERROR_MESSAGE });
    return { mounts: [{ path: '/', router: createBrokerRouter(broker), lean }], close: () => broker.close() };
  },
};
