/**
 * The alert and recording rules, their promtool unit tests, the PrometheusRule that ships
 * them, the runbooks, and the dashboard: every expression parses (promtool) and names only
 * metrics that a running `serve` (webhook, broker and reporter) exposes; and
 * docs/observability.md lists exactly the metrics served.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import {
  dashboardExpressions,
  metricNames,
  needBinary,
  OBSERVABILITY_DOC,
  PROMETHEUS_RULE_FILE,
  RULE_TESTS_FILE,
  RULES_FILE,
  ruleGroups,
} from './prometheus-tools.js';
import { servedFamilies } from './served-metrics.js';

function promtool(args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const alerts = () =>
  ruleGroups()
    .flatMap((g) => g.rules)
    .filter((r) => r.alert !== undefined);

describe('alert and recording rules', () => {
  test('promtool check rules accepts the rules file', needBinary('promtool'), () => {
    const run = promtool(['check', 'rules', fileURLToPath(RULES_FILE)]);
    assert.equal(run.status, 0, run.output);
  });

  test('promtool test rules: every unit test passes', needBinary('promtool'), () => {
    const run = promtool(['test', 'rules', fileURLToPath(RULE_TESTS_FILE)]);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /SUCCESS/);
  });

  test('every alert is tested firing and not firing', () => {
    const tests = (
      parse(readFileSync(RULE_TESTS_FILE, 'utf8')) as {
        tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
      }
    ).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const rule of alerts()) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${rule.alert} is tested firing`,
      );
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${rule.alert} is tested not firing`,
      );
    }
    assert.ok(alerts().length >= 10);
  });

  test('every alert has a runbook section in docs/observability.md that its runbook_url names', () => {
    const doc = readFileSync(OBSERVABILITY_DOC, 'utf8');
    for (const rule of alerts()) {
      const name = rule.alert ?? '';
      assert.match(doc, new RegExp(`^### ${name}$`, 'm'), `runbook heading for ${name}`);
      // The conventional annotation (kube-prometheus, Alertmanager and Grafana link it), relative
      // to the repository root: the project has no public URL; the doc says how to rebase it.
      assert.equal(rule.annotations?.runbook_url, `docs/observability.md#${name.toLowerCase()}`);
      assert.equal(rule.annotations?.runbook, undefined, `${name}: no second runbook annotation`);
    }
  });

  test('the documented rewrite of the runbook base gives every alert an absolute runbook_url', () => {
    const doc = readFileSync(OBSERVABILITY_DOC, 'utf8');
    const sed = /<!-- runbook-base -->\n```sh\n[^\n]*sed '([^']+)'/.exec(doc)?.[1];
    assert.ok(sed !== undefined, 'docs/observability.md has the runbook-base command');
    const parts = /^s#([^#]+)#([^#]+)#$/.exec(sed);
    assert.ok(parts !== null, sed);
    const [, from = '', to = ''] = parts;
    for (const file of [RULES_FILE, PROMETHEUS_RULE_FILE]) {
      const rewritten: string = readFileSync(file, 'utf8').replaceAll(new RegExp(from, 'g'), to);
      const urls: string[] = [...rewritten.matchAll(/runbook_url: (\S+)/g)].map((m) => m[1] ?? '');
      assert.equal(urls.length, alerts().length);
      for (const url of urls) assert.match(url, /^https:\/\/\S+\/docs\/observability\.md#tenantguard[a-z]+$/);
    }
  });

  test('the PrometheusRule ships exactly the groups of the plain rules file', () => {
    const rule = parse(readFileSync(PROMETHEUS_RULE_FILE, 'utf8')) as {
      kind: string;
      spec: { groups: unknown };
    };
    assert.equal(rule.kind, 'PrometheusRule');
    assert.deepEqual(rule.spec.groups, ruleGroups());
  });
});

describe('dashboard and rule expressions', () => {
  test('every dashboard expression parses (promtool, as recording rules)', needBinary('promtool'), () => {
    const exprs = dashboardExpressions();
    assert.ok(exprs.length >= 10);
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: exprs.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: e.replaceAll('$job', '.*') })),
        },
      ],
    };
    const file = join(mkdtempSync(join(tmpdir(), 'tg-dash-')), 'dashboard.rules.yaml');
    writeFileSync(file, stringify(rules));
    const run = promtool(['check', 'rules', file]);
    assert.equal(run.status, 0, run.output);
  });

  test('every metric the dashboard and the rules read is served at /metrics', async () => {
    const served = await servedFamilies();
    const read = [
      ...dashboardExpressions(),
      ...ruleGroups().flatMap((g) => g.rules.map((r) => r.expr)),
    ].flatMap(metricNames);
    assert.ok(read.length > 20);
    const missing = [...new Set(read)].filter((n) => !served.has(n));
    assert.deepEqual(missing, [], 'metrics read but not served');
  });
});

describe('docs/observability.md', () => {
  test('its table lists every tenant_guard_ metric served, and no other', async () => {
    const served = [...(await servedFamilies())].filter((n) => n.startsWith('tenant_guard_')).sort();
    const doc = readFileSync(OBSERVABILITY_DOC, 'utf8');
    const documented = [...doc.matchAll(/^\| `(tenant_guard_[a-z0-9_]+)` \|/gm)].map((m) => m[1]).sort();
    assert.ok(served.length > 15, served.join(', '));
    assert.deepEqual(documented, served);
  });
});
