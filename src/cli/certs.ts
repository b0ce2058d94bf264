/**
 * `tenant-guard certs [--service S]... [--namespace N] [--out DIR] [--webhook-config DIR] [--days N]`
 *
 * A CA and a serving certificate (src/server/certificates.ts) whose names cover each
 * Service's DNS names (S, S.N, S.N.svc, S.N.svc.cluster.local), written to DIR (ca.pem,
 * tls.crt, tls.key, and ca-bundle.pem), and the CA bundle written into the `caBundle` of every
 * Mutating- and ValidatingWebhookConfiguration found under the webhook-config directory.
 *
 * DIR defaults to `certs/cluster`: the certificate of the cluster's Services, kept apart from
 * the `certs/` where `serve` makes (and reuses) its own for local runs, so that running
 * `certs` never changes what `npm start` serves (a certificate for the Service names only
 * would fail `curl https://127.0.0.1:8443`).
 *
 * Rotation without an outage: the bundle holds the new CA and the previous one (from the
 * caBundle found, while it is still valid), so the API server and Argo CD trust both while
 * the Secret with the new serving certificate rolls out. Exit 0 done, 1 failure, 2 bad usage.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { parseAllDocuments, type Document } from 'yaml';
import { isTenantGuardError, TenantGuardError } from '../errors.js';
import { generateCertificates, writeCertificates } from '../server/certificates.js';
import type { CliContext } from './io.js';

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
export const CA_BUNDLE_FILE = 'ca-bundle.pem';
const WEBHOOK_KINDS = new Set(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The DNS names of Services in a namespace, as clients inside the cluster spell them. */
export function serviceDnsNames(services: readonly string[], namespace: string): string[] {
  return services.flatMap((s) => [
    s,
    `${s}.${namespace}`,
    `${s}.${namespace}.svc`,
    `${s}.${namespace}.svc.cluster.local`,
  ]);
}

/**
 * The CA bundle to trust: the new CA, then the first certificate of the previous bundle
 * when it is another one and still valid at `now`.
 */
export function mergeCaBundle(newCa: string, previousBundle: string | undefined, now: Date): string {
  const fresh = newCa.trim();
  const previous = (previousBundle ?? '').match(PEM_CERT)?.[0];
  if (previous === undefined) return `${fresh}\n`;
  try {
    const old = new X509Certificate(previous);
    const stillValid = Date.parse(old.validTo) > now.getTime();
    if (!stillValid || old.fingerprint256 === new X509Certificate(fresh).fingerprint256) return `${fresh}\n`;
  } catch {
    return `${fresh}\n`; // not a certificate: nothing worth keeping
  }
  return `${fresh}\n${previous}\n`;
}

/** YAML files under `dir`, hidden directories and node_modules skipped. */
function yamlFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    if (entry.startsWith('.') || entry === 'node_modules') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...yamlFiles(path));
    else if (/\.ya?ml$/.test(entry)) found.push(path);
  }
  return found;
}

function webhookCount(doc: Document): number {
  const kind = doc.get('kind');
  if (
    typeof kind !== 'string' ||
    !WEBHOOK_KINDS.has(kind) ||
    doc.get('apiVersion') !== 'admissionregistration.k8s.io/v1'
  )
    return 0;
  const webhooks: unknown = doc.toJS().webhooks;
  return Array.isArray(webhooks) ? webhooks.length : 0;
}

/** The caBundle (base64) of the first webhook configuration under `dir`, if any. */
export function findCaBundle(dir: string): string | undefined {
  for (const file of yamlFiles(dir)) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (webhookCount(doc) === 0) continue;
      const value = doc.getIn(['webhooks', 0, 'clientConfig', 'caBundle']);
      if (typeof value === 'string' && value !== '') return value;
    }
  }
  return undefined;
}

/**
 * Sets `clientConfig.caBundle` of every webhook of every webhook configuration under `dir`,
 * keeping the rest of each file (comments, order) as it was.
 * @returns the files changed and how many webhooks
 * @throws TenantGuardError ERR_CERTS when no webhook configuration is found
 */
