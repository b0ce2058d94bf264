/**
 * PolicyReports stay well under etcd's object size whatever the findings: split by results
 * and by bytes, each message and path cut. Found by a red-team review: 700 findings under one
 * 3,900-character key made one 6 MB report, which the API server refused at every flush.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_LINE_CHARS } from '../../src/policy/answer-limits.js';
import { MAX_REPORT_BYTES, namespaceReports } from '../../src/report/policy-report.js';
import type { ScanFinding } from '../../src/report/scan.js';

function finding(i: number, path: string): ScanFinding {
  return {
    object: {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      namespace: 'team-a',
      name: `a${i}`,
    },
    guardedKind: 'ApplicationSet',
    tenant: 'team-a',
    rule: 'TG-AS-04',
    result: 'warn',
    message: `[TG-AS-04] ${path} names another tenant's cluster`,
    path,
  };
}

describe('namespaceReports', () => {
  test('700 findings with 4 KB paths: several reports, each under MAX_REPORT_BYTES, every result kept and cut', () => {
    const path = `spec.generators[0].list.elements[0]["${'k'.repeat(3_900)}"]`;
    const findings = Array.from({ length: 700 }, (_, i) => finding(i, path));
    const reports = namespaceReports('team-a', findings, { format: 'wgpolicyk8s', now: 0 });
    assert.ok(reports.length > 1, `${reports.length} reports`);
    let results = 0;
    for (const report of reports) {
      assert.ok(JSON.stringify(report).length < MAX_REPORT_BYTES + 10_000, 'under the byte bound');
      for (const r of report.results as Array<{ message: string; properties: { path: string } }>) {
        // capLine keeps the start and says how many more characters there were, within MAX_LINE_CHARS.
        assert.ok(r.message.length <= MAX_LINE_CHARS && r.properties.path.length <= MAX_LINE_CHARS);
        results += 1;
      }
    }
    assert.equal(results, 700);
    assert.deepEqual(reports.map((r) => (r.metadata as { name: string }).name).slice(0, 2), [
      'tenant-guard',
      'tenant-guard-2',
    ]);
  });

  test('still split by the count of results', () => {
    const findings = Array.from({ length: 5 }, (_, i) => finding(i, 'spec.x'));
    const reports = namespaceReports('team-a', findings, {
      format: 'wgpolicyk8s',
      now: 0,
      maxResultsPerReport: 2,
    });
    assert.deepEqual(
      reports.map((r) => (r.results as unknown[]).length),
      [2, 2, 1],
    );
  });
});
