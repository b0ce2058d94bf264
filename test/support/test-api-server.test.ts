import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ApiException,
  AuthenticationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type V1Secret,
} from '@kubernetes/client-node';
import { serviceAccountUser, TestApiServer, type ResourceType } from './test-api-server.js';

const TENANTS: ResourceType = {
  group: 'tenantguard.dev',
  version: 'v1alpha1',
  plural: 'tenants',
  kind: 'Tenant',
  namespaced: false,
  statusSubresource: true,
};

function statusOf(err: unknown): { code: number; body: Record<string, unknown> } {
  assert.ok(err instanceof ApiException, `expected an ApiException, got ${String(err)}`);
  const code = Number((err as ApiException<unknown>).code);
  const raw = (err as ApiException<unknown>).body;
  return { code, body: typeof raw === 'string' ? (JSON.parse(raw) as Record<string, unknown>) : {} };
}

/** Collects watch events until `until` says enough, or times out. */
function collect(
  events: Array<{ type: string; object: Record<string, unknown> }>,
  until: () => boolean,
  ms = 3000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = setInterval(() => {
      if (until()) {
        clearInterval(tick);
        resolve();
      } else if (Date.now() - start > ms) {
        clearInterval(tick);
        reject(new Error(`timed out; got ${JSON.stringify(events.map((e) => e.type))}`));
      }
    }, 10);
  });
}

