import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clusterSecretRules } from '../../src/policy/cluster-secret.js';
import { evaluate, mutate } from '../../src/policy/evaluate.js';
import type { KubeObject, PolicyContext, PolicyRequest, RuleScope } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { editObject } from '../../src/policy/object-edit.js';
import { deepFreeze } from '../support/deep-freeze.js';
import { policyContext } from '../support/policy-fixtures.js';

// The CA registered for k8s-team-a-dev in test/fixtures/tenants/two-teams.yaml, a placeholder
// bundle: only compared as text, never parsed as a certificate.
const CA = Buffer.from(
  '-----BEGIN CERTIFICATE-----\nplaceholder-ca-for-team-a-dev\n-----END CERTIFICATE-----\n',
).toString('base64');

const settings = resolveSettings({});
const context: PolicyContext = policyContext('two-teams', settings);
const teamA = context.registry.tenant('team-a') as Tenant;
const ARGS = (name: string) => [
  settings.brokerUrl,
  name,
  settings.callerTokenPath,
  '--ca-file',
  settings.brokerCaPath,
];
const PLUGIN = {
  command: settings.pluginCommand,
  args: ARGS('k8s-team-a-dev'),
  apiVersion: 'client.authentication.k8s.io/v1',
  provideClusterInfo: true,
};

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: unknown) => Buffer.from(String(text), 'base64').toString('utf8');

function secret(body: Record<string, unknown>, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 's',
      namespace: 'argocd',
      labels: { 'argocd.argoproj.io/secret-type': 'cluster', ...labels },
    },
    ...body,
  };
}
function dataOf(fields: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, b64(v)]));
}

function scopeFor(object: KubeObject): RuleScope & { tenant: Tenant } {
  const request: PolicyRequest = {
    uid: 'u',
    kind: 'ClusterSecret',
    operation: 'CREATE',
    namespace: 'argocd',
    name: 's',
    object,
    user: { username: 'alice', groups: ['team-a-admins'] },
    dryRun: false,
  };
  return { request, tenant: teamA, role: 'human', context };
}

/** What /mutate would produce: the rules' additions, never written into `object` (frozen here). */
function mutated(object: KubeObject): KubeObject {
  const original = deepFreeze(structuredClone(object));
  const edit = editObject(original);
  clusterSecretRules.mutate(edit, scopeFor(original));
  return edit.object;
}

function rulesAfterMutate(object: KubeObject): string[] {
  const once = mutated(object);
  return clusterSecretRules.validate(scopeFor(once)).violations.map((v) => v.rule);
}

function dataField(object: KubeObject, key: string): string | undefined {
  const data = object.data as Record<string, unknown> | undefined;
  return data?.[key] === undefined ? undefined : unb64(data[key]);
}

