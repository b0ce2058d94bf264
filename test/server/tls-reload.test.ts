import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { generateCertificates, type CertificateBundle } from '../../src/server/certificates.js';
import { createReloadingHttpsServer, type ReloadingHttpsServer } from '../../src/server/tls.js';
import { captureLogger } from '../tenancy/watch-support.js';

const NAMES = ['localhost', '127.0.0.1'];

function fingerprintOf(bundle: CertificateBundle): string {
  return new X509Certificate(bundle.cert).fingerprint256;
}

interface Answer {
  fingerprint: string;
  socket: TLSSocket;
}

/** One GET; resolves with the peer certificate's fingerprint. */
function get(port: number, ca: string[], agent: Agent | false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', ca, agent, servername: 'localhost', timeout: 5000 },
      (res) => {
        const socket = res.socket as TLSSocket;
        const fingerprint = socket.getPeerCertificate().fingerprint256;
        res.resume();
        res.on('end', () =>
          res.statusCode === 200
            ? resolve({ fingerprint, socket })
            : reject(new Error(`HTTP ${res.statusCode}`)),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('certificate-reloading HTTPS server', () => {
  let first: CertificateBundle;
  let second: CertificateBundle;
  const dirs: string[] = [];

  before(async () => {
    [first, second] = await Promise.all([
      generateCertificates({ names: NAMES, caCommonName: 'first CA' }),
      generateCertificates({ names: NAMES, caCommonName: 'second CA' }),
    ]);
  });
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function tempDir(): string {
    const d = mkdtempSync(join(tmpdir(), 'tg-tls-'));
    dirs.push(d);
    return d;
  }

  async function serve(
    dir: string,
    options: { watch?: boolean; pollIntervalMs?: number; now?: () => number } = {},
  ): Promise<{ tls: ReloadingHttpsServer; port: number; lines: Array<Record<string, unknown>> }> {
    const { logger, lines } = captureLogger();
    const tls = createReloadingHttpsServer(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      },
      { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
      logger,
      {
        debounceMs: 20,
        pollIntervalMs: options.pollIntervalMs ?? 200,
        ...(options.watch === undefined ? {} : { watch: options.watch }),
        ...(options.now === undefined ? {} : { now: options.now }),
      },
    );
    await new Promise<void>((resolve) => tls.server.listen(0, '127.0.0.1', resolve));
    return { tls, port: (tls.server.address() as AddressInfo).port, lines };
  }

  test('requests without pause while the files are replaced: none fails, kept-alive connections survive, new connections get the new certificate', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'tls.crt'), first.cert);
    writeFileSync(join(dir, 'tls.key'), first.key);
    const { tls, port, lines } = await serve(dir);
    const ca = [first.caCert, second.caCert];
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const failures: unknown[] = [];
    const fresh: string[] = [];
    const kept = new Set<TLSSocket>();
    let keptRequests = 0;
    let running = true;
    const freshLoop = async (): Promise<void> => {
      while (running) {
        try {
          fresh.push((await get(port, ca, false)).fingerprint);
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const keptLoop = async (): Promise<void> => {
      while (running) {
        try {
          kept.add((await get(port, ca, keepAlive)).socket);
          keptRequests += 1;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const loops = [freshLoop(), freshLoop(), keptLoop()];
    try {
      await waitFor('traffic on the first certificate', () => fresh.length >= 5 && keptRequests >= 5);
      assert.equal(tls.current().fingerprint256, fingerprintOf(first));

      // Half a rotation: the new certificate, with the old key. It must not be taken.
      writeFileSync(join(dir, 'tls.crt'), second.cert);
      await waitFor('the half rotation is seen', () =>
        lines.some((l) => l.level === 40 && String(l.msg).includes('is not the key of the certificate')),
      );
      assert.equal(
        tls.current().fingerprint256,
        fingerprintOf(first),
        'a certificate without its key is ignored',
      );
      const seenBeforeKey = fresh.length;
      writeFileSync(join(dir, 'tls.key'), second.key);

      await waitFor('a new connection presents the new certificate', () =>
        fresh.slice(seenBeforeKey).includes(fingerprintOf(second)),
      );
      const switchedAt = fresh.lastIndexOf(fingerprintOf(first));
      await waitFor('more traffic after the switch', () => fresh.length >= switchedAt + 10);
    } finally {
      running = false;
      await Promise.all(loops);
      keepAlive.destroy();
      await tls.close();
    }
    assert.deepEqual(failures, [], 'no request failed');
    const after = fresh.slice(fresh.indexOf(fingerprintOf(second)));
    assert.ok(
      after.every((f) => f === fingerprintOf(second)),
      'every connection after the switch presents the new certificate',
    );
    assert.ok(fresh.includes(fingerprintOf(first)));
    assert.equal(
      kept.size,
      1,
      `the kept-alive connection was never dropped (${keptRequests} requests on it)`,
    );
    assert.equal(tls.current().serialNumber, new X509Certificate(second.cert).serialNumber);
    assert.ok(lines.some((l) => String(l.msg).startsWith('now serving certificate')));
    assert.ok(!lines.some((l) => JSON.stringify(l).includes('PRIVATE KEY')), 'the key is never logged');
  });

  test('a Secret volume update (atomic ..data symlink swap), seen by polling alone', async () => {
    const dir = tempDir();
    const writeVersion = (name: string, bundle: CertificateBundle): void => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'tls.crt'), bundle.cert);
      writeFileSync(join(dir, name, 'tls.key'), bundle.key);
    };
    writeVersion('..2025_01', first);
    symlinkSync('..2025_01', join(dir, '..data'));
    symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
    symlinkSync('..data/tls.key', join(dir, 'tls.key'));
    const { tls, port } = await serve(dir, { watch: false, pollIntervalMs: 50 });
    try {
      const ca = [first.caCert, second.caCert];
      assert.equal((await get(port, ca, false)).fingerprint, fingerprintOf(first));
      writeVersion('..2025_02', second);
      symlinkSync('..2025_02', join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data')); // what the kubelet does
      await waitFor('switched', () => tls.current().fingerprint256 === fingerprintOf(second), 3000);
      assert.equal((await get(port, ca, false)).fingerprint, fingerprintOf(second));
    } finally {
      await tls.close();
    }
  });

  test('a broken pair at start is refused with ERR_TLS_RELOAD; a broken file later keeps the old certificate', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'tls.crt'), first.cert);
    writeFileSync(join(dir, 'tls.key'), second.key);
    assert.throws(
      () =>
        createReloadingHttpsServer(
          () => undefined,
          { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
          captureLogger().logger,
        ),
      { code: 'ERR_TLS_RELOAD' },
    );

    writeFileSync(join(dir, 'tls.key'), first.key);
    const { tls } = await serve(dir);
    try {
      writeFileSync(join(dir, 'tls.crt'), '-----BEGIN CERTIFICATE-----\ntruncated');
      assert.equal(tls.reload(), false);
      assert.equal(tls.current().fingerprint256, fingerprintOf(first));
      writeFileSync(join(dir, 'tls.crt'), second.cert);
      writeFileSync(join(dir, 'tls.key'), second.key);
      assert.equal(tls.reload(), true);
      assert.equal(tls.reload(), false, 'the same pair again is no change');
    } finally {
      await tls.close();
    }
  });

  test('a certificate outside its dates: refused at start naming its dates; on reload the pair in force stays, logged as an error and reported by refused()', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'tls.crt'), first.cert);
    writeFileSync(join(dir, 'tls.key'), first.key);
    const x509 = new X509Certificate(first.cert);
    const notBefore = Date.parse(x509.validFrom);
    const notAfter = Date.parse(x509.validTo);
    const start = (now: number) => () =>
      createReloadingHttpsServer(
        () => undefined,
        { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
        captureLogger().logger,
        { now: () => now, watch: false },
      );
    assert.throws(start(notAfter + 86_400_000), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_TLS_CERT_VALIDITY');
      assert.match(err.message, new RegExp(`tls\\.crt .*expired ${x509.validTo} \\(1 day ago\\)`));
      assert.match(err.message, /Secret tenant-guard-tls/, 'says what to renew');
      return true;
    });
    assert.throws(start(notBefore - 3_600_000), {
      code: 'ERR_TLS_CERT_VALIDITY',
      message: new RegExp(`is not valid before ${x509.validFrom} \\(in 1 hour\\)`),
    });

    // Served while valid; three days before its end it is named in a warning.
    let now = notAfter - 3 * 86_400_000;
    const { tls, lines } = await serve(dir, { watch: false, pollIntervalMs: 60_000, now: () => now });
    try {
      assert.ok(
        lines.some((l) => l.level === 40 && /expires .* \(in 3 days\)/.test(String(l.msg))),
        'an expiring certificate is named at start',
      );
      assert.equal(tls.refused(), undefined);
      // A short-lived pair, already over when it arrives: refused, the current pair stays.
      now = notAfter - 86_400_000;
      const short = await generateCertificates({
        names: NAMES,
        validityDays: 1,
        now: () => now - 2 * 86_400_000,
      });
      writeFileSync(join(dir, 'tls.crt'), short.cert);
      writeFileSync(join(dir, 'tls.key'), short.key);
      assert.equal(tls.reload(), false);
      assert.equal(tls.current().fingerprint256, fingerprintOf(first));
      assert.match(tls.refused() ?? '', /expired/);
      const refusal = lines.filter((l) => l.code === 'ERR_TLS_CERT_VALIDITY' && l.level === 50);
      assert.equal(refusal.length, 1, 'logged once, as an error');
      assert.match(String(refusal[0]?.msg), /keeping the current certificate \(valid to .*\): .*expired/);
      assert.equal(tls.reload(), false);
      assert.equal(lines.filter((l) => l.level === 50).length, 1, 'not again for the same files');
      // A pair valid now is taken, and nothing is refused any more.
      writeFileSync(join(dir, 'tls.crt'), second.cert);
      writeFileSync(join(dir, 'tls.key'), second.key);
      now = Date.now();
      assert.equal(tls.reload(), true);
      assert.equal(tls.refused(), undefined);
    } finally {
      await tls.close();
    }
  });
});
