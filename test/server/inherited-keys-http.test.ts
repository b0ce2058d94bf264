/**
 * Issue 8 item 8: keys a lookup table must not inherit. Over HTTP, JSON.parse makes
 * `__proto__` an own key of the request's objects (as the API server's JSON does); with an
 * object-literal allowlist it once made /validate answer 500, and `constructor` or
 * `toString` passed TG-CS-03. Every write here must be answered 200 with a verdict, the same
 * through HTTP and the pure functions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject, UserInfo } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { runHttp, runPure, webhookApp, type WriteRequest } from '../attacks/admission-flow.js';
import { loadTenants } from '../support/policy-fixtures.js';

const settings = resolveSettings({});
const registry = loadTenants('two-teams', settings.argocdNamespace);
const { app } = webhookApp(registry, settings);
const ALICE: UserInfo = { username: 'alice', groups: ['team-a-admins'] };
const ADMIN: UserInfo = { username: 'root', groups: ['platform-admins'] };
const KEYS = ['__proto__', 'constructor', 'toString'];
const EXEC = JSON.stringify({
  command: settings.pluginCommand,
  args: [settings.brokerUrl, 'k8s-team-a-prod', settings.callerTokenPath, '--ca-file', settings.brokerCaPath],
  apiVersion: 'client.authentication.k8s.io/v1',
  provideClusterInfo: true,
});

/** team-a's prod cluster Secret (no CA registered) with `config` given as text. */
function secretWithConfig(config: string): KubeObject {
  const data = { name: 'k8s-team-a-prod', server: 'https://team-a-prod.example.com', config };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: 'k8s-team-a-prod',
      namespace: 'argocd',
      labels: {
        'argocd.argoproj.io/secret-type': 'cluster',
        [settings.tenantLabel]: 'team-a',
        [settings.clusterLabel]: 'k8s-team-a-prod',
      },
    },
    data: Object.fromEntries(
      Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]),
    ),
  };
}

/** Parses JSON text so that `__proto__` is an own key, as the webhook's body parser does. */
function parsed(text: string): KubeObject {
  const value: unknown = JSON.parse(text);
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value));
  return value as KubeObject;
}

let uid = 0;
async function both(object: KubeObject, user: UserInfo): Promise<string[]> {
  uid += 1;
  const write: WriteRequest = {
    uid: `1a2b3c4d-0000-4000-8000-${String(uid).padStart(12, '0')}`,
    operation: 'CREATE',
    user,
    object,
  };
  const http = await runHttp(write, app);
  const pure = runPure(write, { registry, settings });
  assert.deepEqual(http.rules, pure.rules, 'HTTP and the pure functions agree line for line');
  return [...new Set(http.rules)];
}

describe('inherited keys over HTTP: never a 500, never a pass', () => {
  for (const key of KEYS) {
    test(`${key} at the top of a cluster Secret's config is TG-CS-03 (owner and admin)`, async () => {
      const object = secretWithConfig(`{"execProviderConfig":${EXEC},${JSON.stringify(key)}:{"x":1}}`);
      assert.deepEqual(await both(object, ALICE), ['TG-CS-03']);
      assert.deepEqual(await both(object, ADMIN), ['TG-CS-03']);
    });
    test(`${key} inside execProviderConfig and tlsClientConfig is TG-CS-03`, async () => {
      const exec = `${EXEC.slice(0, -1)},${JSON.stringify(key)}:"x"}`;
      assert.deepEqual(await both(secretWithConfig(`{"execProviderConfig":${exec}}`), ALICE), ['TG-CS-03']);
      assert.deepEqual(
        await both(
          secretWithConfig(
            `{"execProviderConfig":${EXEC},"tlsClientConfig":{${JSON.stringify(key)}:{"a":1}}}`,
          ),
          ALICE,
        ),
        ['TG-CS-03'],
      );
    });
    test(`${key} as a generator kind is TG-AS-05; inside raw nested JSON it is TG-AS-08`, async () => {
      const appSet = (generators: string) =>
        parsed(`{"apiVersion":"argoproj.io/v1alpha1","kind":"ApplicationSet","metadata":{"name":"g","namespace":"team-a"},
        "spec":{"goTemplate":true,"template":{"metadata":{"name":"{{.name}}"},"spec":{"project":"team-a","source":{"repoURL":"https://github.com/team-a/apps.git","path":"a"},"destination":{"server":"{{.server}}","namespace":"a"}}},
        "generators":${generators}}}`);
      const k = JSON.stringify(key);
      assert.deepEqual(await both(appSet(`[{"list":{"elements":[]},${k}:{"clusters":{}}}]`), ALICE), [
        'TG-AS-05',
      ]);
      const nested = appSet(
        `[{"matrix":{"generators":[{"clusters":{}},{"matrix":{"generators":[{"list":{"elements":[]},${k}:{"clusters":{}}},{"git":{"repoURL":"https://github.com/team-a/apps.git","revision":"HEAD","directories":[{"path":"a"}]},"selector":{${k}:{"x":1}}}]}}]}}]`,
      );
      assert.deepEqual(await both(nested, ALICE), ['TG-AS-08']);
    });
    test(`${key} as a label of an Application is a label like any other`, async () => {
      const object =
        parsed(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"a","namespace":"team-a","labels":{${JSON.stringify(key)}:"x"}},
        "spec":{"project":"team-a","source":{"repoURL":"https://github.com/team-a/apps.git","path":"a"},"destination":{"name":"k8s-team-a-dev","namespace":"a"}}}`);
      assert.deepEqual(await both(object, ALICE), []);
      assert.deepEqual(await both(object, { username: 'mallory', groups: ['team-b-admins'] }), ['TG-OWN-03']);
    });
  }
});
