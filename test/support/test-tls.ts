/**
 * A test CA and a serving certificate for 127.0.0.1 and localhost, made with `selfsigned`
 * for each run (never committed): for HTTPS servers that real TLS clients (oidc-verify, Node)
 * must trust through `-ca` / `ca`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { generate } from 'selfsigned';

export interface TestTls {
  caPem: string;
  /** The CA's private key, to sign more certificates (`makeClientCertificate`). */
  caKeyPem: string;
  certPem: string;
  keyPem: string;
  /** A file holding the CA bundle. */
  caFile: string;
  dir: string;
}

/** Makes a CA and a server certificate signed by it (EC P-256: quick to make). */
export async function makeTestTls(): Promise<TestTls> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + 24 * 3600_000);
  const ca = await generate([{ name: 'commonName', value: 'tenant-guard test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  const dir = mkdtempSync(join(tmpdir(), 'tg-tls-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  return { caPem: ca.cert, caKeyPem: ca.private, certPem: server.cert, keyPem: server.private, caFile, dir };
}

/** A client certificate (extKeyUsage clientAuth) signed by `ca`, with a Common Name and DNS subjectAltNames. */
export async function makeClientCertificate(
  ca: Pick<TestTls, 'caPem' | 'caKeyPem'>,
  commonName: string,
  dnsNames: readonly string[] = [],
): Promise<{ certPem: string; keyPem: string }> {
  const client = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + 24 * 3600_000),
    ca: { key: ca.caKeyPem, cert: ca.caPem },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', clientAuth: true },
      ...(dnsNames.length === 0
        ? []
        : [
            {
              name: 'subjectAltName' as const,
              altNames: dnsNames.map((value) => ({ type: 2 as const, value })),
            },
          ]),
    ],
  });
  return { certPem: client.cert, keyPem: client.private };
}

/** A serving pair and a client CA bundle written to files, as `serve --client-ca-file` reads them. */
export function clientCaFiles(
  serving: Pick<TestTls, 'certPem' | 'keyPem'>,
  clientCa: string,
): { certFile: string; keyFile: string; clientCaFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tg-client-ca-'));
  const files = {
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    clientCaFile: join(dir, 'client-ca.pem'),
  };
  writeFileSync(files.certFile, serving.certPem);
  writeFileSync(files.keyFile, serving.keyPem);
  writeFileSync(files.clientCaFile, clientCa);
  return files;
}

/** The body of one GET `/` on a new connection that presents `client`'s certificate. */
export function getWithCertificate(
  port: number,
  servingCa: string,
  client: { certPem: string; keyPem: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, ca: servingCa, agent: false, cert: client.certPem, key: client.keyPem },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(text));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
