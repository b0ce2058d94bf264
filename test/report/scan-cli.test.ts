/**
 * `tenant-guard scan`: over a folder of manifests (recursive, multi-document) and over the
 * API (the test API server, Tenants read from it); table, JSON and Policy Report output;
 * exit 1 when anything fails, 0 when nothing does, 2 on bad input.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { tenantsYaml } from '../support/policy-fixtures.js';
import { TestApiServer } from '../support/test-api-server.js';
import { seedOneClusterTenant, writeKubeconfig } from '../support/test-api-setup.js';
import { runCli, tempDir } from '../cli/cli-support.js';
import { application, ARGO_TYPES, reportValidator } from './report-support.js';

function folder(): string {
  const dir = tempDir('tg-scan-');
  writeFileSync(join(dir, 'tenants.yaml'), tenantsYaml('two-teams'));
  mkdirSync(join(dir, 'apps', 'team-a'), { recursive: true });
  writeFileSync(
    join(dir, 'apps', 'team-a', 'apps.yaml'),
    [
      application('team-a', 'good', 'k8s-team-a-dev'),
      application('team-a', 'to-b', 'k8s-team-b-prod'),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other', namespace: 'team-a' } },
    ]
      .map((o) => stringify(o))
      .join('---\n'),
  );
  writeFileSync(join(dir, 'apps', 'b.json'), JSON.stringify(application('team-b', 'fine', 'k8s-team-b-dev')));
  return dir;
}

describe('tenant-guard scan -f DIR', () => {
  test('a table by tenant, rule and object, a summary with the skipped count, exit 1 on a failure', async () => {
    const dir = folder();
    const out = await runCli(['scan', '-f', join(dir, 'apps'), '--tenants', join(dir, 'tenants.yaml')]);
    assert.equal(out.code, 1, out.stderr);
    const lines = out.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^TENANT\s+RULE\s+RESULT\s+OBJECT\s+MESSAGE$/);
    assert.match(
      lines[1] ?? '',
      /^team-a\s+TG-APP-02\s+FAIL\s+Application team-a\/to-b\s+\[TG-APP-02\] spec\.destination\.name "k8s-team-b-prod"/,
    );
    assert.equal(
      lines.at(-1),
      '3 objects: 2 pass, 1 fail, 0 warn; 1 skipped (kinds tenant-guard does not judge)',
    );
  });

  test("-o json uses the audit record's field names; exit 0 when nothing fails", async () => {
    const dir = folder();
    const bad = await runCli([
      'scan',
      '-f',
      join(dir, 'apps'),
      '--tenants',
      join(dir, 'tenants.yaml'),
      '-o',
      'json',
    ]);
    const body = JSON.parse(bad.stdout) as {
      summary: { fail: number };
      results: { name: string; result: string; rules: { id: string; path: string; message: string }[] }[];
    };
    assert.equal(body.summary.fail, 1);
    const failing = body.results.find((r) => r.result === 'fail');
    assert.equal(failing?.name, 'to-b');
    assert.equal(failing?.rules[0]?.id, 'TG-APP-02');
    assert.equal(failing?.rules[0]?.path, 'spec.destination.name');
    const good = await runCli([
      'scan',
      '-f',
      join(dir, 'apps', 'b.json'),
      '--tenants',
      join(dir, 'tenants.yaml'),
    ]);
    assert.equal(good.code, 0, good.stdout);
  });

  test("-o policyreport prints the background scan's reports, valid against the upstream CRD", async () => {
    const dir = folder();
    const out = await runCli([
      'scan',
      '-f',
      join(dir, 'apps'),
      '--tenants',
      join(dir, 'tenants.yaml'),
      '-o',
      'policyreport',
    ]);
    const reports = parseAllDocuments(out.stdout).map(
      (d) => d.toJS() as { kind: string; metadata: { namespace: string }; summary: { fail: number } },
    );
    assert.deepEqual(
      reports.map((r) => `${r.kind} ${r.metadata.namespace} ${r.summary.fail}`),
      ['PolicyReport team-a 1', 'PolicyReport team-b 0'],
    );
    const validate = reportValidator('wgpolicyk8s.io_policyreports.yaml');
    for (const r of reports) assert.ok(validate(r), JSON.stringify(validate.errors));
  });

  test('bad input is exit 2 with a clear message', async () => {
    const dir = folder();
    const noTenants = await runCli(['scan', '-f', join(dir, 'apps')], { env: {} });
    assert.equal(noTenants.code, 2);
    assert.match(noTenants.stderr, /scan -f needs --tenants FILE/);
    const missing = await runCli(['scan', '-f', join(dir, 'nope'), '--tenants', join(dir, 'tenants.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*nope: ENOENT/);
    const noSource = await runCli(['scan'], { env: {} });
    assert.equal(noSource.code, 2);
    assert.match(noSource.stderr, /scan needs -f DIR/);
  });
});

describe('tenant-guard scan --kubeconfig', () => {
  test('reads the objects and the Tenants from the API', async () => {
    const api = await TestApiServer.start();
    try {
      for (const t of ARGO_TYPES) api.registerResource(t);
      seedOneClusterTenant(api);
      const apps = ARGO_TYPES[1] as (typeof ARGO_TYPES)[number];
      api.seed(apps, 'team-a', application('team-a', 'ok', 'k8s-team-a-dev'));
      api.seed(apps, 'team-a', application('team-a', 'gone', 'k8s-team-a-prod'));
      const kubeconfig = writeKubeconfig(api, tempDir());
      const out = await runCli(['scan', '--kubeconfig', kubeconfig, '-o', 'json'], { env: {} });
      assert.equal(out.code, 1, out.stderr);
      const body = JSON.parse(out.stdout) as {
        results: { name: string; result: string; rules: { id: string }[] }[];
      };
      assert.deepEqual(
        body.results.map((r) => `${r.name} ${r.result} ${r.rules.map((x) => x.id).join(',')}`).sort(),
        ['gone fail TG-APP-02', 'ok pass '],
      );
    } finally {
      await api.close();
    }
  });
});
