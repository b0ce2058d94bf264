/**
 * The reporter after a restart: reports written by an earlier run (or in the other format)
 * are listed once the informers have synced and the registry is known, and each namespace
 * holding one is reconciled. Before (an operator review), a namespace emptied while the
 * reporter was down kept its report for good, and a `--report-format` change left the other
 * format's reports behind.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Reporter, type ReporterOptions } from '../../src/reporter/reporter.js';
import { REPORT_LIST_PAGE } from '../../src/reporter/report-inventory.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import type { TenantRegistry } from '../../src/tenancy/registry.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { tenantsYaml } from '../support/policy-fixtures.js';
import { TestApiServer, type KubeJson, type ResourceType } from '../support/test-api-server.js';
import { eventually } from '../tenancy/watch-support.js';
import { application, ARGO_TYPES, OPEN_REPORTS, POLICY_REPORTS } from './report-support.js';

const settings = resolveSettings({});
const registry = parseTenantsYaml(tenantsYaml('two-teams'), 'two-teams', 'argocd');
const apps = ARGO_TYPES[1] as ResourceType;

/** A report as an earlier run wrote it (or, `managedBy` another, a foreign one). */
function oldReport(
  type: ResourceType,
  namespace: string,
  managedBy = 'tenant-guard',
  name = 'tenant-guard',
): KubeJson {
  return {
    apiVersion: `${type.group}/${type.version}`,
    kind: type.kind,
    metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': managedBy } },
    summary: { pass: 1, fail: 0, warn: 0, error: 0, skip: 0 },
    results: [],
  };
}

