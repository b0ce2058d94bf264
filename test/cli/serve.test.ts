import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Router } from 'express';
import type { ServeComponent } from '../../src/server/component.js';
import { startServe } from '../../src/server/start-serve.js';
import { isTenantGuardError } from '../../src/errors.js';
import { generateCertificates } from '../../src/server/certificates.js';
import { capturedLogger, reviewBody } from '../server/webhook-app-support.js';
import { callServe, runCli, tempDir, testIo } from './cli-support.js';

describe('certificates', () => {
  test('a CA and a serving certificate signed by it, for DNS names and IPs', async () => {
    const bundle = await generateCertificates({
      names: ['localhost', '127.0.0.1', 'tenant-guard-webhook.tenant-guard.svc'],
    });
    const ca = new X509Certificate(bundle.caCert);
    const leaf = new X509Certificate(bundle.cert);
    assert.equal(ca.ca, true);
    assert.equal(leaf.ca, false);
    assert.ok(leaf.verify(ca.publicKey), 'signed by the CA');
    assert.ok(leaf.checkIssued(ca));
    assert.equal(
      leaf.checkHost('tenant-guard-webhook.tenant-guard.svc'),
      'tenant-guard-webhook.tenant-guard.svc',
    );
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(leaf.checkHost('evil.example.com'), undefined);
    assert.ok(bundle.cert.includes(bundle.caCert.trim()), 'tls.crt carries the chain');
    assert.match(bundle.key, /BEGIN PRIVATE KEY/);
  });

  test('no name is ERR_CERTS', async () => {
    await assert.rejects(generateCertificates({ names: [] }), (err: unknown) =>
      isTenantGuardError(err, 'ERR_CERTS'),
    );
  });
});

