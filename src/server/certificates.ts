/**
 * A CA and a serving certificate signed by it (package `selfsigned`), for local runs and for
 * the webhook configurations' `caBundle`. Files: `ca.pem` (the CA, for `--cacert` and
 * `caBundle`), `tls.crt` (serving certificate, then the CA: the full chain) and `tls.key`
 * (mode 0600). The CA's key is not kept: regenerate both to renew.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { generate as generateType } from 'selfsigned';
import type { Clock } from '../clock.js';
import { errnoCode, TenantGuardError } from '../errors.js';
import { checkCertificateDates } from './certificate-validity.js';

/** Extensions as selfsigned takes them (its type is not exported). */
type Extensions = NonNullable<NonNullable<Parameters<typeof generateType>[1]>['extensions']>;

/** Names the generated serving certificate covers by default. */
export const DEFAULT_SERVING_NAMES: readonly string[] = [
  'localhost',
  '127.0.0.1',
  'tenant-guard-webhook.tenant-guard.svc',
];

export const CA_FILE = 'ca.pem';
export const CERT_FILE = 'tls.crt';
export const KEY_FILE = 'tls.key';
export const CLIENT_CERT_FILE = 'client.crt';
export const CLIENT_KEY_FILE = 'client.key';

export interface CertificateOptions {
  /** DNS names and IP addresses (told apart by `net.isIP`) of the serving certificate. */
  names: readonly string[];
  /** Validity in days of both certificates. Default 365. */
  validityDays?: number;
  /** Common name of the CA. Default `tenant-guard local CA`. */
  caCommonName?: string;
  /**
   * Also a client certificate (extKeyUsage clientAuth) with this Common Name, signed by the
   * same CA: the API server's, for `serve --client-ca-file` (docs/install.md section 6).
   */
  clientName?: string;
  /** The clock the validity starts from (a minute before now). Default `Date.now`. */
  now?: Clock;
}

/** PEM texts of a generated CA and serving certificate. */
export interface CertificateBundle {
  /** The CA certificate: trust this. */
  caCert: string;
  /** The serving certificate followed by the CA certificate. */
  cert: string;
  /** The serving certificate's private key (PKCS#8). */
  key: string;
  /** The client certificate and its key, when `clientName` was given. */
  client?: { cert: string; key: string };
}

/** Paths of the files a bundle was written to. */
export interface CertificateFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Written when the bundle has a client certificate. */
  client?: { certFile: string; keyFile: string };
}

/**
 * Generates a CA (RSA 2048, SHA-256) and a serving certificate signed by it for `names`.
 * @throws TenantGuardError ERR_CERTS when generation fails or no name is given.
 */
