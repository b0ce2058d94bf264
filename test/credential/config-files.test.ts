// The shipped Argo CD and remote-cluster configuration agrees with the settings and the plugin.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseBrokerOptions } from '../../src/broker/options.js';
import { CACHE_DIR_ENV, parseCredentialArgs } from '../../src/credential/options.js';
import { DEFAULT_SETTINGS } from '../../src/settings.js';
import { REPO_ROOT } from './e2e-support.js';

function load(path: string): unknown[] {
  return parseAllDocuments(readFileSync(join(REPO_ROOT, 'webhook-config', path), 'utf8')).map((d): unknown =>
    d.toJS(),
  );
}
/** Walks plain objects and arrays by keys and indexes; undefined where the path does not exist. */
function at(value: unknown, ...keys: Array<string | number>): unknown {
  let v = value;
  for (const k of keys) v = typeof v === 'object' && v !== null ? Reflect.get(v, k) : undefined;
  return v;
}
function list(value: unknown): unknown[] {
  assert.ok(Array.isArray(value), `expected a list, got ${JSON.stringify(value)}`);
  return value;
}
function named(items: unknown, name: string): unknown {
  const found = list(items).find((i) => at(i, 'name') === name);
  assert.ok(found, `no entry named ${name}`);
  return found;
}

describe('webhook-config/argocd/values.yaml', () => {
  const controller = at(load('argocd/values.yaml')[0], 'controller');
  const mounts = at(controller, 'volumeMounts');
  const volumes = at(controller, 'volumes');

  test("the plugin lands at the settings' plugin path", () => {
    const init = named(at(controller, 'initContainers'), 'tenant-guard-credential');
    assert.equal(list(at(init, 'command')).at(-1), DEFAULT_SETTINGS.pluginCommand);
    assert.equal(at(named(mounts, 'custom-tools'), 'mountPath'), dirname(DEFAULT_SETTINGS.pluginCommand));
    assert.equal(
      at(named(at(init, 'volumeMounts'), 'custom-tools'), 'mountPath'),
      dirname(DEFAULT_SETTINGS.pluginCommand),
    );
  });

  test("projected token with the broker's audience, and the broker CA, at the settings' paths", () => {
    assert.equal(dirname(DEFAULT_SETTINGS.callerTokenPath), dirname(DEFAULT_SETTINGS.brokerCaPath));
    assert.equal(at(named(mounts, 'tenantguard'), 'mountPath'), dirname(DEFAULT_SETTINGS.callerTokenPath));
    const sources = list(at(named(volumes, 'tenantguard'), 'projected', 'sources'));
    const sat = sources.map((s) => at(s, 'serviceAccountToken')).find((s) => s !== undefined);
    assert.equal(at(sat, 'audience'), parseBrokerOptions({}).callerAudience);
    assert.equal(at(sat, 'path'), basename(DEFAULT_SETTINGS.callerTokenPath));
    const ca = sources.map((s) => at(s, 'configMap')).find((s) => s !== undefined);
    assert.equal(at(ca, 'items', 0, 'path'), basename(DEFAULT_SETTINGS.brokerCaPath));
  });

  test('Helm value files come from the repository only: no URL scheme is allowed', () => {
    // Argo CD reads an empty list when the key is set to "" (util/settings GetHelmSettings);
    // left out, the default is https and http (docs/requirements.md).
    const cm = at(load('argocd/values.yaml')[0], 'configs', 'cm');
    assert.equal(at(cm, 'helm.valuesFileSchemes'), '');
  });

  test("the cache directory is a mounted volume, named by the plugin's variable", () => {
    const env = named(at(controller, 'env'), CACHE_DIR_ENV);
    assert.equal(at(named(mounts, 'tenantguard-cache'), 'mountPath'), at(env, 'value'));
  });
});

