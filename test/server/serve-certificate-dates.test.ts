/**
 * `serve` and the dates of its serving certificate (review s12d F-C): a pair no client can
 * verify is refused at start, a refused reload shows in /metrics, and the pair `serve` made
 * for local runs is made again once it is over, so `npm start` keeps starting. The clock is
 * injected; certificates are generated for each run.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { generateCertificates } from '../../src/server/certificates.js';
import { startServe } from '../../src/server/start-serve.js';
import { callServe, runCli, tempDir, testIo } from '../cli/cli-support.js';
import { eventually } from '../tenancy/watch-support.js';
import { capturedLogger } from './webhook-app-support.js';

const DAY = 86_400_000;
const NAMES = ['localhost', '127.0.0.1'];

/** A pair in a directory of its own, valid for `days` from `from` (ms). */
async function pairIn(dir: string, from: number, days: number): Promise<{ ca: string; notAfter: number }> {
  const bundle = await generateCertificates({ names: NAMES, validityDays: days, now: () => from });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tls.crt'), bundle.cert);
  writeFileSync(join(dir, 'tls.key'), bundle.key);
  writeFileSync(join(dir, 'ca.pem'), bundle.caCert);
  return { ca: bundle.caCert, notAfter: Date.parse(new X509Certificate(bundle.cert).validTo) };
}

describe('serve: the serving certificate outside its dates', () => {
  test('an expired --tls-cert stops serve at start, exit 2 naming the file and what to renew', async () => {
    const dir = tempDir();
    await pairIn(dir, Date.now() - 10 * DAY, 2);
    const out = await runCli([
      'serve',
      '--port',
      '0',
      '--components',
      'webhook',
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
    ]);
    assert.equal(out.code, 2, out.stderr);
    assert.match(
      out.stderr,
      /tls\.crt .* expired .* ago\): no client can verify it; renew .*\(ERR_TLS_CERT_VALIDITY\)/,
    );
  });

  test('a refused reload keeps the pair in force and sets tenant_guard_tls_certificate_refused', async () => {
    const dir = tempDir();
    const served = await pairIn(join(dir, 'tls'), Date.now(), 30);
    let now = Date.now();
    const { logger, log } = capturedLogger('info');
    const handle = await startServe(
      {
        port: '0',
        components: 'webhook',
        tlsCert: join(dir, 'tls', 'tls.crt'),
        tlsKey: join(dir, 'tls', 'tls.key'),
      },
      testIo(),
      { logger, now: () => now },
    );
    try {
      const refused = async (): Promise<string | undefined> =>
        /^tenant_guard_tls_certificate_refused (\S+)$/m.exec(
          (await callServe(handle.url, served.ca, '/metrics')).body,
        )?.[1];
      assert.equal(await refused(), '0');
      // The clock moves past a new pair's end before it lands: it is refused (the watch reads it).
      now = Date.now() + 5 * DAY;
      await pairIn(join(dir, 'next'), Date.now(), 2);
      writeFileSync(join(dir, 'tls', 'tls.key'), readFileSync(join(dir, 'next', 'tls.key')));
      writeFileSync(join(dir, 'tls', 'tls.crt'), readFileSync(join(dir, 'next', 'tls.crt')));
      await eventually(
        'the refusal is logged',
        () => log.records().some((r) => r.code === 'ERR_TLS_CERT_VALIDITY' && r.level === 50),
        20_000,
      );
      assert.equal(await refused(), '1');
      assert.equal((await callServe(handle.url, served.ca, '/healthz')).status, 200, 'still served');
    } finally {
      await handle.close(0);
    }
  });

  test('the local pair serve made (--certs-dir) is made again once it is over: npm start keeps starting', async () => {
    const cwd = tempDir();
    const old = await pairIn(join(cwd, 'certs'), Date.now() - 400 * DAY, 365);
    const { logger } = capturedLogger('error');
    const io = testIo();
    const handle = await startServe({ port: '0', components: 'webhook', certsDir: join(cwd, 'certs') }, io, {
      logger,
    });
    try {
      const ca = readFileSync(join(cwd, 'certs', 'ca.pem'), 'utf8');
      assert.notEqual(ca, old.ca, 'a new CA');
      assert.equal((await callServe(handle.url, ca, '/healthz')).status, 200);
      assert.match(io.err(), /\(generated\)/);
    } finally {
      await handle.close(0);
    }
  });
});
