import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clusterSecretRules } from '../../src/policy/cluster-secret.js';
import type {
  KubeObject,
  PolicyContext,
  PolicyRequest,
  RequesterRole,
  RuleScope,
  UserInfo,
} from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { policyContext } from '../support/policy-fixtures.js';

// The CA registered for k8s-team-a-dev in test/fixtures/tenants/two-teams.yaml, a placeholder
// bundle: only compared as text, never parsed as a certificate.
const CA = Buffer.from(
  '-----BEGIN CERTIFICATE-----\nplaceholder-ca-for-team-a-dev\n-----END CERTIFICATE-----\n',
).toString('base64');

const settings = resolveSettings({});
const context: PolicyContext = policyContext('two-teams', settings);
const TL = settings.tenantLabel;
const CL = settings.clusterLabel;

const OWNER: UserInfo = { username: 'alice', groups: ['team-a-admins'] };
const STRANGER: UserInfo = { username: 'mallory', groups: ['team-b-admins'] };
const ADMIN: UserInfo = { username: 'root', groups: ['platform-admins'] };
const SERVER_SA: UserInfo = { username: 'system:serviceaccount:argocd:argocd-server', groups: [] };

const EXEC = {
  command: settings.pluginCommand,
  apiVersion: 'client.authentication.k8s.io/v1',
  provideClusterInfo: true,
};
function execFor(name: string): Record<string, unknown> {
  return {
    ...EXEC,
    args: [settings.brokerUrl, name, settings.callerTokenPath, '--ca-file', settings.brokerCaPath],
  };
}
const DEV_CONFIG = JSON.stringify({
  execProviderConfig: execFor('k8s-team-a-dev'),
  tlsClientConfig: { caData: CA },
});
const PROD_CONFIG = JSON.stringify({ execProviderConfig: execFor('k8s-team-a-prod') });

type Fields = Record<string, string>;

/** A cluster Secret whose fields are in `data` (base64), as the API server hands it to a webhook. */
function inData(fields: Fields, labels: Record<string, string> = {}): KubeObject {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) data[k] = Buffer.from(v, 'utf8').toString('base64');
  return secret(labels, { data });
}

/** The same Secret as written by hand, with `stringData`. */
function inStringData(fields: Fields, labels: Record<string, string> = {}): KubeObject {
  return secret(labels, { stringData: { ...fields } });
}

function secret(labels: Record<string, string>, body: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: 'cluster-secret',
      namespace: 'argocd',
      labels: { 'argocd.argoproj.io/secret-type': 'cluster', ...labels },
    },
    ...body,
  };
}

function scopeOf(
  request: Partial<PolicyRequest>,
  tenant: string | undefined,
  role: RequesterRole,
): RuleScope {
  const full: PolicyRequest = {
    uid: 'u',
    kind: 'ClusterSecret',
    operation: 'CREATE',
    namespace: 'argocd',
    name: 'cluster-secret',
    user: OWNER,
    dryRun: false,
    ...request,
  };
  return {
    request: full,
    tenant: tenant === undefined ? undefined : context.registry.tenant(tenant),
    role,
    context,
  };
}

function rulesOf(scope: RuleScope): string[] {
  return clusterSecretRules.validate(scope).violations.map((v) => v.rule);
}

const devFields: Fields = {
  name: 'k8s-team-a-dev',
  server: 'https://team-a-dev.example.com',
  config: DEV_CONFIG,
};
const devLabels = { [TL]: 'team-a', [CL]: 'k8s-team-a-dev' };
const configWith = (mutateConfig: (c: Record<string, any>) => void): string => {
  const c = JSON.parse(DEV_CONFIG) as Record<string, any>;
  mutateConfig(c);
  return JSON.stringify(c);
};

interface Case {
  name: string;
  fields: Fields;
  labels?: Record<string, string>;
  tenant: string | undefined;
  role?: RequesterRole;
  user?: UserInfo;
  rules: string[];
}