export function writeCaBundle(dir: string, caBundleBase64: string): { files: string[]; webhooks: number } {
  const files: string[] = [];
  let webhooks = 0;
  for (const file of yamlFiles(dir)) {
    const docs = parseAllDocuments(readFileSync(file, 'utf8'));
    let changed = false;
    for (const doc of docs) {
      const count = webhookCount(doc);
      for (let i = 0; i < count; i++) doc.setIn(['webhooks', i, 'clientConfig', 'caBundle'], caBundleBase64);
      webhooks += count;
      changed ||= count > 0;
    }
    if (!changed) continue;
    writeFileSync(file, docs.map((d) => d.toString({ lineWidth: 0, flowCollectionPadding: false })).join(''));
    files.push(file);
  }
  if (files.length === 0)
    throw new TenantGuardError(
      'ERR_CERTS',
      `no MutatingWebhookConfiguration or ValidatingWebhookConfiguration (admissionregistration.k8s.io/v1) found under ${dir}`,
    );
  return { files, webhooks };
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

/** Runs the command. Returns the exit code. */
export async function runCerts(options: CertsOptions, io: CertsIo, now: Date = new Date()): Promise<number> {
  try {
    checkCertsOptions(options);
    const names = serviceDnsNames(options.services, options.namespace);
    const bundle = await generateCertificates({
      names,
      validityDays: options.days,
      caCommonName: `tenant-guard CA (${options.namespace})`,
      ...(options.client === undefined ? {} : { clientName: options.client }),
    });
    const previous = options.webhookConfig === undefined ? undefined : findCaBundle(options.webhookConfig);
    const caBundle = mergeCaBundle(
      bundle.caCert,
      previous === undefined ? undefined : Buffer.from(previous, 'base64').toString('utf8'),
      now,
    );
    const files = writeCertificates(options.out, bundle);
    writeFileSync(join(options.out, CA_BUNDLE_FILE), caBundle, { mode: 0o644 });
    const webhookDirs: string[] = [];
    const lines = [
      `wrote ${files.caFile}, ${files.certFile}, ${files.keyFile} (0600) and ${join(options.out, CA_BUNDLE_FILE)}`,
      `serving certificate for: ${names.join(', ')} (valid ${options.days} days)`,
    ];
    if (files.client !== undefined)
      lines.push(
        `wrote ${files.client.certFile} and ${files.client.keyFile} (0600): the API server's client certificate, Common Name ${options.client ?? ''}, signed by the same CA`,
      );
    if (options.webhookConfig !== undefined) {
      const written = writeCaBundle(options.webhookConfig, Buffer.from(caBundle, 'utf8').toString('base64'));
      const kept =
        (caBundle.match(PEM_CERT) ?? []).length > 1
          ? ' (the new CA and the previous one, for the rotation)'
          : '';
      lines.push(`caBundle${kept} written into ${written.webhooks} webhooks in ${written.files.join(', ')}`);
      webhookDirs.push(...new Set(written.files.map((f) => dirname(f))));
    }
    lines.push(
      'next (a first install; to rotate, docs/upgrade.md gives the order):',
      `  kubectl -n ${options.namespace} create secret tls tenant-guard-tls --cert ${files.certFile} --key ${files.keyFile} --dry-run=client -o yaml | kubectl apply -f -`,
      `  kubectl -n argocd create configmap tenant-guard-broker-ca --from-file=ca.crt=${join(options.out, CA_BUNDLE_FILE)} --dry-run=client -o yaml | kubectl apply -f -`,
      '  kubectl apply -k webhook-config/ and wait for `kubectl -n tenant-guard rollout status`, then the webhook configurations (docs/install.md):',
      ...webhookDirs.map((d) => `  kubectl apply -k ${d}`),
    );
    if (files.client !== undefined)
      lines.push(
        'the client certificate: on every API server, then the webhook (docs/install.md, section 6):',
        `  kubectl -n ${options.namespace} create secret generic tenant-guard-client-ca --from-file=ca.crt=${join(options.out, CA_BUNDLE_FILE)} --dry-run=client -o yaml | kubectl apply -f -`,
      );
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
