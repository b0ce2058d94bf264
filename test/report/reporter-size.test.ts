/**
 * The reporter against a test API server that refuses what etcd refuses (an object over
 * 1.5 MiB as Go's JSON stores it): a tenant's ApplicationSets whose generator key is text
 * that grows when stored (multi-byte UTF-8, `&` and `<` escaped by Go to 6 bytes) are still
 * reported, every result written, every report under the bound. Before (an operator review),
 * the bound counted UTF-16 characters: the one report was 2 MiB as stored, refused at every flush.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_REPORT_BYTES } from '../../src/report/policy-report.js';
import { Reporter } from '../../src/reporter/reporter.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { goJsonBytes } from '../support/api-size.js';
import { tenantsYaml } from '../support/policy-fixtures.js';
import { TestApiServer, type KubeJson, type ResourceType } from '../support/test-api-server.js';
import { eventually } from '../tenancy/watch-support.js';
import { ARGO_TYPES, POLICY_REPORTS } from './report-support.js';

const TENANT_LABEL = 'tenantguard.dev/tenant';
const APPSETS = 300;
/** UTF-8 of 1, 2, 3, 4 bytes; `&` and `<` and U+2028 that Go's encoder writes in 6. */
const KEY = 'a\u00e9\u6f22&<\u2028\u{1f600}'.repeat(600);

/** A team-a ApplicationSet whose list element names team-b's cluster under a long key (TG-AS-04). */
function appset(name: string): KubeJson {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name, namespace: 'team-a', labels: { [TENANT_LABEL]: 'team-a' } },
    spec: {
      goTemplate: true,
      generators: [{ list: { elements: [{ [KEY]: 'k8s-team-b-dev' }] } }],
      template: {
        metadata: { name: `${name}-app`, labels: { [TENANT_LABEL]: 'team-a' } },
        spec: {
          project: 'team-a',
          source: { repoURL: 'https://git.example.com/a.git', path: 'app' },
          destination: { name: 'k8s-team-a-dev', namespace: 'app' },
        },
      },
    },
  };
}

describe('reports of text that grows when stored', () => {
  let api: TestApiServer;
  let reporter: Reporter;
  const { logger, log } = capturedLogger('warn');

  before(async () => {
    api = await TestApiServer.start();
    for (const t of [...ARGO_TYPES, POLICY_REPORTS]) api.registerResource(t);
    for (let i = 0; i < APPSETS; i++) api.seed(ARGO_TYPES[0] as ResourceType, 'team-a', appset(`as-${i}`));
    reporter = new Reporter({
      kubeConfig: api.kubeConfig(),
      registry: { current: () => parseTenantsYaml(tenantsYaml('two-teams'), 'two-teams', 'argocd') },
      settings: resolveSettings({}),
      logger,
      flushIntervalMs: 0,
    });
    await reporter.start();
    await eventually('every ApplicationSet judged', () => reporter.state.size === APPSETS, 20_000);
  });

  after(async () => {
    await reporter?.stop();
    await api?.close();
  });

  test('every result is written, in reports each under the bound as stored', async () => {
    await reporter.flush();
    assert.deepEqual(
      log.records().map((r) => `${String(r.code)} ${String(r.msg)}`),
      [],
      'no write refused',
    );
    const reports = api.objects(POLICY_REPORTS);
    assert.ok(reports.length > 1, `${reports.length} reports`);
    const results = reports.flatMap((r) => r.results as { rule: string }[]);
    assert.equal(results.length, APPSETS);
    assert.ok(results.every((r) => r.rule === 'TG-AS-04'));
    for (const r of reports) assert.ok(goJsonBytes(r) <= MAX_REPORT_BYTES + 2_048, `${goJsonBytes(r)} bytes`);
  });
});
