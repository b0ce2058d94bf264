/**
 * The real `tenant-guard serve --components webhook` for the benchmarks, as the image runs
 * it: the command bundled by esbuild (scripts/build-server.mjs), the shipped Deployment's
 * flags and allocator (bench/shipped.ts), a file registry of generated tenants and no
 * kubeconfig.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { buildServer } from '../scripts/build-server.mjs';
import { CERT_FILE, generateCertificates, KEY_FILE } from '../src/server/certificates.js';
import { shippedLaunch } from './shipped.js';
import { startProcess, type Running } from './processes.js';
import { generatedTenants } from './tenants.js';

let bundle: Promise<string> | undefined;

/**
 * The command bundled as the image bundles it, into dist/bench/server/, built once a run
 * (the webhook and memory benches both serve it); returns the path of its main.mjs.
 */
export function servedBundle(): Promise<string> {
  bundle ??= buildServer(join(fileURLToPath(new URL('../', import.meta.url)), 'dist', 'bench', 'server'));
  return bundle;
}

/** How `serve` says it listens, on stderr: the port is the first group. */
export const SERVE_LISTENING = /serving webhook on https:\/\/127\.0\.0\.1:(\d+)/;

/**
 * The arguments of `node <main> serve --components webhook` on a free loopback port with a
 * file registry; `tls`: a directory where serve makes (or finds) its pair (`--certs-dir`),
 * or the pair itself, given as the Deployment gives its own (`--tls-cert`, `--tls-key`).
 */
export function serveWebhookArgs(
  main: string,
  tenantsFile: string,
  tls: string | { certFile: string; keyFile: string },
): string[] {
  const tlsArgs =
    typeof tls === 'string' ? ['--certs-dir', tls] : ['--tls-cert', tls.certFile, '--tls-key', tls.keyFile];
  return [main, 'serve', '--components', 'webhook', '--port', '0', '--tenants', tenantsFile, ...tlsArgs];
}

/** A tenants file of `count` generated tenants (bench/tenants.ts), three clusters each. */
export function tenantsYaml(count: number): string {
  return generatedTenants(count)
    .map((t) =>
      stringify({
        apiVersion: 'tenantguard.dev/v1alpha1',
        kind: 'Tenant',
        metadata: { name: t.name },
        spec: {
          owners: { groups: t.owners.groups },
          namespaces: t.namespaces,
          projects: t.projects,
          sourceRepos: t.sourceRepos,
          clusters: t.clusters.map((c) => ({ name: c.name, server: c.server })),
        },
      }),
    )
    .join('---\n');
}

/**
 * A serving certificate and key for loopback in `certsDir` (made once, kept for the next
 * server): the Deployment mounts its pair from a Secret and passes `--tls-cert` and
 * `--tls-key`, so a benchmarked server never makes certificates either. `--certs-dir` made
 * them at start-up, which loads selfsigned (node-forge) and kept ~3 MB more resident on
 * Node.js 24 than the Deployment's server holds.
 */
export async function servingCertificate(certsDir: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(certsDir, CERT_FILE);
  const keyFile = join(certsDir, KEY_FILE);
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const bundle = await generateCertificates({ names: ['127.0.0.1', 'localhost'] });
    writeFileSync(keyFile, bundle.key, { mode: 0o600 });
    writeFileSync(certFile, bundle.cert);
  }
  return { certFile, keyFile };
}

/**
 * Starts `node <main> serve --components webhook` on a free loopback port with the shipped
 * flags and allocator, the tenants of `tenantsFile` and a certificate pair in `certsDir`
 * given as the Deployment gives its own (`--tls-cert`, `--tls-key`; servingCertificate).
 * `discardLogs`: its stdout (log and audit lines, asynchronous as shipped) goes to /dev/null
 * instead of a pipe this process reads, so a load's lines cost neither memory nor CPU here.
 */
export async function startServe(
  main: string,
  tenantsFile: string,
  certsDir: string,
  options: { discardLogs?: boolean } = {},
): Promise<Running> {
  // As in the Deployment, with no in-cluster API to find.
  const { flags, env } = shippedLaunch('webhook');
  delete env.KUBERNETES_SERVICE_HOST;
  const args = serveWebhookArgs(main, tenantsFile, await servingCertificate(certsDir));
  return startProcess([...flags, ...args], {
    listenPattern: SERVE_LISTENING,
    env,
    discardStdout: options.discardLogs === true,
  });
}
