/**
 * One result per object and rule, whatever the object holds: a tenant's ApplicationSet whose
 * list element names thousands of other clusters is a TG-AS-04 finding per name, and as one
 * result each (a red-team review) one object filled reports of a thousand results apiece,
 * and the reporter held every one of them in memory.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../../src/policy/types.js';
import { namespaceReports } from '../../src/report/policy-report.js';
import { scanObject } from '../../src/report/scan.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { tenantsYaml } from '../support/policy-fixtures.js';
import { reportValidator } from './report-support.js';

const TENANT_LABEL = 'tenantguard.dev/tenant';
const context = {
  registry: parseTenantsYaml(tenantsYaml('two-teams'), 'two-teams', 'argocd'),
  settings: resolveSettings({}),
};

/** A team-a ApplicationSet whose one list element names team-b's cluster `names` times. */
function appset(names: number): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'many', namespace: 'team-a', uid: 'u-1', labels: { [TENANT_LABEL]: 'team-a' } },
    spec: {
      goTemplate: true,
      generators: [
        { list: { elements: [{ names: Array.from({ length: names }, () => 'k8s-team-b-dev') }] } },
      ],
      template: {
        metadata: { name: '{{.name}}', labels: { [TENANT_LABEL]: 'team-a' } },
        spec: {
          project: 'team-a',
          source: { repoURL: 'https://git.example.com/a.git', path: 'app' },
          destination: { name: 'k8s-team-a-dev', namespace: 'app' },
        },
      },
    },
  };
}

describe('background scan: one result per object and rule', () => {
  test('2,000 findings of one rule are one result, which says how many the object holds', () => {
    const results = scanObject(appset(2_000), context) ?? [];
    assert.deepEqual(
      results.map((r) => [r.rule, r.result, r.findings]),
      [['TG-AS-04', 'fail', 2_000]],
    );
    assert.match(results[0]?.path ?? '', /^spec\.generators\[0\]\.list\.elements\[0\]\.names\[0\]$/);
    const [report, ...more] = namespaceReports('team-a', results, { format: 'wgpolicyk8s', now: 0 });
    assert.equal(more.length, 0);
    const validate = reportValidator('wgpolicyk8s.io_policyreports.yaml');
    assert.ok(validate(report), JSON.stringify(validate.errors));
    const [result] = (report?.results ?? []) as Array<{ properties: Record<string, string> }>;
    assert.equal(result?.properties.findings, '2000');
  });

  test('a single finding carries no count', () => {
    const results = scanObject(appset(1), context) ?? [];
    assert.deepEqual(
      results.map((r) => [r.rule, r.result, r.findings]),
      [['TG-AS-04', 'fail', undefined]],
    );
    const [report] = namespaceReports('team-a', results, { format: 'wgpolicyk8s', now: 0 });
    const [result] = (report?.results ?? []) as Array<{ properties: Record<string, string> }>;
    assert.equal(result?.properties.findings, undefined);
  });
});
