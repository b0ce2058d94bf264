import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import request from 'supertest';
import { NOT_SYNCED_MESSAGE } from '../../src/admission/response.js';
import { DEFAULT_SETTINGS } from '../../src/settings.js';
import { createWebhookApp } from '../../src/server/webhook-app.js';
import { WatchedRegistry } from '../../src/tenancy/watch-source.js';
import { admissionReview, argoKind } from '../support/policy-fixtures.js';
import { TestApiServer } from '../support/test-api-server.js';
import { captureLogger, TENANTS, tenantDoc } from './watch-support.js';

function applicationReview(uid: string): Record<string, unknown> {
  const app = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'web', namespace: 'team-a' },
    spec: {
      project: 'team-a',
      destination: { name: 'team-a-dev', namespace: 'web' },
      source: { repoURL: 'https://git.example.com/web.git', path: '.' },
    },
  };
  return admissionReview({
    uid,
    kind: argoKind('Application'),
    resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'applications' },
    requestKind: argoKind('Application'),
    requestResource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'applications' },
    name: 'web',
    namespace: 'team-a',
    operation: 'CREATE',
    userInfo: { username: 'alice', groups: ['team-a-admins', 'system:authenticated'] },
    object: app,
    oldObject: null,
    dryRun: false,
    options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
  });
}

describe('the webhook on a watched registry', () => {
  let api: TestApiServer;
  let watched: WatchedRegistry;

  before(async () => {
    api = await TestApiServer.start();
    api.registerResource(TENANTS);
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
  });
  after(async () => {
    await watched.stop();
    await api.close();
  });

  test('before the first list: /readyz 503 and admission denied "registry not synced"; after it: ready and decided by policy', async () => {
    // The first list answers late, so the webhook is up before the registry.
    api.inject({ verb: 'list', resource: 'tenants' }, { delayMs: 400 }, 1);
    const { logger } = captureLogger();
    watched = new WatchedRegistry({
      kubeConfig: api.kubeConfig(),
      logger,
      argocdNamespace: 'argocd',
      writeStatus: false,
    });
    const app = createWebhookApp({
      registry: watched,
      settings: { ...DEFAULT_SETTINGS },
      logger,
      audit: { write: () => undefined },
      metricsRegistry: new Registry(),
    });
    watched.start();

    const notReady = await request(app).get('/readyz');
    assert.equal(notReady.status, 503);
    assert.deepEqual(notReady.body.waitingFor, ['tenant-registry']);
    const denied = await request(app).post('/validate').send(applicationReview('uid-1'));
    assert.equal(denied.status, 200);
    assert.equal(denied.body.response.uid, 'uid-1');
    assert.equal(denied.body.response.allowed, false);
    assert.equal(denied.body.response.status.code, 503);
    assert.equal(denied.body.response.status.message, NOT_SYNCED_MESSAGE);
    assert.match(NOT_SYNCED_MESSAGE, /registry not synced/);

    await watched.whenSynced();
    assert.equal((await request(app).get('/readyz')).status, 200);
    const decided = await request(app).post('/validate').send(applicationReview('uid-2'));
    assert.equal(decided.body.response.uid, 'uid-2');
    assert.notEqual(
      decided.body.response.status?.code,
      503,
      'decided by the policy, not refused as not synced',
    );
  });
});