const CASES: Case[] = [
  // allowed
  {
    name: 'canonical dev Secret of its tenant',
    fields: devFields,
    labels: devLabels,
    tenant: 'team-a',
    rules: [],
  },
  {
    name: 'canonical prod Secret (no CA registered)',
    fields: {
      name: 'k8s-team-a-prod',
      server: 'https://team-a-prod.example.com',
      config: PROD_CONFIG,
      project: 'team-a-extra',
    },
    labels: { [TL]: 'team-a', [CL]: 'k8s-team-a-prod' },
    tenant: 'team-a',
    rules: [],
  },
  {
    name: 'installHint, serverName and insecure:false are allowed',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.execProviderConfig.installHint = 'mount the plugin';
        c.tlsClientConfig.serverName = 'team-a-dev.example.com';
        c.tlsClientConfig.insecure = false;
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: [],
  },
  {
    // Found by a red-team review: client-go checks the certificate against serverName while
    // dialling server, so behind a shared SNI router the controller reached another endpoint.
    name: 'TG-CS-03 serverName other than the registered server host (another tenant, the control plane)',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.tlsClientConfig.serverName = 'team-b-dev.example.com';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-03'],
  },
  {
    name: 'TG-CS-03 serverName kubernetes.default.svc',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.tlsClientConfig.serverName = 'kubernetes.default.svc';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-03'],
  },
  {
    // The registry trusts the system's roots for this cluster: a CA of the writer's own
    // would let whoever holds its key receive the tenant's token.
    name: 'TG-CS-05 caData set where the registry holds no CA',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.tlsClientConfig.caData = 'QUJD';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-05'],
  },
  {
    name: 'platform in-cluster Secret with a bearer token (no plugin)',
    fields: {
      name: 'in-cluster',
      server: 'https://kubernetes.default.svc',
      config: '{"bearerToken":"x","tlsClientConfig":{"insecure":true}}',
    },
    tenant: undefined,
    role: 'platform-admin',
    user: ADMIN,
    rules: [],
  },
  {
    name: 'CS-04 platform Secret with awsAuthConfig and no profile for argocd-k8s-auth aws',
    fields: {
      name: 'eks-shared',
      server: 'https://eks.example.com',
      config: '{"awsAuthConfig":{"clusterName":"shared"}}',
    },
    tenant: undefined,
    role: 'trusted-service-account',
    user: SERVER_SA,
    rules: ['TG-CS-03', 'TG-CS-04'],
  },
  // TG-CS-01
  {
    name: 'CS-01 tenant label names another tenant',
    fields: devFields,
    labels: { [TL]: 'team-b', [CL]: 'k8s-team-a-dev' },
    tenant: 'team-b',
    user: STRANGER,
    rules: ['TG-CS-01', 'TG-CS-02'],
  },
  // TG-CS-02
  {
    name: "CS-02 name is another tenant's cluster",
    fields: {
      ...devFields,
      name: 'k8s-team-b-dev',
      server: 'https://team-b-dev.example.com',
      config: JSON.stringify({ execProviderConfig: execFor('k8s-team-b-dev') }),
    },
    labels: { [CL]: 'k8s-team-b-dev' },
    tenant: 'team-a',
    rules: ['TG-CS-02'],
  },
  {
    name: 'CS-02 server not spelled as registered',
    fields: { ...devFields, server: 'https://TEAM-A-DEV.example.com:443/' },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-02'],
  },
  {
    name: 'CS-02 server points elsewhere',
    fields: { ...devFields, server: 'https://evil.example.com' },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-02'],
  },
  {
    name: 'CS-02 server missing',
    fields: { name: 'k8s-team-a-dev', config: DEV_CONFIG },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-02'],
  },
  {
    name: 'CS-02 name missing',
    fields: { server: 'https://team-a-dev.example.com', config: DEV_CONFIG },
    labels: { [TL]: 'team-a' },
    tenant: 'team-a',
    rules: ['TG-CS-02', 'TG-CS-04', 'TG-CS-08'],
  },
  {
    name: 'CS-02 platform Secret calling the plugin for an unregistered name (admin too)',
    fields: {
      name: 'sneaky',
      server: 'https://evil.example.com',
      config: JSON.stringify({ execProviderConfig: execFor('sneaky') }),
    },
    tenant: undefined,
    role: 'platform-admin',
    user: ADMIN,
    rules: ['TG-CS-02'],
  },
  {
    name: 'CS-04 platform Secret calling the plugin by another path spelling (no text search: it is no profile)',
    fields: {
      name: 'sneaky',
      server: 'https://evil.example.com',
      config: JSON.stringify({
        execProviderConfig: { ...execFor('sneaky'), command: '/custom-tools//./tenant-guard-credential' },
      }),
    },
    tenant: undefined,
    role: 'platform-admin',
    user: ADMIN,
    rules: ['TG-CS-04'],
  },
  {
    name: "CS-03/08 platform Secret calling the plugin through a case-variant key, on a tenant's server",
    fields: {
      name: 'sneaky',
      server: 'https://team-a-dev.example.com',
      config: JSON.stringify({ ExecProviderConfig: execFor('k8s-team-a-dev') }),
    },
    tenant: undefined,
    role: 'platform-admin',
    user: ADMIN,
    rules: ['TG-CS-03', 'TG-CS-08'],
  },
  // TG-CS-03
  {
    name: 'CS-03 bearerToken',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.bearerToken = 'stolen';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-03'],
  },
  {
    name: 'CS-03 case variant BearerToken',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.BearerToken = 'stolen';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-03'],
  },
  {
    name: 'CS-03 case variant ExecProviderConfig beside the canonical one',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.ExecProviderConfig = { command: '/bin/sh' };
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-03'],
  },
  {
    name: 'CS-03 case variant CaData',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.tlsClientConfig.CaData = 'QQ==';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-03'],
  },
  {
    name: 'CS-03 Kelvin-sign key Go folds onto a known one',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c['bearerTo\u212Aen'] = 'x';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-03'],
  },
  {
    name: 'CS-03 certData and keyData',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.tlsClientConfig.certData = 'QQ==';
        c.tlsClientConfig.keyData = 'QQ==';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-03', 'TG-CS-03'],
  },
  {
    name: 'CS-03 username, password, awsAuthConfig, proxyUrl',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.username = 'u';
        c.password = 'p';
        c.awsAuthConfig = {};
        c.proxyUrl = 'http://p';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-03', 'TG-CS-03', 'TG-CS-03', 'TG-CS-03'],
  },
  {
    name: 'CS-04 provideClusterInfo false (the plugin would not learn the server, ADR 0011)',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.execProviderConfig.provideClusterInfo = false;
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-04'],
  },
  {
    name: 'CS-04 provideClusterInfo as the string "true"',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.execProviderConfig.provideClusterInfo = 'true';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-04'],
  },
  {
    name: 'CS-03 a key given twice (Go merges both)',
    fields: { ...devFields, config: `{"execProviderConfig":{"env":{"A":"b"}},${DEV_CONFIG.slice(1)}` },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-03'],
  },
  // TG-CS-04
  {
    name: 'CS-04 execProviderConfig missing',
    fields: { ...devFields, config: JSON.stringify({ tlsClientConfig: { caData: CA } }) },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-04'],
  },
  {
    name: 'CS-04 another command',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.execProviderConfig.command = '/bin/curl';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-04'],
  },
  {
    name: 'CS-04 args ask for another cluster',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.execProviderConfig.args[1] = 'k8s-team-b-dev';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-04'],
  },
  {
    name: 'CS-04 env set',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.execProviderConfig.env = { HTTPS_PROXY: 'http://evil' };
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-04'],
  },
  {
    name: 'CS-04 older apiVersion, admin too',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.execProviderConfig.apiVersion = 'client.authentication.k8s.io/v1beta1';
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    role: 'platform-admin',
    user: ADMIN,
    rules: ['TG-CS-04'],
  },
  // TG-CS-05
  {
    name: 'CS-05 caData missing',
    fields: {
      ...devFields,
      config: configWith((c) => {
        delete c.tlsClientConfig;
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-05'],
  },
  {
    name: 'CS-05 caData differs',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.tlsClientConfig.caData = Buffer.from('other').toString('base64');
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-05'],
  },
  {
    name: 'CS-05 insecure true',
    fields: {
      ...devFields,
      config: configWith((c) => {
        c.tlsClientConfig.insecure = true;
      }),
    },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-05'],
  },
  {
    name: 'CS-05 insecure on a cluster without a registered CA',
    fields: {
      name: 'k8s-team-a-prod',
      server: 'https://team-a-prod.example.com',
      config: JSON.stringify({
        execProviderConfig: execFor('k8s-team-a-prod'),
        tlsClientConfig: { insecure: true },
      }),
    },
    labels: { [TL]: 'team-a', [CL]: 'k8s-team-a-prod' },
    tenant: 'team-a',
    rules: ['TG-CS-05'],
  },
  {
    name: 'CS-04/05 no config at all',
    fields: { name: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-04', 'TG-CS-05'],
  },
  // TG-CS-06
  {
    name: 'CS-06 cluster label missing',
    fields: devFields,
    labels: { [TL]: 'team-a' },
    tenant: 'team-a',
    rules: ['TG-CS-06'],
  },
  {
    name: 'CS-06 cluster label names another cluster',
    fields: devFields,
    labels: { [TL]: 'team-a', [CL]: 'k8s-team-b-dev' },
    tenant: 'team-a',
    rules: ['TG-CS-06'],
  },
  {
    name: 'CS-06 project of another tenant',
    fields: { ...devFields, project: 'team-b' },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-CS-06'],
  },
  // TG-REQ-01
  {
    name: 'REQ-01 config is not JSON',
    fields: { ...devFields, config: '{"execProviderConfig":' },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-REQ-01'],
  },
  {
    name: 'REQ-01 config is a JSON array',
    fields: { ...devFields, config: '[]' },
    labels: devLabels,
    tenant: 'team-a',
    rules: ['TG-REQ-01'],
  },
];

describe('cluster Secret rules (TG-CS-01..06), data and stringData decided alike', () => {
  for (const c of CASES) {
    for (const [shape, build] of [
      ['data', inData],
      ['stringData', inStringData],
    ] as const) {
      test(`${c.name} [${shape}]`, () => {
        const scope = scopeOf(
          { object: build(c.fields, c.labels), user: c.user ?? OWNER },
          c.tenant,
          c.role ?? 'human',
        );
        assert.deepEqual(rulesOf(scope), c.rules);
      });
    }
    test(`${c.name} [same paths in both shapes]`, () => {
      const paths = (o: KubeObject) =>
        clusterSecretRules
          .validate(scopeOf({ object: o, user: c.user ?? OWNER }, c.tenant, c.role ?? 'human'))
          .violations.map((v) => v.message);
      assert.deepEqual(paths(inData(c.fields, c.labels)), paths(inStringData(c.fields, c.labels)));
    });
  }

  test('invalid base64 in data is TG-REQ-01 and its value is not echoed', () => {
    const object = inData(devFields, devLabels);
    (object.data as Record<string, string>).name = 'not base64!';
    const violations = clusterSecretRules.validate(scopeOf({ object }, 'team-a', 'human')).violations;
    assert.equal(violations[0]?.rule, 'TG-REQ-01');
    assert.equal(violations[0]?.path, 'data.name');
    assert.ok(!violations.some((v) => v.message.includes('not base64!')));
  });

  test("denial lines name the rule's path and never echo config values", () => {
    const fields = {
      ...devFields,
      config: configWith((c) => {
        c.bearerToken = 'SUPER-SECRET-TOKEN';
        c.execProviderConfig.command = '/tmp/SUPER-SECRET-CMD';
      }),
    };
    const violations = clusterSecretRules.validate(
      scopeOf({ object: inData(fields, devLabels) }, 'team-a', 'human'),
    ).violations;
    assert.deepEqual(
      violations.map((v) => v.path),
      ['data.config.bearerToken', 'data.config.execProviderConfig.command'],
    );
    assert.ok(violations.every((v) => !v.message.includes('SUPER-SECRET')));
  });

  test('TG-CS-02 message names the registered server', () => {
    const [v] = clusterSecretRules.validate(
      scopeOf(
        { object: inData({ ...devFields, server: 'https://team-a-dev.example.com:443' }, devLabels) },
        'team-a',
        'human',
      ),
    ).violations;
    assert.equal(
      v?.message,
      'data.server "https://team-a-dev.example.com:443" is not the server registered for cluster "k8s-team-a-dev"; use "https://team-a-dev.example.com" exactly',
    );
  });

  test('TG-CS-02 compares servers with every trailing slash stripped, as Argo CD does', () => {
    for (const server of ['https://team-a-dev.example.com/', 'https://team-a-dev.example.com///']) {
      assert.deepEqual(
        rulesOf(scopeOf({ object: inData({ ...devFields, server }, devLabels) }, 'team-a', 'human')),
        [],
        server,
      );
    }
  });
});

describe('TG-CS-07 protected changes', () => {
  const before = inData(devFields, devLabels);
  const withoutLabel = inData(devFields, { [TL]: 'team-a' });
  const renamed = inData(
    { ...devFields, name: 'k8s-team-a-prod', server: 'https://team-a-prod.example.com', config: PROD_CONFIG },
    { [TL]: 'team-a', [CL]: 'k8s-team-a-prod' },
  );
  const cases: Array<{
    name: string;
    request: Partial<PolicyRequest>;
    role: RequesterRole;
    rules: string[];
  }> = [
    { name: 'owner deletes', request: { operation: 'DELETE', oldObject: before }, role: 'human', rules: [] },
    {
      name: 'admin deletes',
      request: { operation: 'DELETE', oldObject: before, user: ADMIN },
      role: 'platform-admin',
      rules: [],
    },
    {
      name: 'trusted SA deletes',
      request: { operation: 'DELETE', oldObject: before, user: SERVER_SA },
      role: 'trusted-service-account',
      rules: [],
    },
    {
      name: 'non-owner human deletes',
      request: { operation: 'DELETE', oldObject: before, user: STRANGER },
      role: 'human',
      rules: ['TG-CS-07'],
    },
    {
      name: 'owner renames to another of its clusters',
      request: { operation: 'UPDATE', oldObject: before, object: renamed },
      role: 'human',
      rules: [],
    },
    {
      name: 'trusted SA renames',
      request: { operation: 'UPDATE', oldObject: before, object: renamed, user: SERVER_SA },
      role: 'trusted-service-account',
      rules: [],
    },
    {
      name: 'trusted SA removes the cluster label',
      request: { operation: 'UPDATE', oldObject: before, object: withoutLabel, user: SERVER_SA },
      role: 'trusted-service-account',
      rules: ['TG-CS-06'],
    },
    {
      name: 'non-owner human renames',
      request: { operation: 'UPDATE', oldObject: before, object: renamed, user: STRANGER },
      role: 'human',
      rules: ['TG-CS-07'],
    },
    {
      name: 'non-owner human removes the cluster label',
      request: { operation: 'UPDATE', oldObject: before, object: withoutLabel, user: STRANGER },
      role: 'human',
      rules: ['TG-CS-06', 'TG-CS-07'],
    },
    {
      name: 'trusted SA changes nothing protected',
      request: {
        operation: 'UPDATE',
        oldObject: before,
        object: inData({ ...devFields, project: 'team-a' }, devLabels),
        user: SERVER_SA,
      },
      role: 'trusted-service-account',
      rules: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(rulesOf(scopeOf(c.request, 'team-a', c.role)), c.rules));
  }
});

describe('cluster Secret namedTenant and hasMaterialChange', () => {
  test('the owner of the cluster in name, from data or stringData', () => {
    assert.equal(clusterSecretRules.namedTenant(inData(devFields), context)?.name, 'team-a');
    assert.equal(
      clusterSecretRules.namedTenant(inStringData({ name: 'k8s-team-b-prod' }), context)?.name,
      'team-b',
    );
    assert.equal(clusterSecretRules.namedTenant(inData({ name: 'in-cluster' }), context), undefined);
  });

  const base = inData(devFields, devLabels);
  const cases: Array<{ name: string; next: KubeObject; material: boolean }> = [
    {
      name: 'annotations only',
      next: { ...structuredClone(base), metadata: { ...(base.metadata as object), annotations: { a: 'b' } } },
      material: false,
    },
    { name: 'same data given as stringData', next: inStringData(devFields, devLabels), material: false },
    {
      name: 'a data value',
      next: inData({ ...devFields, server: 'https://x.example.com' }, devLabels),
      material: true,
    },
    // Same values for the keys both have: a key added (`project`) or one taken away (`config`).
    {
      name: 'a data key added',
      next: inData({ ...devFields, project: 'team-a' }, devLabels),
      material: true,
    },
    {
      name: 'a data key taken away',
      next: inData({ name: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' }, devLabels),
      material: true,
    },
    { name: 'a label', next: inData(devFields, { [TL]: 'team-a' }), material: true },
    { name: 'the type', next: { ...structuredClone(base), type: 'kubernetes.io/tls' }, material: true },
  ];
  for (const c of cases) {
    test(`UPDATE changing ${c.name} is ${c.material ? '' : 'not '}material`, () => {
      assert.equal(clusterSecretRules.hasMaterialChange(base, c.next, context), c.material);
    });
  }
});