export async function generateCertificates(options: CertificateOptions): Promise<CertificateBundle> {
  if (options.names.length === 0)
    throw new TenantGuardError(
      'ERR_CERTS',
      'a serving certificate needs at least one DNS name or IP address',
    );
  const notBeforeDate = new Date((options.now ?? Date.now)() - 60_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + (options.validityDays ?? 365) * 86_400_000);
  const first = options.names[0] ?? 'localhost';
  // Imported here: selfsigned (node-forge) is only needed to make certificates, never by a
  // server given --tls-cert (the install), and costs resident memory.
  // `default`: selfsigned is CommonJS, and its exports object is the default export under
  // Node's own loader and in the esbuild bundle alike (the bundle has no named exports for it).
  const { generate } = (await import('selfsigned')).default;
  try {
    const ca = await generate(
      [
        { name: 'commonName', value: options.caCommonName ?? 'tenant-guard local CA' },
        // A name of its own for every CA: during a rotation the bundle holds the new CA and the
        // previous one, and OpenSSL (Node's TLS, so the exec plugin) picks a certificate's
        // issuer by name (selfsigned writes no key identifiers): under one name it tried the
        // wrong CA, and the previous serving certificate failed to verify.
        { shortName: 'OU', value: `made ${notBeforeDate.toISOString()} ${randomBytes(4).toString('hex')}` },
      ],
      {
        algorithm: 'sha256',
        keySize: 2048,
        notBeforeDate,
        notAfterDate,
        extensions: [
          { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
        ],
      },
    );
    // A leaf the CA signs: RSA 2048, SHA-256, not a CA, for `usage` (and any other extensions).
    const leaf = (commonName: string, usage: 'serverAuth' | 'clientAuth', more: Extensions = []) =>
      generate([{ name: 'commonName', value: commonName }], {
        algorithm: 'sha256',
        keySize: 2048,
        notBeforeDate,
        notAfterDate,
        ca: { key: ca.private, cert: ca.cert },
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', [usage]: true },
          ...more,
        ],
      });
    const serving = await leaf(first, 'serverAuth', [
      {
        name: 'subjectAltName',
        altNames: options.names.map((n) =>
          isIP(n) !== 0 ? { type: 7 as const, ip: n } : { type: 2 as const, value: n },
        ),
      },
    ]);
    const client =
      options.clientName === undefined ? undefined : await leaf(options.clientName, 'clientAuth');
    return {
      caCert: ca.cert,
      cert: `${serving.cert.trimEnd()}\n${ca.cert.trimEnd()}\n`,
      key: serving.private,
      ...(client === undefined ? {} : { client: { cert: client.cert, key: client.private } }),
    };
  } catch (err) {
    throw new TenantGuardError(
      'ERR_CERTS',
      `cannot generate certificates: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/** The file paths of a certificates directory. */
export function certificateFiles(dir: string): CertificateFiles {
  return { caFile: join(dir, CA_FILE), certFile: join(dir, CERT_FILE), keyFile: join(dir, KEY_FILE) };
}

/**
 * Writes a bundle into `dir` (created 0700 when missing): ca.pem and tls.crt 0644, tls.key
 * 0600; client.crt 0644 and client.key 0600 when it has a client certificate.
 * @throws TenantGuardError ERR_CERTS when a file cannot be written.
 */
export function writeCertificates(dir: string, bundle: CertificateBundle): CertificateFiles {
  const files: CertificateFiles = certificateFiles(dir);
  const writeKey = (path: string, key: string): void => {
    writeFileSync(path, key, { mode: 0o600 });
    chmodSync(path, 0o600); // an existing file keeps its mode on write
  };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeKey(files.keyFile, bundle.key);
    writeFileSync(files.certFile, bundle.cert, { mode: 0o644 });
    writeFileSync(files.caFile, bundle.caCert, { mode: 0o644 });
    if (bundle.client !== undefined) {
      files.client = { certFile: join(dir, CLIENT_CERT_FILE), keyFile: join(dir, CLIENT_KEY_FILE) };
      writeKey(files.client.keyFile, bundle.client.key);
      writeFileSync(files.client.certFile, bundle.client.cert, { mode: 0o644 });
    }
  } catch (err) {
    throw new TenantGuardError(
      'ERR_CERTS',
      `cannot write certificates to ${dir}: ${errnoCode(err) ?? 'error'}`,
      { cause: err },
    );
  }
  return files;
}

/** True when the certificate in `file` parses and is within its dates at `now()`. */
function isCurrent(file: string, now: Clock): boolean {
  try {
    checkCertificateDates(new X509Certificate(readFileSync(file)), file, now);
    return true;
  } catch {
    return false;
  }
}

/**
 * Uses `dir`'s tls.crt and tls.key when both exist and the certificate is within its dates at
 * `now()`, otherwise generates a new CA and serving certificate for `names` and writes them
 * (this directory is `serve`'s own, for local runs: a pair it made a year ago is replaced, so
 * `npm start` keeps starting).
 */
export async function ensureCertificates(
  dir: string,
  names: readonly string[] = DEFAULT_SERVING_NAMES,
  now: Clock = Date.now,
): Promise<CertificateFiles & { generated: boolean }> {
  const files = certificateFiles(dir);
  if (existsSync(files.certFile) && existsSync(files.keyFile) && isCurrent(files.certFile, now))
    return { ...files, generated: false };
  return { ...writeCertificates(dir, await generateCertificates({ names, now })), generated: true };
}
