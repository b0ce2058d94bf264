/**
 * The background scan end to end against the test API server: objects exist before the scan;
 * a Tenant change breaks three of them and the PolicyReports say so; a fix and a delete make
 * the failures go away. Reports validate against the upstream CRD schema, show their counts
 * through its printer columns, survive write conflicts, and never carry Secret data.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Reporter } from '../../src/reporter/reporter.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import type { RegistryProvider, TenantRegistry } from '../../src/tenancy/registry.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { tenantsYaml } from '../support/policy-fixtures.js';
import { eventually } from '../tenancy/watch-support.js';
import { SECRETS, TestApiServer } from '../support/test-api-server.js';
import {
  application,
  ARGO_TYPES,
  POLICY_REPORTS,
  printerColumn,
  reportCrd,
  reportValidator,
} from './report-support.js';

const settings = resolveSettings({});
const full = () => parseTenantsYaml(tenantsYaml('two-teams'), 'two-teams', 'argocd');
/** team-a without its prod cluster: what a registry change that removes a cluster does. */
const withoutProd = () =>
  parseTenantsYaml(
    tenantsYaml('two-teams').replace(/^ {4}- \{ name: k8s-team-a-prod.*\n/m, ''),
    'two-teams-less',
    'argocd',
  );

interface Report {
  metadata: { name: string; namespace: string; resourceVersion: string };
  summary: Record<string, number>;
  results: { rule: string; result: string; message: string; resources: { name: string }[]; source: string }[];
}

describe('background scan into PolicyReports', () => {
  let api: TestApiServer;
  let reporter: Reporter;
  let registry: TenantRegistry = full();
  const provider: RegistryProvider = { current: () => registry };
  const reports = (namespace: string) =>
    api
      .objects(POLICY_REPORTS)
      .filter((r) => (r as unknown as Report).metadata.namespace === namespace) as unknown as Report[];
  const resultsOf = (namespace: string) =>
    reports(namespace)
      .flatMap((r) => r.results.map((x) => `${x.resources[0]?.name} ${x.rule} ${x.result}`))
      .sort();

  before(async () => {
    api = await TestApiServer.start();
    for (const t of [...ARGO_TYPES, POLICY_REPORTS]) api.registerResource(t);
    const apps = ARGO_TYPES[1] as (typeof ARGO_TYPES)[number];
    for (const [name, target] of [
      ['dev-1', 'k8s-team-a-dev'],
      ['dev-2', 'k8s-team-a-dev'],
      ['prod-1', 'k8s-team-a-prod'],
      ['prod-2', 'k8s-team-a-prod'],
      ['prod-3', 'k8s-team-a-prod'],
    ] as const) {
      api.seed(apps, 'team-a', application('team-a', name, target));
    }
    api.seed(apps, 'team-b', application('team-b', 'b-1', 'k8s-team-b-dev'));
    api.seed(SECRETS, 'argocd', {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: 'cluster-team-b-dev',
        namespace: 'argocd',
        labels: { 'argocd.argoproj.io/secret-type': 'cluster' },
      },
      data: {
        name: Buffer.from('k8s-team-b-dev').toString('base64'),
        server: Buffer.from('https://team-b-dev.example.com').toString('base64'),
        config: Buffer.from(JSON.stringify({ bearerToken: 'SECRET-MARKER-do-not-report' })).toString(
          'base64',
        ),
      },
    });
    reporter = new Reporter({
      kubeConfig: api.kubeConfig(),
      registry: provider,
      settings,
      logger: capturedLogger('error').logger,
      flushIntervalMs: 0,
      now: () => Date.parse('2026-11-30T00:00:00Z'),
    });
    await reporter.start();
    await eventually('every object judged', () => reporter.state.size === 7, 10_000);
  });

  after(async () => {
    await reporter?.stop();
    await api?.close();
  });

  test('objects made before the scan: reports per namespace, every result pass but the bad Secret', async () => {
    await reporter.flush();
    assert.deepEqual(resultsOf('team-a'), [
      'dev-1 TG-APP pass',
      'dev-2 TG-APP pass',
      'prod-1 TG-APP pass',
      'prod-2 TG-APP pass',
      'prod-3 TG-APP pass',
    ]);
    assert.deepEqual(resultsOf('team-b'), ['b-1 TG-APP pass']);
    const secretResults = resultsOf('argocd');
    assert.ok(
      secretResults.length > 0 && secretResults.every((r) => r.startsWith('cluster-team-b-dev TG-CS-')),
      secretResults.join(', '),
    );
    assert.ok(
      secretResults.some((r) => r.endsWith(' fail')),
      'a bearer token config fails TG-CS-03/04',
    );
    assert.ok(
      !JSON.stringify(api.objects(POLICY_REPORTS)).includes('SECRET-MARKER'),
      'no Secret data in any report',
    );
  });

  test('a Tenant change that breaks three objects: three fail results, with the denial line and its rule reference', async () => {
    registry = withoutProd();
    await reporter.flush();
    assert.deepEqual(resultsOf('team-a'), [
      'dev-1 TG-APP pass',
      'dev-2 TG-APP pass',
      'prod-1 TG-APP-02 fail',
      'prod-2 TG-APP-02 fail',
      'prod-3 TG-APP-02 fail',
    ]);
    const [report] = reports('team-a');
    assert.ok(report !== undefined);
    assert.deepEqual(report.summary, { pass: 2, fail: 3, warn: 0, error: 0, skip: 0 });
    const failing = report.results.find((r) => r.result === 'fail');
    assert.match(
      failing?.message ?? '',
      /^\[TG-APP-02\] spec\.destination\.name "k8s-team-a-prod" .*\(see docs\/rules\.md#tg-app-02\)$/,
    );
    assert.equal(failing?.source, 'tenant-guard');
    assert.deepEqual(resultsOf('team-b'), ['b-1 TG-APP pass'], 'team-b untouched');
  });

  test('the reports validate against the upstream CRD schema and show their counts in its printer columns', () => {
    const validate = reportValidator('wgpolicyk8s.io_policyreports.yaml');
    for (const r of api.objects(POLICY_REPORTS)) assert.ok(validate(r), JSON.stringify(validate.errors));
    const columns =
      reportCrd('wgpolicyk8s.io_policyreports.yaml').spec.versions[0]?.additionalPrinterColumns ?? [];
    const [report] = reports('team-a');
    const shown = Object.fromEntries(columns.map((c) => [c.name, printerColumn(report, c.jsonPath)]));
    assert.equal(shown.Pass, 2);
    assert.equal(shown.Fail, 3);
    assert.equal(shown.Warn, 0);
  });

  test('a fix and a delete: the failures go away, the deleted object leaves the report', async () => {
    const apps = ARGO_TYPES[1] as (typeof ARGO_TYPES)[number];
    for (const name of ['prod-1', 'prod-2']) {
      const stored = api.store.get(apps, 'team-a', name) as Record<string, unknown>;
      api.store.update(apps, 'team-a', name, {
        ...application('team-a', name, 'k8s-team-a-dev'),
        metadata: stored.metadata,
      });
    }
    api.store.delete(apps, 'team-a', 'prod-3');
    await eventually(
      'the fix and the delete seen by the informers',
      () =>
        resultsOf('team-a').length > 0 &&
        reporter.state.allFindings().filter((f) => f.object.namespace === 'team-a').length === 4 &&
        reporter.state.allFindings().every((f) => f.result !== 'fail' || f.object.namespace !== 'team-a'),
      10_000,
    );
    await reporter.flush();
    assert.deepEqual(resultsOf('team-a'), [
      'dev-1 TG-APP pass',
      'dev-2 TG-APP pass',
      'prod-1 TG-APP pass',
      'prod-2 TG-APP pass',
    ]);
  });

  test('a write conflict is re-read and retried; an unchanged report is not written again', async () => {
    registry = full();
    api.seed(
      ARGO_TYPES[1] as (typeof ARGO_TYPES)[number],
      'team-a',
      application('team-a', 'prod-9', 'k8s-team-b-dev'),
    );
    await eventually(
      'prod-9 judged',
      () => reporter.state.allFindings().some((f) => f.object.name === 'prod-9'),
      10_000,
    );
    api.failNextUpdate({ resource: 'policyreports' });
    await reporter.flush();
    assert.ok(resultsOf('team-a').includes('prod-9 TG-APP-02 fail'));
    const puts = api.count({ verb: 'update', resource: 'policyreports' });
    await reporter.flush();
    assert.equal(
      api.count({ verb: 'update', resource: 'policyreports' }),
      puts,
      'nothing changed, nothing written',
    );
  });
});