describe('test API server, driven by @kubernetes/client-node', () => {
  let api: TestApiServer;
  let core: CoreV1Api;

  before(async () => {
    api = await TestApiServer.start();
    api.registerResource(TENANTS);
    core = api.kubeConfig().makeApiClient(CoreV1Api);
  });
  after(async () => api.close());

  test('Secret create (201), read, AlreadyExists (409), replace, Conflict (409) with the API server Status', async () => {
    const created = await core.createNamespacedSecret({
      namespace: 'ns1',
      body: { metadata: { name: 's1' }, stringData: { a: 'x' } },
    });
    assert.equal(created.metadata?.namespace, 'ns1');
    assert.equal(created.data?.a, Buffer.from('x').toString('base64'), 'stringData is folded into data');
    assert.match(created.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(created.metadata?.creationTimestamp instanceof Date);
    const rv1 = Number(created.metadata?.resourceVersion);
    assert.ok(rv1 > 0);

    const dup = await core
      .createNamespacedSecret({ namespace: 'ns1', body: { metadata: { name: 's1' } } })
      .catch((e: unknown) => e);
    const dupStatus = statusOf(dup);
    assert.equal(dupStatus.code, 409);
    assert.equal(dupStatus.body.reason, 'AlreadyExists');

    const read = await core.readNamespacedSecret({ name: 's1', namespace: 'ns1' });
    const body: V1Secret = { ...read, data: { a: Buffer.from('y').toString('base64') } };
    const replaced = await core.replaceNamespacedSecret({ name: 's1', namespace: 'ns1', body });
    assert.ok(Number(replaced.metadata?.resourceVersion) > rv1, 'resourceVersion increases');

    const stale = await core
      .replaceNamespacedSecret({ name: 's1', namespace: 'ns1', body })
      .catch((e: unknown) => e);
    const { code, body: st } = statusOf(stale);
    assert.equal(code, 409);
    assert.deepEqual(st, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'Operation cannot be fulfilled on secrets "s1": the object has been modified; please apply your changes to the latest version and try again',
      reason: 'Conflict',
      details: { name: 's1', kind: 'secrets' },
      code: 409,
    });

    const missing = await core
      .readNamespacedSecret({ name: 'nope', namespace: 'ns1' })
      .catch((e: unknown) => e);
    assert.equal(statusOf(missing).code, 404);
    assert.equal(statusOf(missing).body.reason, 'NotFound');
  });

  test('merge and JSON patch, list with resourceVersion and label selector, delete', async () => {
    await core.createNamespacedSecret({
      namespace: 'ns2',
      body: { metadata: { name: 'p1', labels: { app: 'a' } }, data: { k: 'dg==' } },
    });
    await core.createNamespacedSecret({
      namespace: 'ns2',
      body: { metadata: { name: 'p2', labels: { app: 'b' } } },
    });
    const merged = await core.patchNamespacedSecret(
      { name: 'p1', namespace: 'ns2', body: { metadata: { labels: { extra: 'yes' } }, data: { k: null } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    assert.deepEqual(merged.metadata?.labels, { app: 'a', extra: 'yes' });
    assert.equal(merged.data?.k, undefined);
    const jp = await core.patchNamespacedSecret(
      { name: 'p1', namespace: 'ns2', body: [{ op: 'add', path: '/data', value: { z: 'eg==' } }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    assert.equal(jp.data?.z, 'eg==');
    const list = await core.listNamespacedSecret({ namespace: 'ns2', labelSelector: 'app=a' });
    assert.deepEqual(
      list.items.map((s) => s.metadata?.name),
      ['p1'],
    );
    assert.equal(list.metadata?.resourceVersion, String(api.store.resourceVersion));
    await core.deleteNamespacedSecret({ name: 'p2', namespace: 'ns2' });
    assert.equal((await core.listNamespacedSecret({ namespace: 'ns2' })).items.length, 1);
  });

  test('CustomObjectsApi: cluster-scoped custom resource, generation, /status, CR update needs resourceVersion', async () => {
    const co = api.kubeConfig().makeApiClient(CustomObjectsApi);
    const base = { group: TENANTS.group, version: TENANTS.version, plural: TENANTS.plural };
    const created = (await co.createClusterCustomObject({
      ...base,
      body: {
        apiVersion: 'tenantguard.dev/v1alpha1',
        kind: 'Tenant',
        metadata: { name: 'team-a' },
        spec: { namespaces: ['a'] },
      },
    })) as Record<string, any>;
    assert.equal(created.metadata.generation, 1);
    const rv = created.metadata.resourceVersion as string;

    const withStatus = (await co.replaceClusterCustomObjectStatus({
      ...base,
      name: 'team-a',
      body: { ...created, status: { accepted: true }, spec: { namespaces: ['ignored'] } },
    })) as Record<string, any>;
    assert.deepEqual(withStatus.status, { accepted: true });
    assert.deepEqual(withStatus.spec, { namespaces: ['a'] }, 'the status PUT leaves spec alone');
    assert.equal(withStatus.metadata.generation, 1, 'a status change keeps the generation');

    const noRv = await co
      .replaceClusterCustomObject({
        ...base,
        name: 'team-a',
        body: { ...created, metadata: { name: 'team-a' } },
      })
      .catch((e: unknown) => e);
    assert.equal(statusOf(noRv).code, 422);
    const stale = await co
      .replaceClusterCustomObject({
        ...base,
        name: 'team-a',
        body: { ...created, metadata: { name: 'team-a', resourceVersion: rv } },
      })
      .catch((e: unknown) => e);
    assert.equal(statusOf(stale).code, 409);
    assert.deepEqual(statusOf(stale).body.details as Record<string, unknown>, {
      name: 'team-a',
      group: 'tenantguard.dev',
      kind: 'tenants',
    });

    const updated = (await co.replaceClusterCustomObject({
      ...base,
      name: 'team-a',
      body: { ...withStatus, spec: { namespaces: ['a', 'b'] }, status: { accepted: false } },
    })) as Record<string, any>;
    assert.equal(updated.metadata.generation, 2, 'a spec change bumps the generation');
    assert.deepEqual(updated.status, { accepted: true }, 'the main PUT leaves status alone');
    const list = (await co.listClusterCustomObject(base)) as Record<string, any>;
    assert.equal(list.items.length, 1);
  });

  test("an object over etcd's 1.5 MiB as Go's JSON stores it: the API server's 500, nothing written", async () => {
    const co = api.kubeConfig().makeApiClient(CustomObjectsApi);
    const base = { group: TENANTS.group, version: TENANTS.version, plural: TENANTS.plural };
    const tenant = (name: string, note: string) => ({
      apiVersion: 'tenantguard.dev/v1alpha1',
      kind: 'Tenant',
      metadata: { name },
      spec: { note },
    });
    // 1,000,000 characters each: under the bound in ASCII; over it in UTF-8 (3 bytes each) or
    // as Go escapes `&` (\u0026, 6 bytes).
    const fits = (await co.createClusterCustomObject({
      ...base,
      body: tenant('big', 'a'.repeat(1e6)),
    })) as any;
    for (const [name, note] of [
      ['cjk', '\u6f22'.repeat(1e6)],
      ['amp', '&'.repeat(300_000)],
    ] as const) {
      const refused = await co
        .createClusterCustomObject({ ...base, body: tenant(name, note) })
        .catch((e: unknown) => e);
      assert.deepEqual(statusOf(refused), {
        code: 500,
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: 'etcdserver: request is too large',
          code: 500,
        },
      });
    }
    const grown = await co
      .replaceClusterCustomObject({
        ...base,
        name: 'big',
        body: { ...fits, spec: { note: '<'.repeat(300_000) } },
      })
      .catch((e: unknown) => e);
    assert.equal(statusOf(grown).code, 500);
    assert.equal((api.store.get(TENANTS, undefined, 'big').spec as any).note.length, 1e6, 'kept as it was');
    assert.deepEqual(
      api
        .objects(TENANTS)
        .map((t: any) => t.metadata.name)
        .filter((n) => n !== 'team-a'),
      ['big'],
    );
    api.store.delete(TENANTS, undefined, 'big');
  });

  test('watch: events after a resourceVersion, 410 Expired when too old, dropWatches ends the stream', async () => {
    const start = (await core.listNamespacedSecret({ namespace: 'w' })).metadata?.resourceVersion ?? '';
    const events: Array<{ type: string; object: Record<string, any> }> = [];
    let ended = false;
    const watch = new Watch(api.kubeConfig());
    await watch.watch(
      '/api/v1/namespaces/w/secrets',
      { resourceVersion: start, allowWatchBookmarks: true },
      (type, object) => events.push({ type, object }),
      () => {
        ended = true;
      },
    );
    await core.createNamespacedSecret({ namespace: 'w', body: { metadata: { name: 'w1' } } });
    await core.patchNamespacedSecret(
      { name: 'w1', namespace: 'w', body: { metadata: { labels: { x: 'y' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await core.deleteNamespacedSecret({ name: 'w1', namespace: 'w' });
    await collect(events, () => events.filter((e) => e.type !== 'BOOKMARK').length >= 3);
    api.sendBookmarks();
    await collect(events, () => events.some((e) => e.type === 'BOOKMARK'));
    assert.deepEqual(
      events.filter((e) => e.type !== 'BOOKMARK').map((e) => e.type),
      ['ADDED', 'MODIFIED', 'DELETED'],
    );
    const rvs = events
      .filter((e) => e.type !== 'BOOKMARK')
      .map((e) => Number(e.object.metadata.resourceVersion));
    assert.deepEqual(
      [...rvs].sort((a, b) => a - b),
      rvs,
      'resourceVersions increase',
    );
    api.dropWatches();
    await collect(events, () => ended);

    api.store.compact();
    const late: Array<{ type: string; object: Record<string, any> }> = [];
    await watch.watch(
      '/api/v1/namespaces/w/secrets',
      { resourceVersion: start },
      (type, object) => late.push({ type, object }),
      () => undefined,
    );
    await collect(late, () => late.length >= 1);
    assert.equal(late[0]?.type, 'ERROR');
    assert.equal(late[0]?.object.code, 410);
    assert.equal(late[0]?.object.reason, 'Expired');
  });

  test('informer re-lists after dropped watches and a compacted history', async () => {
    const informer = makeInformer(api.kubeConfig(), '/api/v1/namespaces/inf/secrets', () =>
      core.listNamespacedSecret({ namespace: 'inf' }),
    );
    const seen = new Set<string>();
    informer.on('add', (s) => seen.add(s.metadata?.name ?? ''));
    await core.createNamespacedSecret({ namespace: 'inf', body: { metadata: { name: 'before' } } });
    await informer.start();
    await collect([], () => seen.has('before'));
    const lists = api.count({ verb: 'list', namespace: 'inf' });
    // The informer re-watches from its last resourceVersion; hold that request back while a
    // write happens and the history is compacted, so it is answered 410 Expired and re-lists.
    api.inject({ verb: 'watch', namespace: 'inf' }, { delayMs: 300 }, 1);
    api.dropWatches();
    await core.createNamespacedSecret({ namespace: 'inf', body: { metadata: { name: 'after' } } });
    api.store.compact();
    await collect([], () => seen.has('after'));
    assert.ok(
      api.count({ verb: 'list', namespace: 'inf' }) > lists,
      'the informer re-listed after 410 Expired',
    );
    assert.deepEqual(
      informer
        .list()
        .map((s) => s.metadata?.name)
        .sort(),
      ['after', 'before'],
    );
    await informer.stop();
  });

  test('TokenReview: positive with audiences and pod extra, negative, API error; recorded', async () => {
    const auth = api.kubeConfig().makeApiClient(AuthenticationV1Api);
    api.addToken('caller-1', {
      ...serviceAccountUser('argocd', 'argocd-application-controller', { name: 'ctrl-0', uid: 'pod-uid-1' }),
      tokenAudiences: ['tenant-guard'],
    });
    const ok = await auth.createTokenReview({
      body: { spec: { token: 'caller-1', audiences: ['tenant-guard'] } },
    });
    assert.equal(ok.status?.authenticated, true);
    assert.equal(ok.status?.user?.username, 'system:serviceaccount:argocd:argocd-application-controller');
    assert.deepEqual(ok.status?.user?.extra?.['authentication.kubernetes.io/pod-name'], ['ctrl-0']);
    assert.deepEqual(ok.status?.audiences, ['tenant-guard']);

    const wrongAud = await auth.createTokenReview({ body: { spec: { token: 'caller-1' } } });
    assert.notEqual(wrongAud.status?.authenticated, true, 'a broker-audience token is no API server token');
    assert.match(wrongAud.status?.error ?? '', /audiences/);

    const stop = api.inject({ verb: 'tokenreview' }, { status: 500 }, 1);
    const failed = await auth
      .createTokenReview({ body: { spec: { token: 'caller-1' } } })
      .catch((e: unknown) => e);
    assert.equal(statusOf(failed).code, 500);
    stop();
    assert.deepEqual(
      api.tokenReviews.map((r) => r.audiences),
      [['tenant-guard'], []],
      'the failed one never reached the reviewer',
    );
    assert.equal(api.count({ verb: 'tokenreview' }), 3);
  });

  test('requests without the expected bearer token get 401; faults are counted and consumed', async () => {
    const res = await fetch(`${api.url}/api/v1/namespaces/x/secrets`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as Record<string, unknown>).reason, 'Unauthorized');
    await core.createNamespacedSecret({ namespace: 'f', body: { metadata: { name: 'f1' } } });
    api.failNextUpdate({ resource: 'secrets', name: 'f1' });
    const current = await core.readNamespacedSecret({ name: 'f1', namespace: 'f' });
    const first = await core
      .replaceNamespacedSecret({ name: 'f1', namespace: 'f', body: current })
      .catch((e: unknown) => e);
    assert.equal(statusOf(first).code, 409);
    assert.equal(statusOf(first).body.reason, 'Conflict');
    const second = await core.replaceNamespacedSecret({ name: 'f1', namespace: 'f', body: current });
    assert.equal(second.metadata?.name, 'f1');
    assert.equal(api.count({ verb: 'update', name: 'f1' }), 2);
  });
});