describe('webhook-config/argocd/cluster-secret.yaml', () => {
  const secret = load('argocd/cluster-secret.yaml')[0];
  const name = String(at(secret, 'stringData', 'name'));
  const config: unknown = JSON.parse(String(at(secret, 'stringData', 'config')));

  test('the canonical plugin call of TG-CS-04', () => {
    assert.deepEqual(at(config, 'execProviderConfig'), {
      command: DEFAULT_SETTINGS.pluginCommand,
      args: [
        DEFAULT_SETTINGS.brokerUrl,
        name,
        DEFAULT_SETTINGS.callerTokenPath,
        '--ca-file',
        DEFAULT_SETTINGS.brokerCaPath,
      ],
      apiVersion: 'client.authentication.k8s.io/v1',
      provideClusterInfo: true,
    });
  });

  test('the plugin accepts those args', () => {
    const parsed = parseCredentialArgs(list(at(config, 'execProviderConfig', 'args')).map(String));
    assert.equal(parsed.help, false);
    assert.deepEqual(parsed.help ? undefined : parsed.options.target, name);
  });

  test('labels: cluster Secret, tenant, cluster = name; only allowed config keys', () => {
    assert.deepEqual(at(secret, 'metadata', 'labels'), {
      'argocd.argoproj.io/secret-type': 'cluster',
      [DEFAULT_SETTINGS.tenantLabel]: 'team-a',
      [DEFAULT_SETTINGS.clusterLabel]: name,
    });
    assert.deepEqual(Object.keys(Object(config)).sort(), ['execProviderConfig', 'tlsClientConfig']);
    assert.deepEqual(Object.keys(Object(at(config, 'tlsClientConfig'))), ['caData']);
  });
});

describe('webhook-config/remote', () => {
  const auth = load('remote/authentication-config.yaml')[0];
  const jwt = list(at(auth, 'jwt'))[0];
  const binding = load('remote/rbac.yaml')[0];
  const proxyArgs = list(at(load('remote/kube-oidc-proxy-args.yaml')[0], 'args')).map(String);
  const flag = (name: string): string | undefined =>
    proxyArgs.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

  test("AuthenticationConfiguration: sub with an explicit prefix, the cluster's audience", () => {
    assert.match(String(at(auth, 'apiVersion')), /^apiserver\.config\.k8s\.io\/(v1beta1|v1)$/);
    assert.equal(at(jwt, 'claimMappings', 'username', 'claim'), 'sub');
    assert.equal(at(jwt, 'claimMappings', 'username', 'prefix'), 'tenant-guard:');
    assert.deepEqual(at(jwt, 'issuer', 'audiences'), ['k8s-team-a-dev']);
  });

  test('kube-oidc-proxy says the same (every arg a plain string)', () => {
    assert.ok(
      list(at(load('remote/kube-oidc-proxy-args.yaml')[0], 'args')).every((a) => typeof a === 'string'),
    );
    assert.equal(flag('oidc-issuer-url'), at(jwt, 'issuer', 'url'));
    assert.equal(flag('oidc-client-id'), 'k8s-team-a-dev');
    assert.equal(flag('oidc-username-claim'), 'sub');
    assert.equal(flag('oidc-username-prefix'), at(jwt, 'claimMappings', 'username', 'prefix'));
    assert.equal(flag('oidc-signing-algs'), 'RS256');
  });

  test('RBAC binds the exact user: prefix + subject', () => {
    assert.deepEqual(at(binding, 'subjects'), [
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'tenant-guard:argocd-team-a-dev' },
    ]);
  });
});

describe('agrees with the broker deployment (webhook-config/base/broker.yaml)', () => {
  const deployment = load('base/broker.yaml').find((d) => at(d, 'kind') === 'Deployment');
  const env = at(list(at(deployment, 'spec', 'template', 'spec', 'containers'))[0], 'env');
  const values = at(load('argocd/values.yaml')[0], 'controller');

  test("the issuer remote clusters trust is the broker's", () => {
    const jwt = list(at(load('remote/authentication-config.yaml')[0], 'jwt'))[0];
    assert.equal(at(named(env, 'TG_ISSUER'), 'value'), at(jwt, 'issuer', 'url'));
  });

  test("the projected token's audience is the broker's caller audience", () => {
    const sources = list(at(named(at(values, 'volumes'), 'tenantguard'), 'projected', 'sources'));
    const sat = sources.map((x) => at(x, 'serviceAccountToken')).find((x) => x !== undefined);
    assert.equal(at(named(env, 'TG_CALLER_AUDIENCE'), 'value'), at(sat, 'audience'));
  });

  test("the broker Service is the settings' broker URL", () => {
    const service = load('base/broker.yaml').find((d) => at(d, 'kind') === 'Service');
    assert.equal(
      `https://${String(at(service, 'metadata', 'name'))}.${String(at(service, 'metadata', 'namespace'))}.svc`,
      DEFAULT_SETTINGS.brokerUrl,
    );
    assert.equal(at(service, 'spec', 'ports', 0, 'port'), 443, 'the broker URL carries no port');
  });
});
