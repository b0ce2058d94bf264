/**
 * The Tenant registry `tenant-guard serve` reads: a watch on Tenant objects (--watch-tenants)
 * or the tenants file, re-read when it changes. Opened first, started once the rest of the
 * server is ready, with its readiness check, gauges and close hook.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Registry } from 'prom-client';
import { TenantGuardError } from '../errors.js';
import type { Settings } from '../settings.js';
import { FileRegistry } from '../tenancy/file-registry.js';
import type { RegistryProvider } from '../tenancy/registry.js';
import { registerRegistryMetrics } from '../tenancy/tenant-metrics.js';
import type { WatchedRegistryOptions } from '../tenancy/watch-source.js';
import type { ServeContribution } from './component.js';

/** Clock, timers and bounds of the Tenant watch (tests). */
export type TenantWatchTuning = Pick<
  WatchedRegistryOptions,
  'now' | 'timers' | 'silenceMs' | 'maxStalenessMs' | 'backoffInitialMs' | 'backoffMaxMs' | 'debounceMs'
>;

/** An opened registry: read it now, `start` it when the server is about to listen. */
export interface OpenedTenantRegistry {
  readonly registry: RegistryProvider;
  /** Where the tenants come from, for the start-up line. */
  describe(show: (path: string) => string): string;
  /** Starts watching (or re-reading the file); its readiness check and close hook. */
  start(): ServeContribution;
}

/**
 * Opens the watch (`watch`) or reads the file at `tenantsPath`.
 * @throws TenantGuardError ERR_USAGE when a watch has no Kubernetes API; the file registry's
 *   errors on a bad tenants file.
 */
export async function openTenantRegistry(options: {
  readonly watch: boolean;
  /** Absolute. */
  readonly tenantsPath: string;
  /** Absolute; undefined: in-cluster. */
  readonly kubeconfig: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly settings: Settings;
  readonly metricsRegistry: Registry;
  /** Only the webhook writes Tenant status; the broker's RBAC has no right to. */
  readonly writeStatus: boolean;
  readonly tuning?: TenantWatchTuning;
  /** The watched registry's bound in characters of JSON; default MAX_REGISTRY_CHARS. */
  readonly maxRegistryChars?: number;
}): Promise<OpenedTenantRegistry> {
  const { logger, settings, metricsRegistry } = options;
  if (options.watch) {
    const watched = new (await import('../tenancy/watch-source.js')).WatchedRegistry({
      kubeConfig: await tenantWatchKubeConfig(options.kubeconfig, options.env),
      logger,
      argocdNamespace: settings.argocdNamespace,
      metrics: metricsRegistry,
      writeStatus: options.writeStatus,
      ...(options.maxRegistryChars === undefined ? {} : { maxRegistryChars: options.maxRegistryChars }),
      ...options.tuning,
    });
    return {
      registry: watched,
      describe: () => 'tenants from a watch on Tenant objects',
      start: () => {
        watched.start();
        // Not ready while the API server has not confirmed the registry within its bound.
        return {
          readiness: [{ name: 'tenant-registry-fresh', ready: () => watched.isFresh() }],
          close: () => watched.stop(),
        };
      },
    };
  }
  // The file is re-read when it changes and on SIGHUP; a bad file keeps the last good registry.
  const fromFile = FileRegistry.load({
    path: options.tenantsPath,
    argocdNamespace: settings.argocdNamespace,
    logger,
  });
  registerFileRegistryMetrics(metricsRegistry, fromFile, options.tuning?.now ?? Date.now);
  return {
    registry: fromFile,
    describe: (show) => `${fromFile.current().size} tenants from ${show(options.tenantsPath)}`,
    start: () => {
      fromFile.start();
      return { close: () => fromFile.close() };
    },
  };
}

/**
 * The registry gauges for a file registry: synced since it was first read, every Tenant
 * accepted. Stale while the file, re-read on a change, was refused (unreadable or invalid)
 * and the last good registry is served; until then it matches its source now, which is
 * when it last did (before, the time of the last load, so a file left alone for 15 minutes
 * looked stale, and a refused one did not).
 */
function registerFileRegistryMetrics(metricsRegistry: Registry, registry: FileRegistry, now: Clock): void {
  registerRegistryMetrics(metricsRegistry, () => ({
    synced: true,
    stale: registry.refusal() !== undefined,
    fresh: true,
    lastSyncTime: registry.refusal() === undefined ? new Date(now()) : registry.lastLoaded(),
    accepted: registry.current().size,
    rejected: 0,
    invalid: 0,
    consecutiveFailures: 0,
  }));
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
