/**
 * Helpers of the watched-registry tests: Tenant documents, a log capture, polling.
 */
import { pino, type Logger } from 'pino';
import { WatchedRegistry, type WatchedRegistryOptions } from '../../src/tenancy/watch-source.js';
import type { ResourceType, TestApiServer } from '../support/test-api-server.js';

export const TENANTS: ResourceType = {
  group: 'tenantguard.dev',
  version: 'v1alpha1',
  plural: 'tenants',
  kind: 'Tenant',
  namespaced: false,
  statusSubresource: true,
};

/** A valid Tenant owning `<name>-dev` at https://<name>-dev.example.com and namespace `<name>`. */
export function tenantDoc(
  name: string,
  overrides: {
    clusters?: Array<{ name: string; server: string }>;
    namespaces?: string[];
    projects?: string[];
  } = {},
): Record<string, unknown> {
  return {
    apiVersion: 'tenantguard.dev/v1alpha1',
    kind: 'Tenant',
    metadata: { name },
    spec: {
      owners: { groups: [`${name}-admins`] },
      namespaces: overrides.namespaces ?? [name],
      projects: overrides.projects ?? [name],
      clusters: overrides.clusters ?? [{ name: `${name}-dev`, server: `https://${name}-dev.example.com` }],
    },
  };
}

/** A pino logger whose lines are kept, parsed. */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { logger, lines };
}

/** Polls `check` every 5 ms until it is true; fails after `withinMs`. Returns the time it took. */
export async function eventually(what: string, check: () => boolean, withinMs = 1000): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > withinMs) throw new Error(`not within ${withinMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - start;
}

/** The status of a stored object, or undefined. */
export function statusOf(object: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const s = object?.status;
  return typeof s === 'object' && s !== null && !Array.isArray(s)
    ? (s as Record<string, unknown>)
    : undefined;
}

/** Timers that fire only when the test says so (bounded-watch.ts's WatchTimers). */
export class ManualTimers {
  private next = 1;
  private readonly pending = new Map<number, { fn: () => void; ms: number }>();

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.next++;
    this.pending.set(id, { fn, ms });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    if (typeof handle === 'number') this.pending.delete(handle);
  };

  /** The delays of the timers waiting, in ms. */
  delays(): number[] {
    return [...this.pending.values()].map((t) => t.ms);
  }

  /** Fires every waiting timer of `ms`; returns how many fired. */
  fire(ms: number): number {
    const due = [...this.pending.entries()].filter(([, t]) => t.ms === ms);
    for (const [id, t] of due) {
      this.pending.delete(id);
      t.fn();
    }
    return due.length;
  }
}

/**
 * A started WatchedRegistry on `api` that writes no status, rebuilds after 5 ms and retries
 * after 5-20 ms; every time bound otherwise at its default, `options` on top.
 */
export function startWatchedRegistry(
  api: TestApiServer,
  logger: Logger,
  options: Partial<WatchedRegistryOptions> = {},
): WatchedRegistry {
  const watched = new WatchedRegistry({
    kubeConfig: api.kubeConfig(),
    logger,
    argocdNamespace: 'argocd',
    writeStatus: false,
    debounceMs: 5,
    backoffInitialMs: 5,
    backoffMaxMs: 20,
    ...options,
  });
  watched.start();
  return watched;
}
