/**
 * The server's plug-in contract: a part of `tenant-guard serve` that another team owns (the
 * token broker, the reporter). A component declares its flags as data and, once started,
 * contributes routers, readiness checks and a close hook. It belongs to the server, not to
 * the command line, so a component never imports src/cli/ (test/architecture/layers.test.ts).
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AuditSink } from '../audit/record.js';
import type { FlagSpec } from '../flag-value.js';
import type { Settings } from '../settings.js';
import type { RegistryProvider } from '../tenancy/registry.js';
import type { ReadinessCheck } from './health.js';
import type { MountedRouter } from './webhook-app.js';

/** One flag a component adds to `serve`, with its environment variable. */
export interface ComponentFlag {
  /** The long name without dashes, e.g. `report-format`. */
  readonly flag: string;
  readonly env: string;
  readonly description: string;
  /** A switch that takes no value (`--allow-unbound-callers`). Default false. */
  readonly boolean?: boolean;
  /** The value's name in help (`--report-format <format>`). Default `value`. */
  readonly valueName?: string;
  /** The default as help shows it; the component applies it itself. */
  readonly default?: string;
}

/** What a started component adds to the server. */
export interface ServeContribution {
  readonly mounts?: readonly MountedRouter[];
  readonly readiness?: readonly ReadinessCheck[];
  /** Called on shutdown, after the server stopped accepting connections. */
  close?(): Promise<void> | void;
}

/** What a component gets when `serve` starts it. */
export interface ServeComponentContext {
  /** Every parsed option of `serve`, the component's own included (commander attribute names). */
  readonly options: Readonly<Record<string, unknown>>;
  readonly env: NodeJS.ProcessEnv;
  readonly settings: Settings;
  readonly logger: Logger;
  readonly audit: AuditSink;
  readonly metricsRegistry: Registry;
  readonly registry: RegistryProvider;
}

/** A part of the server another team owns (e.g. the token broker). */
export interface ServeComponent {
  readonly name: string;
  /** Started only when `--components` names it (the reporter needs a Kubernetes API). */
  readonly optIn?: boolean;
  /** The component's flags; `serve` adds each one not already defined (`--kubeconfig` is shared). */
  readonly flags?: readonly ComponentFlag[];
  start(context: ServeComponentContext): Promise<ServeContribution> | ServeContribution;
}

/** A flag of a typed table (src/flag-value.ts) as `serve` adds it: a boolean is a switch. */
export function componentFlag(
  spec: FlagSpec & { readonly env: string; readonly description: string; readonly valueName?: string },
): ComponentFlag {
  return {
    flag: spec.flag,
    env: spec.env,
    description: spec.description,
    ...(spec.kind === 'boolean' ? { boolean: true } : {}),
    ...(spec.valueName === undefined ? {} : { valueName: spec.valueName }),
    ...(spec.default === undefined ? {} : { default: spec.default }),
  };
}
