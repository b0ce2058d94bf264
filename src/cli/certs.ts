/**
 * `tenant-guard certs [--service S]... [--namespace N] [--out DIR] [--webhook-config DIR] [--days N]`
 *
 * A CA and a serving certificate (src/server/certificates.ts) whose names cover each
 * Service's DNS names (S, S.N, S.N.svc, S.N.svc.cluster.local), written to DIR (ca.pem,
 * tls.crt, tls.key, ca-bundle.pem, and tenant-guard-tls.yaml: the Secret the Deployments mount,
 * as a manifest), and the CA bundle written into the `caBundle` of every
 * Mutating- and ValidatingWebhookConfiguration found under the webhook-config directory.
 *
 * DIR defaults to `certs/cluster`: the certificate of the cluster's Services, kept apart from
 * the `certs/` where `serve` makes (and reuses) its own for local runs, so that running
 * `certs` never changes what `npm start` serves (a certificate for the Service names only
 * would fail `curl https://127.0.0.1:8443`).
 *
 * Rotation without an outage: the bundle holds the new CA and the previous one (the `ca.pem`
 * this command wrote last into DIR, and the caBundle found, while still valid; ca-bundle.ts),
 * so the API server and Argo CD trust both while the Secret with the new serving certificate
 * rolls out; the output says which CAs it kept and the order to apply them in. Exit 0 done,
 * 1 failure, 2 bad usage.
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { isTenantGuardError, TenantGuardError } from '../errors.js';
import { certificateFiles, generateCertificates, writeCertificates } from '../server/certificates.js';
import {
  CA_BUNDLE_FILE,
  mergeCaBundle,
  previousCaFile,
  previousCaOfWebhooks,
  writeCaBundle,
  type MergedBundle,
  type PreviousCa,
} from './ca-bundle.js';
import type { CliContext } from './io.js';

export { CA_BUNDLE_FILE, mergeCaBundle } from './ca-bundle.js';

/** Options of `runCerts`. */
export interface CertsOptions {
  /** Service names the certificate covers. Default: tenant-guard-webhook, tenant-guard-broker. */
  services: string[];
  /** Namespace of the Services. Default tenant-guard. */
  namespace: string;
  /** Output directory. Default `certs/cluster` (DEFAULT_CERTS_OUT). */
  out: string;
  /** Directory searched (recursively) for webhook configurations; undefined: none. Default `webhook-config`. */
  webhookConfig: string | undefined;
  /** Validity in days. Default 365. */
  days: number;
  /** Common Name of a client certificate for the API server (`--client`); none when undefined. */
  client?: string;
}

/** Where `runCerts` writes its messages. */
export interface CertsIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const DEFAULT_CERT_SERVICES = ['tenant-guard-webhook', 'tenant-guard-broker'];
/** Where `certs` writes by default; `serve --certs-dir` (local runs) defaults to `certs`, a different place. */
export const DEFAULT_CERTS_OUT = 'certs/cluster';
/** The Secret the Deployments mount, and the file in `--out` that holds it as a manifest. */
export const TLS_SECRET_NAME = 'tenant-guard-tls';
export const TLS_SECRET_FILE = 'tenant-guard-tls.yaml';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The DNS names of Services in a namespace, as clients inside the cluster spell them. */
export function serviceDnsNames(services: readonly string[], namespace: string): string[] {
  return services.flatMap((s) => [
    s,
    `${s}.${namespace}`,
    `${s}.${namespace}.svc`,
    `${s}.${namespace}.svc.cluster.local`,
  ]);
}

/** Checks the options. @throws TenantGuardError ERR_USAGE naming the option. */
export function checkCertsOptions(options: CertsOptions): void {
  const usage = (message: string): TenantGuardError => new TenantGuardError('ERR_USAGE', message);
  if (options.services.length === 0) throw usage('--service: give at least one Service name');
  for (const s of options.services)
    if (!DNS_LABEL.test(s) || s.length > 63)
      throw usage(`--service: "${s}" is not a Service name (a DNS label)`);
  if (!DNS_LABEL.test(options.namespace) || options.namespace.length > 63)
    throw usage(`--namespace: "${options.namespace}" is not a namespace name (a DNS label)`);
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > 3650)
    throw usage(`--days: "${options.days}" must be a whole number of days from 1 to 3650`);
  // eslint-disable-next-line no-control-regex -- a Common Name with control characters is refused
  const unprintable = /[\u0000-\u001f\u007f,]/;
  if (
    options.client !== undefined &&
    (options.client === '' || options.client.length > 64 || unprintable.test(options.client))
  )
    throw usage(`--client: "${options.client.slice(0, 70)}" must be 1 to 64 printable characters, no comma`);
  if (options.webhookConfig !== undefined && !existsSync(options.webhookConfig))
    throw usage(`--webhook-config: ${options.webhookConfig} does not exist`);
}

