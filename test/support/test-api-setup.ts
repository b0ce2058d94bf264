/**
 * Setting up the test API server for code that reads a kubeconfig from disk (`serve
 * --kubeconfig`, `scan --kubeconfig`, the broker component), and the one-cluster Tenant the
 * tests of a served webhook watch.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TENANTS, tenantDoc } from '../tenancy/watch-support.js';
import type { TestApiServer } from './test-api-server.js';

/**
 * Writes `api`'s kubeconfig (see `TestApiServer.kubeConfig`) to `dir/kubeconfig` and returns
 * the file's path. `mode`: the file's permissions (default: the process's umask).
 */
export function writeKubeconfig(api: TestApiServer, dir: string, options: { mode?: number } = {}): string {
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    api.kubeConfig().exportConfig(),
    options.mode === undefined ? {} : { mode: options.mode },
  );
  return file;
}

/** Serves Tenants on `api` and stores team-a with its one cluster k8s-team-a-dev (https://team-a-dev.example.com). */
export function seedOneClusterTenant(api: TestApiServer): void {
  api.registerResource(TENANTS);
  api.seed(
    TENANTS,
    undefined,
    tenantDoc('team-a', {
      clusters: [{ name: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' }],
    }),
  );
}
