/**
 * `tenant-guard serve`: the command. It registers the flags of the server and of every
 * component (src/server/component.ts; pass one in the `components` of `register` in main.ts),
 * starts the server (src/server/start-serve.ts) and, on SIGTERM or SIGINT, drains and stops it.
 */
import type { Command } from 'commander';
import { componentFlag, type ComponentFlag, type ServeComponent } from '../server/component.js';
import { SERVE_FLAGS } from '../server/serve-options.js';
import { startServe } from '../server/start-serve.js';
import { addSettingOptions, envOption, type CliContext } from './io.js';

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
    .description('serve the admission webhook (and mounted components) over HTTPS');
  const serveFlags = Object.values(SERVE_FLAGS).map((spec) =>
    spec === SERVE_FLAGS.components
      ? {
          ...componentFlag(spec),
          description: `${spec.description}, of: ${componentNames.join(', ')}`,
          default: defaultNames.join(','),
        }
      : componentFlag(spec),
  );
  addComponentFlags(command, serveFlags);
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