/** What the output says about the previous CAs: kept for the rotation, or none (a first install). */
function bundleLines(merged: MergedBundle, bundleFile: string): string[] {
  const lines = merged.kept.map(
    (k) => `kept the previous CA ${k.subject} (valid to ${k.validTo}, from ${k.from}) in ${bundleFile}`,
  );
  for (const e of merged.expired)
    lines.push(
      `warning: the previous CA from ${e.from} expired ${e.validTo} and is not kept: a certificate it signed verifies for nobody already`,
    );
  if (merged.kept.length === 0)
    lines.push(
      `no previous CA kept (none valid in ${bundleFile.replace(CA_BUNDLE_FILE, 'ca.pem')}, nor in the webhook configurations): apply as a first install`,
    );
  return lines;
}

/**
 * The Secret `tenant-guard-tls` as a manifest: the serving pair, and `ca.crt` the CA bundle
 * (what the ServiceMonitors verify the pods with, as cert-manager's Secret has it). One file
 * that every doc points at, so no recipe of its own can take the wrong files or drop a key.
 */
export function tlsSecretManifest(
  namespace: string,
  pair: { cert: string; key: string },
  caBundle: string,
): string {
  const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
  return [
    '# Written by `tenant-guard certs`: the serving certificate, its key and the CA bundle.',
    '# Holds the private key: keep it out of git. Apply: kubectl apply -f <this file>',
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${TLS_SECRET_NAME}`,
    `  namespace: ${namespace}`,
    '  labels:',
    '    app.kubernetes.io/name: tenant-guard',
    'type: kubernetes.io/tls',
    'data:',
    `  tls.crt: ${b64(pair.cert)}`,
    `  tls.key: ${b64(pair.key)}`,
    `  ca.crt: ${b64(caBundle)}`,
    '',
  ].join('\n');
}

/** The commands to apply what was written: a first install's, or a rotation's order (docs/upgrade.md). */
function nextLines(
  options: CertsOptions,
  secretFile: string,
  webhookDirs: string[],
  rotation: boolean,
): string[] {
  const bundle = join(options.out, CA_BUNDLE_FILE);
  const secret = `  kubectl apply -f ${secretFile}`;
  const configMap = `  kubectl -n argocd create configmap tenant-guard-broker-ca --from-file=ca.crt=${bundle} --dry-run=client -o yaml | kubectl apply -f -`;
  const webhooks =
    webhookDirs.length > 0
      ? webhookDirs.map((d) => `  kubectl apply -k ${d}`)
      : [`  (your webhook configurations, their caBundle the base64 of ${bundle})`];
  const clientCa =
    options.client === undefined
      ? []
      : [
          `  kubectl -n ${options.namespace} create secret generic tenant-guard-client-ca --from-file=ca.crt=${bundle} --dry-run=client -o yaml | kubectl apply -f -`,
        ];
  if (!rotation)
    return [
      'next (a first install, docs/install.md):',
      `  kubectl create namespace ${options.namespace}`,
      secret,
      configMap,
      '  kubectl apply -k webhook-config/ and wait for `kubectl -n tenant-guard rollout status`, then the webhook configurations:',
      ...webhooks,
      ...(clientCa.length === 0
        ? []
        : [
            'the client certificate: on every API server, then the webhook (docs/install.md, section 6):',
            ...clientCa,
          ]),
    ];
  return [
    'next, a rotation: in this order, so that nothing distrusts anything on the way (docs/upgrade.md):',
    configMap,
    ...webhooks,
    ...(clientCa.length === 0
      ? []
      : [...clientCa, "  then the API servers' client.crt and client.key, one at a time"]),
    secret,
  ];
}

/** Runs the command. Returns the exit code. */
export async function runCerts(options: CertsOptions, io: CertsIo, now: Date = new Date()): Promise<number> {
  try {
    checkCertsOptions(options);
    const names = serviceDnsNames(options.services, options.namespace);
    // Read before anything is written: the CA this replaces is kept in the new bundle.
    const previous = [
      previousCaFile(certificateFiles(options.out).caFile),
      options.webhookConfig === undefined ? undefined : previousCaOfWebhooks(options.webhookConfig),
    ].filter((p): p is PreviousCa => p !== undefined);
    const bundle = await generateCertificates({
      names,
      validityDays: options.days,
      caCommonName: `tenant-guard CA (${options.namespace})`,
      ...(options.client === undefined ? {} : { clientName: options.client }),
      now: () => now.getTime(),
    });
    const merged = mergeCaBundle(bundle.caCert, previous, now);
    const files = writeCertificates(options.out, bundle);
    const bundleFile = join(options.out, CA_BUNDLE_FILE);
    writeFileSync(bundleFile, merged.bundle, { mode: 0o644 });
    const secretFile = join(options.out, TLS_SECRET_FILE);
    writeFileSync(secretFile, tlsSecretManifest(options.namespace, bundle, merged.bundle), { mode: 0o600 });
    chmodSync(secretFile, 0o600); // an existing file keeps its mode on write
    const webhookDirs: string[] = [];
    const lines = [
      `wrote ${files.caFile}, ${files.certFile}, ${files.keyFile} (0600), ${bundleFile}, and ${secretFile} (0600): Secret ${TLS_SECRET_NAME} with tls.crt, tls.key and ca.crt (the CA bundle)`,
      `serving certificate for: ${names.join(', ')} (valid ${options.days} days)`,
    ];
    if (files.client !== undefined)
      lines.push(
        `wrote ${files.client.certFile} and ${files.client.keyFile} (0600): the API server's client certificate, Common Name ${options.client ?? ''}, signed by the same CA`,
      );
    lines.push(...bundleLines(merged, bundleFile));
    if (options.webhookConfig !== undefined) {
      const written = writeCaBundle(
        options.webhookConfig,
        Buffer.from(merged.bundle, 'utf8').toString('base64'),
      );
      lines.push(`caBundle written into ${written.webhooks} webhooks in ${written.files.join(', ')}`);
      webhookDirs.push(...new Set(written.files.map((f) => dirname(f))));
    }
    lines.push(...nextLines(options, secretFile, webhookDirs, merged.kept.length > 0));
    io.stdout(`${lines.join('\n')}\n`);
    return 0;
  } catch (err) {
    if (!isTenantGuardError(err)) throw err;
    io.stderr(`tenant-guard certs: ${err.message} (${err.code})\n`);
    return err.code === 'ERR_USAGE' ? 2 : 1;
  }
}