describe('cluster Secret mutate', () => {
  const cases: Array<{ name: string; object: KubeObject; rules: string[] }> = [
    {
      name: 'name only in data: everything added',
      object: secret({ data: dataOf({ name: 'k8s-team-a-dev' }) }),
      rules: [],
    },
    {
      name: 'name only in stringData: added to data',
      object: secret({ stringData: { name: 'k8s-team-a-dev' } }),
      rules: [],
    },
    {
      name: 'prod cluster (no CA registered)',
      object: secret({ data: dataOf({ name: 'k8s-team-a-prod' }) }),
      rules: [],
    },
    {
      name: 'partial config completed',
      object: secret({
        data: dataOf({
          name: 'k8s-team-a-dev',
          config: JSON.stringify({
            tlsClientConfig: { serverName: 'Team-A-Dev.example.com' },
            execProviderConfig: { command: settings.pluginCommand },
          }),
        }),
      }),
      rules: [],
    },
    {
      name: 'wrong server is not overwritten',
      object: secret({ data: dataOf({ name: 'k8s-team-a-dev', server: 'https://evil.example.com' }) }),
      rules: ['TG-CS-02'],
    },
    {
      name: 'wrong command is not overwritten',
      object: secret({
        data: dataOf({
          name: 'k8s-team-a-dev',
          config: JSON.stringify({ execProviderConfig: { command: '/bin/sh' } }),
        }),
      }),
      rules: ['TG-CS-04'],
    },
    {
      name: 'config in stringData is left alone',
      object: secret({ stringData: { name: 'k8s-team-a-dev', config: '{}' } }),
      rules: ['TG-CS-04', 'TG-CS-05'],
    },
    {
      name: "another tenant's cluster gets no server or config",
      object: secret({ data: dataOf({ name: 'k8s-team-b-dev' }) }),
      rules: ['TG-CS-02', 'TG-CS-04'],
    },
    {
      name: 'config with a repeated key is not rewritten',
      object: secret({
        data: dataOf({ name: 'k8s-team-a-dev', config: '{"tlsClientConfig":{},"tlsClientConfig":{}}' }),
      }),
      rules: ['TG-CS-03', 'TG-CS-04', 'TG-CS-05'],
    },
    {
      name: 'unparseable config is not rewritten',
      object: secret({ data: dataOf({ name: 'k8s-team-a-dev', config: '{' }) }),
      rules: ['TG-REQ-01'],
    },
  ];
  for (const c of cases) {
    test(`${c.name}: validate after mutate gives ${c.rules.join(', ') || 'no violations'}`, () => {
      assert.deepEqual(rulesAfterMutate(c.object), c.rules);
    });
    test(`${c.name}: mutate twice equals mutate once`, () => {
      const once = mutated(c.object);
      assert.deepEqual(mutated(once), once);
    });
  }

  test('writes the canonical config, server and labels into data as base64', () => {
    const out = mutated(secret({ data: dataOf({ name: 'k8s-team-a-dev' }) }));
    assert.equal(out.stringData, undefined);
    assert.equal(dataField(out, 'server'), 'https://team-a-dev.example.com');
    assert.deepEqual(JSON.parse(dataField(out, 'config') ?? ''), {
      execProviderConfig: PLUGIN,
      tlsClientConfig: { caData: CA },
    });
    const labels = (out.metadata as { labels: Record<string, string> }).labels;
    assert.equal(labels[settings.tenantLabel], 'team-a');
    assert.equal(labels[settings.clusterLabel], 'k8s-team-a-dev');
  });

  test('completes a config in place, keeping its keys and their order', () => {
    const config = JSON.stringify({
      tlsClientConfig: { serverName: 'Team-A-Dev.example.com' },
      execProviderConfig: { command: settings.pluginCommand, installHint: 'see docs' },
    });
    const out = mutated(secret({ data: dataOf({ name: 'k8s-team-a-dev', config }) }));
    const text = dataField(out, 'config') ?? '';
    assert.equal(
      text,
      JSON.stringify({
        tlsClientConfig: { serverName: 'Team-A-Dev.example.com', caData: CA },
        execProviderConfig: {
          command: settings.pluginCommand,
          installHint: 'see docs',
          args: ARGS('k8s-team-a-dev'),
          apiVersion: 'client.authentication.k8s.io/v1',
          provideClusterInfo: true,
        },
      }),
    );
  });

  test('adds provideClusterInfo: true to a plugin call written without it (ADR 0011), then admits it', () => {
    const { provideClusterInfo: _dropped, ...withoutInfo } = PLUGIN;
    const config = JSON.stringify({ execProviderConfig: withoutInfo, tlsClientConfig: { caData: CA } });
    const object = secret(
      { data: dataOf({ name: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com', config }) },
      { [settings.clusterLabel]: 'k8s-team-a-dev', [settings.tenantLabel]: 'team-a' },
    );
    assert.deepEqual(
      clusterSecretRules.validate(scopeFor(object)).violations.map((v) => v.rule),
      ['TG-CS-04'],
    );
    const out = mutated(object);
    assert.deepEqual(JSON.parse(dataField(out, 'config') ?? '{}'), {
      execProviderConfig: PLUGIN,
      tlsClientConfig: { caData: CA },
    });
    assert.deepEqual(rulesAfterMutate(object), []);
  });

  test('leaves provideClusterInfo: false as written: /mutate replaces no value, TG-CS-04 denies it', () => {
    const config = JSON.stringify({
      execProviderConfig: { ...PLUGIN, provideClusterInfo: false },
      tlsClientConfig: { caData: CA },
    });
    const object = secret(
      { data: dataOf({ name: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com', config }) },
      { [settings.clusterLabel]: 'k8s-team-a-dev', [settings.tenantLabel]: 'team-a' },
    );
    assert.equal(
      JSON.parse(dataField(mutated(object), 'config') ?? '{}').execProviderConfig.provideClusterInfo,
      false,
    );
    assert.deepEqual(rulesAfterMutate(object), ['TG-CS-04']);
  });

  test('leaves a complete config byte for byte (no reformatting)', () => {
    const config = `{\n  "execProviderConfig": ${JSON.stringify(PLUGIN)},\n  "tlsClientConfig": {"caData": "${CA}"}\n}`;
    const object = secret(
      { data: dataOf({ name: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com', config }) },
      { [settings.clusterLabel]: 'k8s-team-a-dev', [settings.tenantLabel]: 'team-a' },
    );
    assert.deepEqual(mutated(object), object);
  });

  test('never writes a data key that stringData sets', () => {
    const out = mutated(
      secret({ stringData: { name: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' } }),
    );
    assert.equal(dataField(out, 'server'), undefined);
    assert.notEqual(dataField(out, 'config'), undefined);
  });

  test('the mutated data shape and the equivalent stringData shape decide alike', () => {
    const viaData = mutated(secret({ data: dataOf({ name: 'k8s-team-a-dev' }) }));
    const fields = Object.fromEntries(
      Object.entries(viaData.data as Record<string, string>).map(([k, v]) => [k, unb64(v)]),
    );
    const viaString = { ...structuredClone(viaData), data: undefined, stringData: fields };
    const rules = (o: KubeObject) => clusterSecretRules.validate(scopeFor(o)).violations.map((v) => v.rule);
    assert.deepEqual(rules(viaString), []);
    assert.deepEqual(rules(viaData), []);
    assert.equal(clusterSecretRules.hasMaterialChange(viaData, viaString, context), false);
  });
});

describe('cluster Secret through evaluate and mutate', () => {
  const owner = { username: 'alice', groups: ['team-a-admins'] };
  const admin = { username: 'root', groups: ['platform-admins'] };
  const request = (object: KubeObject, user = owner): PolicyRequest => ({
    uid: 'u',
    kind: 'ClusterSecret',
    operation: 'CREATE',
    namespace: 'argocd',
    name: 's',
    object,
    user,
    dryRun: false,
  });

  test('a minimal Secret is denied as sent and allowed once mutated; a second mutate adds nothing', () => {
    const object = secret({ data: dataOf({ name: 'k8s-team-a-dev' }) });
    const before = evaluate(request(object), context);
    assert.equal(before.allowed, false);
    assert.deepEqual(before.allowed ? [] : before.violations.map((v) => v.rule), [
      'TG-CS-02',
      'TG-CS-04',
      'TG-CS-05',
      'TG-CS-06',
    ]);
    const once = mutate(request(object), context).object;
    assert.ok(once !== undefined);
    assert.equal(evaluate(request(once), context).allowed, true);
    assert.deepEqual(mutate(request(once), context).object, once);
  });

  test('a platform admin may not point the plugin at an unregistered name (TG-CS-02, TG-CS-04 hold for admins)', () => {
    const config = JSON.stringify({ execProviderConfig: { ...PLUGIN, args: ARGS('k8s-team-a-dev') } });
    const decision = evaluate(
      request(
        secret({ data: dataOf({ name: 'sneaky', server: 'https://evil.example.com', config }) }),
        admin,
      ),
      context,
    );
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.allowed ? [] : decision.violations.map((v) => v.rule), [
      'TG-CS-02',
      'TG-CS-04',
    ]);
  });

  test("a platform admin's in-cluster Secret with its own credential is allowed", () => {
    const config = JSON.stringify({ bearerToken: 'x', tlsClientConfig: { insecure: false } });
    const decision = evaluate(
      request(
        secret({ data: dataOf({ name: 'in-cluster', server: 'https://kubernetes.default.svc', config }) }),
        admin,
      ),
      context,
    );
    assert.equal(decision.allowed, true);
  });

  test("a platform admin's bearer token on a tenant cluster calling the plugin is denied (TG-CS-03 holds for admins), its wrong server too", () => {
    const config = JSON.stringify({
      bearerToken: 'x',
      execProviderConfig: PLUGIN,
      tlsClientConfig: { caData: CA },
    });
    const decision = evaluate(
      request(
        secret(
          { data: dataOf({ name: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com.', config }) },
          { [settings.clusterLabel]: 'k8s-team-a-dev' },
        ),
        admin,
      ),
      context,
    );
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.allowed ? [] : decision.violations.map((v) => v.rule), [
      'TG-CS-02',
      'TG-CS-03',
    ]);
    assert.deepEqual(
      decision.audited.map((v) => v.rule),
      [],
    );
  });
});
