/**
 * The CA bundle of `tenant-guard certs`: which previous CAs it keeps beside the new one, and
 * the `caBundle` of the webhook configurations it is read from and written into.
 *
 * A rotation without an outage needs the CA of the serving certificate still mounted in the
 * bundle until the new Secret has rolled out (docs/upgrade.md). The previous CA is taken from
 * what `certs` itself wrote last (`--out`'s `ca.pem`, which it is about to replace), and from
 * the caBundle of the webhook configurations it finds: a fresh checkout, whose configurations
 * carry no caBundle, or a run with `--no-webhook-config`, still keeps it.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, parseAllDocuments, type Document } from 'yaml';
import { TenantGuardError } from '../errors.js';

export const CA_BUNDLE_FILE = 'ca-bundle.pem';
export const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const WEBHOOK_KINDS = new Set(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);

/** A CA found where a previous run left it. */
export interface PreviousCa {
  /** PEM text of the certificate. */
  readonly pem: string;
  /** Where it was found, for the messages. */
  readonly from: string;
}

/** What `mergeCaBundle` made of the previous CAs. */
export interface MergedBundle {
  /** PEM text: the new CA, then each previous CA kept. */
  readonly bundle: string;
  readonly kept: readonly (PreviousCa & { readonly subject: string; readonly validTo: string })[];
  /** Previous CAs left out because they expired (a certificate they signed verifies for nobody). */
  readonly expired: readonly (PreviousCa & { readonly validTo: string })[];
}

/**
 * The CA bundle to trust: the new CA, then every previous CA that is another one and still
 * valid at `now` (each once, in the order given). An entry that is not a certificate is skipped.
 */
export function mergeCaBundle(newCa: string, previous: readonly PreviousCa[], now: Date): MergedBundle {
  const fresh = newCa.trim();
  const seen = new Set<string>();
  try {
    seen.add(new X509Certificate(fresh).fingerprint256);
  } catch {
    // the new CA is ours; a test may pass a placeholder
  }
  const kept: (PreviousCa & { subject: string; validTo: string })[] = [];
  const expired: (PreviousCa & { validTo: string })[] = [];
  for (const ca of previous) {
    let old: X509Certificate;
    try {
      old = new X509Certificate(ca.pem);
    } catch {
      continue;
    }
    if (seen.has(old.fingerprint256)) continue;
    seen.add(old.fingerprint256);
    if (Date.parse(old.validTo) <= now.getTime()) expired.push({ ...ca, validTo: old.validTo });
    else
      kept.push({
        ...ca,
        pem: ca.pem.trim(),
        subject: old.subject.replaceAll('\n', ', '),
        validTo: old.validTo,
      });
  }
  return { bundle: [fresh, ...kept.map((k) => k.pem)].join('\n') + '\n', kept, expired };
}

/**
 * The CA a previous run wrote into `caFile`, if the file exists.
 * @throws TenantGuardError ERR_CERTS when it exists but holds no certificate: overwriting it
 *   could drop a CA in use with no way to keep it, so the run stops and says so.
 */
export function previousCaFile(caFile: string): PreviousCa | undefined {
  if (!existsSync(caFile)) return undefined;
  const pem = readFileSync(caFile, 'utf8').match(PEM_CERT)?.[0];
  try {
    if (pem !== undefined) {
      new X509Certificate(pem);
      return { pem, from: caFile };
    }
  } catch {
    // refused below
  }
  throw new TenantGuardError(
    'ERR_CERTS',
    `${caFile} exists but holds no readable certificate; it would be replaced without being kept in the bundle. If no serving certificate in use was signed by it, move it away and run again; otherwise restore it`,
  );
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

/** The first CA of the caBundle found under `dir`, as a previous CA. */
export function previousCaOfWebhooks(dir: string): PreviousCa | undefined {
  const base64 = findCaBundle(dir);
  if (base64 === undefined) return undefined;
  const pem = Buffer.from(base64, 'base64').toString('utf8').match(PEM_CERT)?.[0];
  return pem === undefined ? undefined : { pem, from: `the caBundle under ${dir}` };
}

/** One replacement in a file's text. */
interface TextEdit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/**
 * The edits that set `clientConfig.caBundle` of `count` webhooks of `doc` in `source`, each
 * in place: the value of an existing caBundle, or a new line above the first key of a block
 * `clientConfig`. Undefined when a `clientConfig` is not such a block (then the document is
 * written out whole).
 */
function caBundleEdits(source: string, doc: Document, count: number, value: string): TextEdit[] | undefined {
  const edits: TextEdit[] = [];
  for (let i = 0; i < count; i++) {
    const config = doc.getIn(['webhooks', i, 'clientConfig'], true);
    if (!isMap(config) || config.flow === true) return undefined;
    const pair = config.items.find((p) => isScalar(p.key) && p.key.value === 'caBundle');
    if (pair !== undefined) {
      if (!isScalar(pair.value) || pair.value.range == null) return undefined;
      edits.push({ start: pair.value.range[0], end: pair.value.range[1], text: value });
      continue;
    }
    const first = config.items[0]?.key;
    const start = isScalar(first) ? first.range?.[0] : undefined;
    if (start === undefined) return undefined;
    const lineStart = source.lastIndexOf('\n', start - 1) + 1;
    const indent = source.slice(lineStart, start);
    if (!/^ *$/.test(indent)) return undefined;
    edits.push({ start, end: start, text: `caBundle: ${value}\n${indent}` });
  }
  return edits;
}

/** `source` with `edits` (which do not overlap) made. */
function applyEdits(source: string, edits: readonly TextEdit[]): string {
  let out = source;
  for (const e of [...edits].sort((a, b) => b.start - a.start))
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/**
 * Sets `clientConfig.caBundle` of every webhook of every webhook configuration under `dir`.
 * Only those values change: every other byte of the file (comments, order, the line breaks
 * of the CEL matchConditions) stays as it was, so the diff an operator commits is the
 * caBundle and nothing else.
 * @returns the files changed and how many webhooks
 * @throws TenantGuardError ERR_CERTS when no webhook configuration is found
 */
export function writeCaBundle(dir: string, caBundleBase64: string): { files: string[]; webhooks: number } {
  const files: string[] = [];
  let webhooks = 0;
  for (const file of yamlFiles(dir)) {
    const source = readFileSync(file, 'utf8');
    const docs = parseAllDocuments(source);
    const edits: TextEdit[] = [];
    let inPlace = true;
    let changed = false;
    for (const doc of docs) {
      const count = webhookCount(doc);
      if (count === 0) continue;
      const mine = caBundleEdits(source, doc, count, caBundleBase64);
      if (mine === undefined) inPlace = false;
      else edits.push(...mine);
      for (let i = 0; i < count; i++) doc.setIn(['webhooks', i, 'clientConfig', 'caBundle'], caBundleBase64);
      webhooks += count;
      changed = true;
    }
    if (!changed) continue;
    writeFileSync(
      file,
      inPlace
        ? applyEdits(source, edits)
        : docs.map((d) => d.toString({ lineWidth: 0, flowCollectionPadding: false })).join(''),
    );
    files.push(file);
  }
  if (files.length === 0)
    throw new TenantGuardError(
      'ERR_CERTS',
      `no MutatingWebhookConfiguration or ValidatingWebhookConfiguration (admissionregistration.k8s.io/v1) found under ${dir}`,
    );
  return { files, webhooks };
}
