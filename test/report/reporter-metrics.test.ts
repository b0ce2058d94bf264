/**
 * The reporter's health in its metrics, against the test API server: namespace writes by
 * outcome, the namespaces waiting and failing, when the last flush ended. Before (an operator review), a
 * reporter whose every write failed showed nothing of it outside its log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { Reporter } from '../../src/reporter/reporter.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { tenantsYaml } from '../support/policy-fixtures.js';
import { TestApiServer, type ResourceType } from '../support/test-api-server.js';
import { eventually } from '../tenancy/watch-support.js';
import { application, ARGO_TYPES, POLICY_REPORTS } from './report-support.js';

const apps = ARGO_TYPES[1] as ResourceType;

describe('reporter metrics', () => {
  let api: TestApiServer;
  let reporter: Reporter;
  const metrics = new Registry();
  let t = 1_800_000_000_000;
  /** The exposition's sample lines of the reporter's health metrics. */
  const health = async () =>
    (await metrics.metrics())
      .split('\n')
      .filter((l) =>
        /^tenant_guard_report_(writes_total|pending_namespaces|failing_namespaces|last_flush)/.test(l),
      );

  before(async () => {
    api = await TestApiServer.start();
    for (const type of [...ARGO_TYPES, POLICY_REPORTS]) api.registerResource(type);
    api.seed(apps, 'team-a', application('team-a', 'a-1', 'k8s-team-a-dev'));
    api.seed(apps, 'quota', application('quota', 'q-1', 'k8s-team-a-dev'));
    api.inject({ resource: 'policyreports', namespace: 'quota', verb: 'create' }, { status: 403 });
    // A report of an earlier run whose namespace has no object now.
    api.seed(POLICY_REPORTS, 'gone', {
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: 'PolicyReport',
      metadata: { name: 'tenant-guard', labels: { 'app.kubernetes.io/managed-by': 'tenant-guard' } },
      results: [],
    });
    reporter = new Reporter({
      kubeConfig: api.kubeConfig(),
      registry: { current: () => parseTenantsYaml(tenantsYaml('two-teams'), 'two-teams', 'argocd') },
      settings: resolveSettings({}),
      logger: capturedLogger('error').logger,
      flushIntervalMs: 0,
      now: () => t,
      metrics,
    });
    await reporter.start();
    await eventually('both judged', () => reporter.state.size === 2, 10_000);
  });

  after(async () => {
    await reporter?.stop();
    await api?.close();
  });

  test('before a flush: every outcome at 0, both namespaces pending, flush time 0', async () => {
    assert.deepEqual(await health(), [
      'tenant_guard_report_writes_total{outcome="written"} 0',
      'tenant_guard_report_writes_total{outcome="unchanged"} 0',
      'tenant_guard_report_writes_total{outcome="deleted"} 0',
      'tenant_guard_report_writes_total{outcome="failed"} 0',
      'tenant_guard_report_pending_namespaces 2',
      'tenant_guard_report_failing_namespaces 0',
      'tenant_guard_report_last_flush_timestamp_seconds 0',
    ]);
  });

  test('a flush: one namespace written, one deleted, one failed and still pending', async () => {
    await reporter.flush();
    assert.deepEqual(await health(), [
      'tenant_guard_report_writes_total{outcome="written"} 1',
      'tenant_guard_report_writes_total{outcome="unchanged"} 0',
      'tenant_guard_report_writes_total{outcome="deleted"} 1',
      'tenant_guard_report_writes_total{outcome="failed"} 1',
      'tenant_guard_report_pending_namespaces 1',
      'tenant_guard_report_failing_namespaces 1',
      `tenant_guard_report_last_flush_timestamp_seconds ${t / 1000}`,
    ]);
  });

  test('a namespace written again with nothing changed counts as unchanged', async () => {
    reporter.state.markDirty('team-a');
    t += 1_000;
    await reporter.flush();
    const lines = await health();
    assert.ok(lines.includes('tenant_guard_report_writes_total{outcome="unchanged"} 1'), lines.join('\n'));
    assert.ok(lines.includes(`tenant_guard_report_last_flush_timestamp_seconds ${t / 1000}`));
    assert.ok(lines.includes('tenant_guard_report_writes_total{outcome="failed"} 1'), 'quota still waits');
    assert.ok(lines.includes('tenant_guard_report_failing_namespaces 1'));
  });

  test('the failing namespace written at last: none failing, none pending', async () => {
    api.clearFaults();
    t += 2_000;
    await reporter.flush();
    const lines = await health();
    assert.ok(lines.includes('tenant_guard_report_writes_total{outcome="written"} 2'), lines.join('\n'));
    assert.ok(lines.includes('tenant_guard_report_failing_namespaces 0'));
    assert.ok(lines.includes('tenant_guard_report_pending_namespaces 0'));
  });
});
