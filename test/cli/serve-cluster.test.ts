/**
 * `tenant-guard serve` as the cluster install runs it: `--watch-tenants` against the test API
 * server (the registry fills from Tenant objects and follows their changes), and the real
 * broker component answering a token request after a TokenReview, all through one process's
 * HTTPS server.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { brokerComponent } from '../../src/broker/serve-component.js';
import { startServe, type ServeHandle } from '../../src/server/start-serve.js';
import { capturedLogger, reviewBody } from '../server/webhook-app-support.js';
import { serviceAccountToken } from '../support/caller-tokens.js';
import { TestApiServer } from '../support/test-api-server.js';
import { seedOneClusterTenant, writeKubeconfig } from '../support/test-api-setup.js';
import { TENANTS, tenantDoc } from '../tenancy/watch-support.js';
import { callServe, tempDir, testIo } from './cli-support.js';

describe('tenant-guard serve --watch-tenants with the broker', () => {
  let api: TestApiServer;
  let handle: ServeHandle;
  let ca: string;

  before(async () => {
    api = await TestApiServer.start();
    seedOneClusterTenant(api);
    const dir = tempDir();
    const kubeconfig = writeKubeconfig(api, dir);
    handle = await startServe(
      {
        port: '0',
        certsDir: join(dir, 'certs'),
        watchTenants: true,
        kubeconfig,
        issuer: 'https://127.0.0.1:1',
      },
      testIo(),
      { logger: capturedLogger('warn').logger, components: [brokerComponent] },
    );
    ca = readFileSync(join(dir, 'certs', 'ca.pem'), 'utf8');
  });

  after(async () => {
    await handle?.close(1000);
    await api?.close();
  });

  test('the registry comes from the watch and follows a new Tenant', async () => {
    let ready = 0;
    const start = Date.now();
    while (Date.now() - start < 3000 && ready !== 200)
      ready = (await callServe(handle.url, ca, '/readyz')).status;
    assert.equal(ready, 200);
    const forB = reviewBody({
      kind: { group: 'argoproj.io', version: 'v1alpha1', kind: 'Application' },
      resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'applications' },
      namespace: 'team-b',
      userInfo: { username: 'bob', groups: ['team-b-admins'] },
      object: {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'guestbook', namespace: 'team-b' },
        spec: {
          project: 'team-b',
          destination: { name: 'team-b-dev', namespace: 'guestbook' },
          source: { repoURL: 'https://example.com/r.git', path: '.' },
        },
      },
    });
    const before = JSON.parse((await callServe(handle.url, ca, '/validate', { body: forB })).body) as {
      response: { allowed: boolean };
    };
    assert.equal(before.response.allowed, false, 'team-b is not a tenant yet');
    api.seed(TENANTS, undefined, tenantDoc('team-b'));
    let allowed = false;
    while (Date.now() - start < 5000 && !allowed) {
      allowed = (
        JSON.parse((await callServe(handle.url, ca, '/validate', { body: forB })).body) as {
          response: { allowed: boolean };
        }
      ).response.allowed;
    }
    assert.equal(allowed, true, 'team-b is served once its Tenant is created');
  });

  test('the broker issues a token for a watched target after a TokenReview', async () => {
    const caller = serviceAccountToken();
    api.addToken(caller.token, caller.known);
    const answer = await callServe(handle.url, ca, '/v1/tokens', {
      body: { target: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' },
      token: caller.token,
    });
    assert.equal(answer.status, 200, answer.body);
    const { token } = JSON.parse(answer.body) as { token: string };
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      aud: string;
      act: { sub: string };
    };
    assert.equal(claims.aud, 'k8s-team-a-dev');
    assert.equal(claims.act.sub, 'system:serviceaccount:argocd:argocd-application-controller');
    const unknown = await callServe(handle.url, ca, '/v1/tokens', {
      body: { target: 'k8s-team-z-dev', server: 'https://team-z-dev.example.com' },
      token: caller.token,
    });
    assert.equal(unknown.status, 404);
  });
});
