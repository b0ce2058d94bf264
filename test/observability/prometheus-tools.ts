/**
 * Debian's `prometheus` package for the observability tests: `promtool` and `prometheus` on
 * the PATH (`.ci/run` installs them). Without them a test is skipped locally and fails in CI
 * (CI=true), so a missing install step can never pass unnoticed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** The binary's path, or undefined when it is not installed. */
export function findBinary(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

/** `{ skip }` for node:test when the binary is missing outside CI; throws inside CI. */
export function needBinary(name: string): { skip?: string } {
  if (findBinary(name) !== undefined) return {};
  if (process.env.CI === 'true')
    throw new Error(`${name} is not installed; .ci/run installs Debian's prometheus package`);
  return { skip: `${name} not installed (apt-get install prometheus)` };
}

export const RULES_FILE = new URL('../../webhook-config/observability/alerts.rules.yaml', import.meta.url);
export const RULE_TESTS_FILE = new URL('./alerts.test.yaml', import.meta.url);
export const DASHBOARD_FILE = new URL('../../webhook-config/observability/dashboard.json', import.meta.url);
export const PROMETHEUS_RULE_FILE = new URL(
  '../../webhook-config/overlays/prometheus-operator/prometheusrule.yaml',
  import.meta.url,
);
export const OBSERVABILITY_DOC = new URL('../../docs/observability.md', import.meta.url);

export interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly Rule[];
}

export function ruleGroups(): RuleGroup[] {
  return (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: RuleGroup[] }).groups;
}

/** Every PromQL expression of the dashboard's panels. */
export function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
    panels: { targets: { expr: string }[] }[];
  };
  return dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
}

/**
 * Metric names an expression reads: identifiers of our prefix or the standard process and
 * Node.js families; a histogram's `_bucket`, `_sum` and `_count` series name their family.
 */
export function metricNames(expr: string): string[] {
  const names = [...expr.matchAll(/\b((?:tenant_guard|process|nodejs)_[a-z0-9_]+)\b/g)].map(
    (m) => m[1] ?? '',
  );
  return names.map((n) => n.replace(/_(bucket|sum|count)$/, ''));
}