describe('reporter restart: reports written before are reconciled', () => {
  let api: TestApiServer;
  let reporter: Reporter | undefined;
  const namespacesOf = (type: ResourceType) =>
    api
      .objects(type)
      .map((r) => (r.metadata as { namespace: string }).namespace)
      .sort();
  const start = async (options: Partial<ReporterOptions> = {}, judged = 1) => {
    reporter = new Reporter({
      kubeConfig: api.kubeConfig(),
      registry: { current: () => registry },
      settings,
      logger: capturedLogger('error').logger,
      flushIntervalMs: 0,
      ...options,
    });
    await reporter.start();
    await eventually('objects judged', () => reporter?.state.size === judged, 10_000);
    return reporter;
  };

  beforeEach(async () => {
    api = await TestApiServer.start();
    for (const t of ARGO_TYPES) api.registerResource(t);
    api.seed(apps, 'team-a', application('team-a', 'a-1', 'k8s-team-a-dev'));
  });

  afterEach(async () => {
    await reporter?.stop();
    reporter = undefined;
    await api.close();
  });

  test('a namespace emptied while the reporter was down loses its report at the first flush', async () => {
    api.registerResource(POLICY_REPORTS);
    api.seed(apps, 'team-b', application('team-b', 'b-1', 'k8s-team-b-dev'));
    const first = await start({}, 2);
    await first.flush();
    assert.deepEqual(namespacesOf(POLICY_REPORTS), ['team-a', 'team-b']);
    await first.stop();
    api.store.delete(apps, 'team-b', 'b-1');
    api.seed(POLICY_REPORTS, 'team-b', oldReport(POLICY_REPORTS, 'team-b', 'kyverno', 'kyverno-polr'));
    const second = await start();
    await second.flush();
    assert.deepEqual(
      api
        .objects(POLICY_REPORTS)
        .map((r: any) => `${r.metadata.namespace}/${r.metadata.name}`)
        .sort(),
      ['team-a/tenant-guard', 'team-b/kyverno-polr'],
      "team-b's own report gone; another tool's report in it kept",
    );
  });

  test('a --report-format change deletes the other format’s reports', async () => {
    api.registerResource(POLICY_REPORTS);
    api.registerResource(OPEN_REPORTS);
    for (const ns of ['team-a', 'gone']) api.seed(POLICY_REPORTS, ns, oldReport(POLICY_REPORTS, ns));
    const r = await start({ format: 'openreports' });
    await r.flush();
    assert.deepEqual(namespacesOf(POLICY_REPORTS), [], 'no PolicyReport of ours left');
    assert.deepEqual(namespacesOf(OPEN_REPORTS), ['team-a']);
  });

  test('a format whose CRD is missing breaks nothing; listed in pages', async () => {
    api.registerResource(POLICY_REPORTS);
    const stale = Array.from({ length: REPORT_LIST_PAGE + 5 }, (_, i) => `old-${String(i).padStart(2, '0')}`);
    for (const ns of stale) api.seed(POLICY_REPORTS, ns, oldReport(POLICY_REPORTS, ns));
    const { logger, log } = capturedLogger('warn');
    const r = await start({ logger, maxWritesPerFlush: 100 });
    await r.flush();
    assert.deepEqual(namespacesOf(POLICY_REPORTS), ['team-a']);
    assert.deepEqual(log.lines, [], 'no warning: openreports.io is not installed, so it has no report');
    const lists = api.requests.filter(
      (q) => q.verb === 'list' && q.resource === 'policyreports' && !q.namespace,
    );
    assert.equal(lists.length, 2, 'two pages');
    assert.ok(lists.every((q) => q.query.limit === String(REPORT_LIST_PAGE)));
    assert.ok(lists[1]?.query.continue !== undefined);
    assert.equal(api.count({ verb: 'list', resource: 'reports', status: 404 }), 1, 'asked once');
  });

  test('nothing is deleted before the registry is known', async () => {
    api.registerResource(POLICY_REPORTS);
    for (const ns of ['gone', 'team-a']) api.seed(POLICY_REPORTS, ns, oldReport(POLICY_REPORTS, ns));
    let current: TenantRegistry | undefined = undefined;
    const r = await start({ registry: { current: () => current } }, 0);
    await r.flush();
    assert.deepEqual(namespacesOf(POLICY_REPORTS), ['gone', 'team-a'], 'nothing judged yet');
    current = registry;
    await r.flush();
    assert.deepEqual(namespacesOf(POLICY_REPORTS), ['team-a']);
  });

  test('nothing is deleted while an informer has not listed', async () => {
    api.registerResource(POLICY_REPORTS);
    for (const ns of ['gone', 'team-a']) api.seed(POLICY_REPORTS, ns, oldReport(POLICY_REPORTS, ns));
    api.inject({ verb: 'list', resource: 'applications' }, { status: 500 }, 1);
    const r = await start({ retryMs: 50 }, 0);
    await r.flush();
    assert.deepEqual(namespacesOf(POLICY_REPORTS), ['gone', 'team-a'], 'applications not listed yet');
    await eventually('applications listed', () => r.state.size === 1, 10_000);
    await r.flush();
    assert.deepEqual(namespacesOf(POLICY_REPORTS), ['team-a']);
  });

  test('a list that fails is logged and tried again at the next flush', async () => {
    api.registerResource(POLICY_REPORTS);
    api.seed(POLICY_REPORTS, 'gone', oldReport(POLICY_REPORTS, 'gone'));
    api.inject({ verb: 'list', path: '/apis/wgpolicyk8s.io/v1alpha2/policyreports' }, { status: 403 }, 1);
    const { logger, log } = capturedLogger('warn');
    const r = await start({ logger });
    await r.flush();
    assert.deepEqual(namespacesOf(POLICY_REPORTS), ['gone', 'team-a']);
    assert.deepEqual(
      log.records().map((l) => `${String(l.code)} ${String(l.msg)}`),
      [
        'ERR_REPORT_LIST the reports written before could not be listed: the API server answered 403 Forbidden; listing again at the next flush',
      ],
    );
    await r.flush();
    assert.deepEqual(namespacesOf(POLICY_REPORTS), ['team-a']);
  });

  // A 410 Gone storm (a helper's review of the Tenant watch's fix): every watch of
  // Applications answered 410. Before, the reporter's informers, which share the bounded
  // watch, re-listed every Application of the cluster in a tight loop and logged nothing.
  test('a watch answered 410 again and again: one re-list at once, then the error, retried after retryMs', async () => {
    api.inject({ verb: 'watch', resource: 'applications' }, { status: 410 });
    const { logger, log } = capturedLogger('warn');
    // The retry does not come within the test: what is counted is what the storm did.
    await start({ logger, retryMs: 3_600_000 });
    await eventually(
      'the watch error logged',
      () => log.records().some((l) => l.code === 'ERR_REPORT_WATCH'),
      10_000,
    );
    assert.equal(api.count({ verb: 'list', resource: 'applications' }), 2, 'the first list and one re-list');
    assert.equal(api.count({ verb: 'watch', resource: 'applications' }), 2);
    const logged = log.records().filter((l) => l.code === 'ERR_REPORT_WATCH');
    assert.equal(logged.length, 1);
    assert.match(String(logged[0]?.msg), /410, again before a watch proved itself/);
  });
});
