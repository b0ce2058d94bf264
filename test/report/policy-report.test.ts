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
import { ETCD_MAX_REQUEST_BYTES, goJsonBytes } from '../support/api-size.js';

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

  // The key is the tenant's own text: what the API server stores is Go's JSON of it, UTF-8 and
  // with <, >, & and U+2028/9 escaped in 6 bytes (an operator review: a key of 漢 made 2.56 MiB
  // reports, of & or < 4.9 MiB, each refused by etcd at every flush).
  for (const [label, unit] of [
    ['ASCII', 'k'],
    ['CJK, 3 bytes in UTF-8', '\u6f22'],
    ['an emoji, 4 bytes and 2 UTF-16 units', '\u{1f600}'],
    ['&, written \\u0026', '&'],
    ['< and >', '<>'],
    ['U+2028 and U+2029', '\u2028\u2029'],
    ['a mix', 'a\u00e9\u6f22&<\u2028\u{1f600}'],
  ] as const)
    test(`700 findings under a 3,900-character key of ${label}: every report stored under the bound`, () => {
      const path = `spec.generators[0].list.elements[0]["${unit.repeat(Math.ceil(3_900 / unit.length))}"]`;
      const findings = Array.from({ length: 700 }, (_, i) => finding(i, path));
      const reports = namespaceReports('team-a', findings, { format: 'wgpolicyk8s', now: 0 });
      const stored = reports.map(goJsonBytes);
      // The report's own fields (apiVersion, metadata, summary) are a few hundred bytes.
      assert.ok(
        stored.every((b) => b <= MAX_REPORT_BYTES + 1_024),
        `stored sizes ${stored.join(', ')}`,
      );
      assert.ok(Math.max(...stored) < ETCD_MAX_REQUEST_BYTES - 256 * 1024, 'room left for managedFields');
      assert.equal(
        reports.reduce((n, r) => n + (r.results as unknown[]).length, 0),
        700,
        'every result kept',
      );
    });
});