function collect(value: string, previous: string[]): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  ];
}

/** Adds `certs` to the program (commander 14); main.ts lists it in COMMANDS. */
export function register(program: Command, context: CliContext): void {
  program
    .command('certs')
    .description(
      'generate a CA and a serving certificate for the Services, and write the CA bundle into the webhook configurations',
    )
    .addOption(
      new Option('--service <name>', 'Service the certificate covers; repeatable, or comma-separated')
        .argParser(collect)
        .default([], DEFAULT_CERT_SERVICES.join(', ')),
    )
    .option('--namespace <namespace>', 'namespace of the Services', 'tenant-guard')
    .option(
      '--out <dir>',
      "directory for ca.pem, tls.crt, tls.key and ca-bundle.pem (not serve's --certs-dir)",
      DEFAULT_CERTS_OUT,
    )
    .option(
      '--webhook-config <dir>',
      'directory whose webhook configurations get the caBundle',
      'webhook-config',
    )
    .option('--no-webhook-config', 'write no caBundle')
    .option('--days <days>', 'validity in days', '365')
    .option(
      '--client <name>',
      "also a client certificate with this Common Name (client.crt, client.key): the API server's, for serve --client-ca-file",
    )
    .action(async (raw: Record<string, unknown>) => {
      const { io } = context;
      const services = Array.isArray(raw.service)
        ? raw.service.filter((s): s is string => typeof s === 'string')
        : [];
      const options: CertsOptions = {
        services: services.length > 0 ? services : [...DEFAULT_CERT_SERVICES],
        namespace: typeof raw.namespace === 'string' ? raw.namespace : 'tenant-guard',
        out: resolve(io.cwd, typeof raw.out === 'string' ? raw.out : DEFAULT_CERTS_OUT),
        webhookConfig: typeof raw.webhookConfig === 'string' ? resolve(io.cwd, raw.webhookConfig) : undefined,
        days: Number(typeof raw.days === 'string' ? raw.days : '365'),
        ...(typeof raw.client === 'string' ? { client: raw.client } : {}),
      };
      context.setExitCode(
        await runCerts(options, {
          stdout: (t) => void io.stdout.write(t),
          stderr: (t) => void io.stderr.write(t),
        }),
      );
    });
}