describe('tenant-guard serve', () => {
  test('generates certificates when missing, serves the webhook over TLS, prints how to try it, closes', async () => {
    const certsDir = join(tempDir(), 'certs');
    const { logger, log } = capturedLogger('info');
    const io = testIo();
    let closed = false;
    const component: ServeComponent = {
      name: 'echo',
      start: () => {
        const router = Router();
        router.get('/api/echo', (_req, res) => void res.json({ echo: true }));
        return {
          mounts: [{ path: '/', router }],
          readiness: [{ name: 'echo', ready: () => true }],
          close: () => {
            closed = true;
          },
        };
      },
    };
    const handle = await startServe({ port: '0', certsDir }, io, { logger, components: [component] });
    try {
      for (const f of ['ca.pem', 'tls.crt', 'tls.key']) assert.ok(existsSync(join(certsDir, f)), f);
      assert.equal(statSync(join(certsDir, 'tls.key')).mode & 0o777, 0o600);
      const ca = readFileSync(join(certsDir, 'ca.pem'), 'utf8');
      assert.match(handle.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await callServe(handle.url, ca, '/healthz')).status, 200);
      assert.equal((await callServe(handle.url, ca, '/readyz')).status, 200);
      assert.deepEqual(JSON.parse((await callServe(handle.url, ca, '/api/echo')).body), { echo: true });
      const validate = await callServe(handle.url, ca, '/validate', { body: reviewBody() });
      assert.equal(validate.status, 200);
      const review = JSON.parse(validate.body) as { response: { uid: string; allowed: boolean } };
      assert.equal(review.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
      assert.equal(typeof review.response.allowed, 'boolean');
      assert.match(
        (await callServe(handle.url, ca, '/metrics')).body,
        /tenant_guard_admission_requests_total\{endpoint="validate"/,
      );
      const banner = io.err();
      assert.match(
        banner,
        new RegExp(
          `tenant-guard serving webhook and echo on ${handle.url.replaceAll('.', '\\.')} \\(2 tenants from webhook-config/examples/tenants\\.yaml\\)`,
        ),
      );
      assert.match(banner, /\(generated\)/);
      assert.match(
        banner,
        new RegExp(`curl --cacert \\S*ca\\.pem ${handle.url.replaceAll('.', '\\.')}/healthz`),
      );
      assert.match(banner, /tenant-guard check -f webhook-config\/examples\/applicationset-allowed\.yaml/);
      assert.ok(log.records().some((r) => r.msg === 'listening'));
    } finally {
      await handle.close(1000);
    }
    assert.equal(closed, true, 'components are closed on shutdown');
    assert.equal(handle.server.listening, false);

    // A second start reuses the certificates it finds.
    const before = readFileSync(join(certsDir, 'tls.crt'), 'utf8');
    const again = await startServe({ port: '0', certsDir }, testIo(), { logger });
    await again.close(1000);
    assert.equal(readFileSync(join(certsDir, 'tls.crt'), 'utf8'), before);
  });

  test('--tls-cert and --tls-key are used as given', async () => {
    const dir = tempDir();
    const first = await startServe({ port: '0', certsDir: dir }, testIo(), {
      logger: capturedLogger().logger,
    });
    await first.close(1000);
    const io = testIo();
    const handle = await startServe(
      {
        port: '0',
        tlsCert: join(dir, 'tls.crt'),
        tlsKey: join(dir, 'tls.key'),
        certsDir: join(dir, 'unused'),
      },
      io,
      { logger: capturedLogger().logger },
    );
    try {
      assert.equal(
        (await callServe(handle.url, readFileSync(join(dir, 'ca.pem'), 'utf8'), '/healthz')).status,
        200,
      );
      assert.equal(existsSync(join(dir, 'unused')), false);
      assert.match(io.err(), /curl --cacert <your CA file>/);
    } finally {
      await handle.close(1000);
    }
  });

  const bad: Array<[string, Record<string, unknown>, NodeJS.ProcessEnv, RegExp]> = [
    ['--tls-cert without --tls-key', { tlsCert: 'a.crt' }, {}, /--tls-cert and --tls-key go together/],
    ['a port that is no port', { port: '99999' }, {}, /--port "99999" is not a port number/],
    ['TG_PORT that is no port', {}, { TG_PORT: 'https' }, /--port "https"/],
    [
      'an unknown component',
      { components: 'webhook,proxy' },
      {},
      /--components "webhook,proxy": use a comma-separated list of webhook/,
    ],
    ['no component', {}, { TG_COMPONENTS: ' , ' }, /--components/],
    [
      '--watch-tenants without a Kubernetes API',
      { watchTenants: true },
      {},
      /--watch-tenants needs a Kubernetes API/,
    ],
    [
      'a drain window that is no number',
      { drainSeconds: 'soon' },
      {},
      /--drain-seconds "soon" is not a number of seconds/,
    ],
    ['a negative TG_DRAIN_SECONDS', {}, { TG_DRAIN_SECONDS: '-1' }, /--drain-seconds "-1"/],
    [
      'a TG_WATCH_TENANTS that is no boolean',
      {},
      { TG_WATCH_TENANTS: 'ture' },
      /TG_WATCH_TENANTS "ture" is not a boolean/,
    ],
  ];
  for (const [name, raw, env, message] of bad) {
    test(`${name} is ERR_USAGE`, async () => {
      await assert.rejects(
        startServe(raw, testIo({ env }), { logger: capturedLogger().logger }),
        (err: unknown) => isTenantGuardError(err, 'ERR_USAGE') && message.test(err.message),
      );
    });
  }

  test('--components picks what is served: a broker-only process has no admission endpoints', async () => {
    const dir = tempDir();
    const echo: ServeComponent = {
      name: 'echo',
      start: () => {
        const router = Router();
        router.get('/api/echo', (_req, res) => void res.json({ echo: true }));
        return { mounts: [{ path: '/', router }] };
      },
    };
    const onlyEcho = await startServe({ port: '0', certsDir: dir, components: 'echo' }, testIo(), {
      logger: capturedLogger().logger,
      components: [echo],
    });
    const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    try {
      assert.equal((await callServe(onlyEcho.url, ca, '/validate', { body: reviewBody() })).status, 404);
      assert.equal((await callServe(onlyEcho.url, ca, '/api/echo')).status, 200);
    } finally {
      await onlyEcho.close(1000);
    }
    const onlyWebhook = await startServe(
      { port: '0', certsDir: dir },
      testIo({ env: { TG_COMPONENTS: 'webhook' } }),
      { logger: capturedLogger().logger, components: [echo] },
    );
    try {
      assert.equal((await callServe(onlyWebhook.url, ca, '/validate', { body: reviewBody() })).status, 200);
      assert.equal((await callServe(onlyWebhook.url, ca, '/api/echo')).status, 404);
    } finally {
      await onlyWebhook.close(1000);
    }
  });

  test('drain: /readyz 503 and `Connection: close` at once, requests still answered until the window ends, then closed', async () => {
    const dir = tempDir();
    const handle = await startServe({ port: '0', certsDir: dir }, testIo(), {
      logger: capturedLogger().logger,
    });
    const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const get = (path: string) =>
      new Promise<{ status: number; connection: string | undefined; body: string }>((ok, fail) => {
        const req = httpsRequest(`${handle.url}${path}`, { ca, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            ok({
              status: res.statusCode ?? 0,
              connection: res.headers.connection,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        });
        req.on('error', fail);
        req.end();
      });
    assert.equal((await get('/readyz')).status, 200);
    assert.equal(handle.draining, false);
    let endWindow: () => void = () => undefined;
    const cut = new Promise<void>((ok) => {
      endWindow = ok;
    });
    const drained = handle.drain({ drainMs: 600_000, cut });
    assert.equal(handle.draining, true);
    const ready = await get('/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(JSON.parse(ready.body), { status: 'not ready', waitingFor: ['not-draining'] });
    const health = await get('/healthz');
    assert.equal(health.status, 200, 'new connections are still served');
    assert.equal(health.connection, 'close', 'no keep-alive while draining');
    assert.equal((await callServe(handle.url, ca, '/validate', { body: reviewBody() })).status, 200);
    endWindow();
    await drained;
    assert.equal(handle.server.listening, false);
  });

  test('an invalid tenants file stops serve with exit 2 before listening', async () => {
    const r = await runCli([
      'serve',
      '--tenants',
      '/nonexistent/tenants.yaml',
      '--port',
      '0',
      '--certs-dir',
      tempDir(),
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read tenants file \/nonexistent\/tenants\.yaml/);
    // The lines the real process writes to fd 1 went to the io's log sink, not the test runner's stdout.
    const logged = r.logs
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { msg?: string });
    assert.ok(
      logged.some((l) => l.msg?.startsWith('settings in effect') === true),
      `settings line not captured: ${r.logs}`,
    );
    assert.equal(r.stdout, '');
  });
});
