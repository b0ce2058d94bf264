import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiException, CoreV1Api, Watch } from '@kubernetes/client-node';
import { TestApiServer } from './test-api-server.js';

function codeOf(err: unknown): { code: number; message: string } {
  assert.ok(err instanceof ApiException, String(err));
  const body = JSON.parse(String((err as ApiException<unknown>).body)) as { message: string };
  return { code: Number((err as ApiException<unknown>).code), message: body.message };
}

describe('test API server: Events and a stalled watch', () => {
  let api: TestApiServer;
  let core: CoreV1Api;

  before(async () => {
    api = await TestApiServer.start();
    core = api.kubeConfig().makeApiClient(CoreV1Api);
  });
  after(async () => api.close());

  const tenantRef = { apiVersion: 'tenantguard.dev/v1alpha1', kind: 'Tenant', name: 'team-a' };

  test('an Event on a cluster-scoped object: created in default, refused elsewhere as the API server does', async () => {
    const ok = await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name: 'team-a.1' },
        involvedObject: tenantRef,
        reason: 'Accepted',
        type: 'Normal',
        message: 'm',
      },
    });
    assert.equal(ok.metadata?.namespace, 'default');
    const refused = await core
      .createNamespacedEvent({
        namespace: 'team-a',
        body: {
          metadata: { name: 'team-a.2' },
          involvedObject: tenantRef,
          reason: 'Accepted',
          type: 'Normal',
        },
      })
      .catch((e: unknown) => e);
    assert.deepEqual(codeOf(refused), {
      code: 422,
      message:
        'Event "team-a.2" is invalid: involvedObject.namespace: Invalid value: "": does not match event.namespace',
    });
  });

  test('an Event on a namespaced object must be in its namespace; type Normal or Warning', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', name: 'p', namespace: 'ns1' };
    await core.createNamespacedEvent({
      namespace: 'ns1',
      body: { metadata: { name: 'p.1' }, involvedObject: pod, type: 'Warning' },
    });
    const elsewhere = await core
      .createNamespacedEvent({
        namespace: 'default',
        body: { metadata: { name: 'p.2' }, involvedObject: pod },
      })
      .catch((e: unknown) => e);
    assert.equal(codeOf(elsewhere).code, 422);
    const badType = await core
      .createNamespacedEvent({
        namespace: 'ns1',
        body: { metadata: { name: 'p.3' }, involvedObject: pod, type: 'Error' },
      })
      .catch((e: unknown) => e);
    assert.match(codeOf(badType).message, /type: Unsupported value: "Error"/);
  });

  test('stallWatches(): an open watch gets nothing more (no event, no bookmark) and stays open', async () => {
    const seen: string[] = [];
    let ended = false;
    await new Watch(api.kubeConfig()).watch(
      '/api/v1/namespaces/ns2/configmaps',
      { allowWatchBookmarks: true },
      (type, obj: { metadata?: { name?: string } }) => {
        seen.push(`${type} ${obj.metadata?.name ?? ''}`);
      },
      () => {
        ended = true;
      },
    );
    await core.createNamespacedConfigMap({ namespace: 'ns2', body: { metadata: { name: 'before' } } });
    while (seen.length === 0) await new Promise((r) => setImmediate(r));
    api.stallWatches();
    await core.createNamespacedConfigMap({ namespace: 'ns2', body: { metadata: { name: 'after' } } });
    api.sendBookmarks();
    assert.equal(ended, false);
    api.dropWatches();
    while (!ended) await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, ['ADDED before']);
  });
});
