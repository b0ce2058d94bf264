import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Command } from 'commander';
import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import type { AuditRecord } from '../../src/audit/record.js';
import { brokerComponent } from '../../src/broker/serve-component.js';
import { resolveSettings } from '../../src/settings.js';
import { serviceAccountToken } from '../support/caller-tokens.js';
import { TestApiServer } from '../support/test-api-server.js';
import { recordingLogger, testRegistry } from './helpers.js';

describe('broker as a serve component', () => {
  test('adds its flags once (skipping one already defined) and parses them', () => {
    const command = new Command('serve').exitOverride();
    command.option('--kubeconfig <file>', 'defined by another component');
    brokerComponent.addOptions?.(command);
    const longs = command.options.map((o) => o.long);
    assert.equal(longs.filter((l) => l === '--kubeconfig').length, 1);
    for (const f of ['--key-dir', '--key-secret', '--caller-audience', '--signing-alg', '--key-rotation-period', '--key-publish-ahead', '--key-retire-margin', '--allow-unbound-callers']) {
      assert.ok(longs.includes(f), f);
    }
    assert.match(command.options.find((o) => o.long === '--signing-alg')?.description ?? '', /env TG_SIGNING_ALG/);
    command.parse(['--signing-alg', 'ES256', '--allow-unbound-callers'], { from: 'user' });
    assert.equal(command.opts().signingAlg, 'ES256');
    assert.equal(command.opts().allowUnboundCallers, true);
  });

  test('starts from serve options: routes mounted, audit records to the sink, metrics on the registry', async () => {
    const api = await TestApiServer.start();
    const kcFile = join(mkdtempSync(join(tmpdir(), 'tg-kc-')), 'kubeconfig.yaml');
    writeFileSync(kcFile, api.kubeConfig().exportConfig(), { mode: 0o600 });
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
      const ok = await request(app).get('/api/get-target-token').query({ targetName: 'k8s-team-a-dev' }).set('Authorization', `Bearer ${caller.token}`);
      assert.equal(ok.status, 200);
      const no = await request(app).get('/api/get-target-token').query({ targetName: 'nope' }).set('Authorization', `Bearer ${caller.token}`);
      assert.equal(no.status, 404);
      assert.deepEqual(audit.map((r) => [r.event, 'target' in r ? r.target : '']), [['issued', 'k8s-team-a-dev'], ['refused', 'nope']]);
      const text = await metricsRegistry.metrics();
      assert.match(text, /tenant_guard_broker_token_requests_total\{tenant="team-a",result="issued"\} 1/);
      assert.match(text, /tenant_guard_broker_token_requests_total\{tenant="none",result="ERR_BROKER_UNKNOWN_TARGET"\} 1/);
      assert.match(text, /tenant_guard_broker_token_reviews_total\{outcome="authenticated"\} 1/);
      assert.match(text, /tenant_guard_broker_signing_keys\{state="active"\} 1/);
    } finally {
      await contribution.close?.();
      await api.close();
      rmSync(join(kcFile, '..'), { recursive: true, force: true });
    }
  });
});
