import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Command } from 'commander';
import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import type { AuditRecord } from '../../src/audit/record.js';
import { createServer } from 'node:net';
import { brokerComponent, brokerIssuer, issuerWarning } from '../../src/broker/serve-component.js';
import { addComponentFlags } from '../../src/cli/serve.js';
import { startServe } from '../../src/server/start-serve.js';
import { healthRouter } from '../../src/server/health.js';
import { resolveSettings } from '../../src/settings.js';
import { callServe, REPO_ROOT, runCli, testIo } from '../cli/cli-support.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { serviceAccountToken } from '../support/caller-tokens.js';
import { TestApiServer } from '../support/test-api-server.js';
import { writeKubeconfig } from '../support/test-api-setup.js';
import { recordingLogger, testRegistry } from './helpers.js';

describe('broker as a serve component', () => {
  test('adds its flags once (skipping one already defined) and parses them', () => {
    const command = new Command('serve').exitOverride();
    command.option('--kubeconfig <file>', 'defined by another component');
    addComponentFlags(command, brokerComponent.flags ?? []);
    const longs = command.options.map((o) => o.long);
    assert.equal(longs.filter((l) => l === '--kubeconfig').length, 1);
    for (const f of [
      '--key-dir',
      '--key-secret',
      '--caller-audience',
      '--signing-alg',
      '--key-rotation-period',
      '--key-publish-ahead',
      '--key-retire-margin',
      '--allow-unbound-callers',
    ]) {
      assert.ok(longs.includes(f), f);
    }
    assert.match(
      command.options.find((o) => o.long === '--signing-alg')?.description ?? '',
      /env TG_SIGNING_ALG/,
    );
    command.parse(['--signing-alg', 'ES256', '--allow-unbound-callers'], { from: 'user' });
    assert.equal(command.opts().signingAlg, 'ES256');
    assert.equal(command.opts().allowUnboundCallers, true);
  });

  test('starts from serve options: routes mounted, audit records to the sink, metrics on the registry', async () => {
    const api = await TestApiServer.start();
    const kcFile = writeKubeconfig(api, mkdtempSync(join(tmpdir(), 'tg-kc-')), { mode: 0o600 });
    const audit: AuditRecord[] = [];
    const metricsRegistry = new Registry();
    const settings = resolveSettings({ issuerUrl: 'https://broker.example.com' });
    const contribution = await brokerComponent.start({
      options: { kubeconfig: kcFile, signingAlg: 'RS256', reloadInterval: '1s' },
      env: {},
      settings,
      logger: recordingLogger().logger,
      audit: { write: (r) => audit.push(r) },
      metricsRegistry,
      registry: testRegistry(),
    });
    try {
      const app = express();
      for (const m of contribution.mounts ?? []) app.use(m.path, m.router);
      const caller = serviceAccountToken();
      api.addToken(caller.token, caller.known);
      const ok = await request(app)
        .get('/api/get-target-token')
        .query({ targetName: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' })
        .set('Authorization', `Bearer ${caller.token}`);
      assert.equal(ok.status, 200);
      const no = await request(app)
        .get('/api/get-target-token')
        .query({ targetName: 'nope', server: 'https://nope.example.com' })
        .set('Authorization', `Bearer ${caller.token}`);
      assert.equal(no.status, 404);
      assert.deepEqual(
        audit.map((r) => [r.event, 'target' in r ? r.target : '']),
        [
          ['issued', 'k8s-team-a-dev'],
          ['refused', 'nope'],
        ],
      );
      const text = await metricsRegistry.metrics();
      assert.match(text, /tenant_guard_broker_token_requests_total\{tenant="team-a",result="issued"\} 1/);
      assert.match(
        text,
        /tenant_guard_broker_token_requests_total\{tenant="none",result="ERR_BROKER_UNKNOWN_TARGET"\} 1/,
      );
      assert.match(text, /tenant_guard_broker_token_reviews_total\{outcome="authenticated"\} 1/);
      assert.match(text, /tenant_guard_broker_signing_keys\{state="active"\} 1/);
    } finally {
      await contribution.close?.();
      await api.close();
      rmSync(join(kcFile, '..'), { recursive: true, force: true });
    }
  });

  test('the key directory unusable at start: /readyz 503 naming the key ring and why', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tg-kd-'));
    writeFileSync(join(root, 'file'), 'not a directory');
    const api = await TestApiServer.start();
    const contribution = await brokerComponent.start({
      options: { keyDir: join(root, 'file', 'keys'), kubeconfig: undefined, port: '8443' },
      env: {},
      settings: resolveSettings({}),
      logger: recordingLogger().logger,
      audit: { write: () => undefined },
      metricsRegistry: new Registry(),
      registry: testRegistry(),
    });
    try {
      const app = express();
      app.use(healthRouter(contribution.readiness ?? []));
      const ready = await request(app).get('/readyz');
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.body.waitingFor, ['key-ring']);
      assert.match(
        String(ready.body.reasons['key-ring']),
        /has not been read yet: cannot (read|write) key directory .*ENOTDIR/,
      );
    } finally {
      await contribution.close?.();
      await api.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a broker that can sign is ready', async () => {
    const contribution = await brokerComponent.start({
      options: { port: '8443' },
      env: {},
      settings: resolveSettings({}),
      logger: recordingLogger().logger,
      audit: { write: () => undefined },
      metricsRegistry: new Registry(),
      registry: testRegistry(),
    });
    try {
      const app = express();
      app.use(healthRouter(contribution.readiness ?? []));
      assert.equal((await request(app).get('/readyz')).status, 200);
    } finally {
      await contribution.close?.();
    }
  });
});

describe('the default issuer follows --port and --host; --issuer and TG_ISSUER win', () => {
  const settings = resolveSettings({});
  const cases: Array<{
    name: string;
    options: Record<string, unknown>;
    env?: NodeJS.ProcessEnv;
    issuer: string;
  }> = [
    { name: 'defaults', options: {}, issuer: 'https://127.0.0.1:8443' },
    { name: '--port 9555', options: { port: '9555' }, issuer: 'https://127.0.0.1:9555' },
    { name: 'TG_PORT', options: {}, env: { TG_PORT: '9556' }, issuer: 'https://127.0.0.1:9556' },
    {
      name: '--host 0.0.0.0 with --issuer: the issuer given',
      options: { host: '0.0.0.0', port: '9557', issuer: 'https://broker.example.org/b' },
      issuer: 'https://broker.example.org/b',
    },
    {
      name: '--host localhost',
      options: { host: 'localhost', port: '9558' },
      issuer: 'https://localhost:9558',
    },
    { name: '--host ::1', options: { host: '::1', port: '9559' }, issuer: 'https://[::1]:9559' },
    {
      name: '--issuer wins',
      options: { port: '9555', issuer: 'https://broker.example.com' },
      issuer: 'https://broker.example.com',
    },
    {
      name: 'TG_ISSUER wins',
      options: { port: '9555' },
      env: { TG_ISSUER: 'https://broker.example.com/x' },
      issuer: 'https://broker.example.com/x',
    },
    {
      name: 'port 0 (chosen when listening): the default setting',
      options: { port: '0' },
      issuer: 'https://127.0.0.1:8443',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const env = c.env ?? {};
      const s =
        c.options.issuer === undefined && env.TG_ISSUER === undefined
          ? settings
          : resolveSettings({ issuerUrl: String(c.options.issuer ?? env.TG_ISSUER) });
      assert.equal(brokerIssuer({ options: c.options, env, settings: s }), c.issuer);
    });
  }

  // Reachable from other hosts without an issuer: it would sign as 127.0.0.1, which remote
  // API servers cannot fetch discovery from (review s12d F-F).
  const refused: Array<{
    name: string;
    options: Record<string, unknown>;
    env?: NodeJS.ProcessEnv;
    why: RegExp;
  }> = [
    { name: '--host 0.0.0.0', options: { host: '0.0.0.0', port: '9557' }, why: /it listens on 0\.0\.0\.0/ },
    { name: 'TG_HOST ::', options: {}, env: { TG_HOST: '::' }, why: /it listens on ::/ },
    { name: '--host 10.1.2.3', options: { host: '10.1.2.3' }, why: /it listens on 10\.1\.2\.3/ },
    {
      name: 'in a cluster, on loopback',
      options: {},
      env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' },
      why: /it runs in a Kubernetes cluster \(KUBERNETES_SERVICE_HOST is set\)/,
    },
  ];
  for (const c of refused)
    test(`no issuer, reachable from other hosts: refused (${c.name})`, () => {
      assert.throws(
        () => brokerIssuer({ options: c.options, env: c.env ?? {}, settings }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'ERR_SETTINGS_INVALID');
          assert.match(err.message, /^the broker needs --issuer \(TG_ISSUER\) because /);
          assert.match(err.message, c.why);
          assert.match(err.message, /would sign as https:\/\/127\.0\.0\.1:\d+/);
          return true;
        },
      );
    });

  test('an empty TG_ISSUER is refused as every empty setting is, never read as "no issuer"', () => {
    assert.throws(
      () =>
        brokerIssuer({
          options: { host: '0.0.0.0' },
          env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', TG_ISSUER: '' },
          settings,
        }),
      { code: 'ERR_USAGE', message: /^TG_ISSUER is empty: leave it unset/ },
    );
  });

  test('an issuer other hosts cannot use, on a broker they reach: a warning naming it', () => {
    const cluster = { KUBERNETES_SERVICE_HOST: '10.96.0.1' };
    assert.match(
      issuerWarning('https://tenant-guard.example.com', '0.0.0.0', cluster) ?? '',
      /--issuer https:\/\/tenant-guard\.example\.com is the install's placeholder: .*Set TG_ISSUER/,
    );
    assert.match(issuerWarning('https://127.0.0.1:8443', '0.0.0.0', {}) ?? '', /is this host/);
    assert.equal(issuerWarning('https://broker.corp.internal/b', '0.0.0.0', cluster), undefined);
    assert.equal(issuerWarning('https://127.0.0.1:8443', '127.0.0.1', {}), undefined, 'a local run');
  });

  test('serve --host 0.0.0.0 --components broker without --issuer does not start: exit 2', async () => {
    const out = await runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--components', 'broker'], {
      cwd: REPO_ROOT,
    });
    assert.equal(out.code, 2);
    assert.match(
      out.stderr,
      /the broker needs --issuer \(TG_ISSUER\) because it listens on 0\.0\.0\.0.*\(ERR_SETTINGS_INVALID\)/,
    );
  });

  test("serve --port N: the discovery document's jwks_uri answers on that port", async () => {
    const port = await new Promise<number>((resolvePort) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolvePort(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    const certsDir = mkdtempSync(join(tmpdir(), 'tg-certs-'));
    const handle = await startServe(
      { port: String(port), certsDir, components: 'webhook,broker' },
      testIo(),
      { logger: capturedLogger('warn').logger, components: [brokerComponent] },
    );
    try {
      const ca = readFileSync(join(certsDir, 'ca.pem'), 'utf8');
      const discovery = JSON.parse(
        (await callServe(handle.url, ca, '/.well-known/openid-configuration')).body,
      ) as { issuer: string; jwks_uri: string };
      assert.equal(discovery.issuer, `https://127.0.0.1:${port}`);
      const jwksUrl = new URL(discovery.jwks_uri);
      const jwks = await callServe(jwksUrl.origin, ca, jwksUrl.pathname);
      assert.equal(jwks.status, 200);
      assert.equal((JSON.parse(jwks.body) as { keys: unknown[] }).keys.length, 1);
      assert.equal((await callServe(handle.url, ca, '/readyz')).status, 200);
    } finally {
      await handle.close(0);
      rmSync(certsDir, { recursive: true, force: true });
    }
  });
});
