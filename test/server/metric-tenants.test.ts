/**
 * The `tenant` label of the metrics is bounded (an operator's review: 10,000 tenants gave
 * 120,000 series, and rendering them held the event loop for ~0.5 s at every scrape): the
 * first `--metrics-max-tenants` tenants get their own value, the rest share `_other`, so a
 * sum over tenants stays exact.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import request from 'supertest';
import { createBrokerMetrics } from '../../src/broker/broker-metrics.js';
import type { ScanFinding } from '../../src/report/scan.js';
import { registerReporterMetrics } from '../../src/reporter/reporter-metrics.js';
import { violation } from '../../src/policy/types.js';
import {
  boundMetricTenants,
  DEFAULT_METRIC_TENANTS,
  metricTenants,
  MetricTenants,
  NO_TENANT,
  OTHER_TENANTS,
} from '../../src/server/metric-tenants.js';
import { createMetricsRegistry } from '../../src/server/metrics.js';
import { parseServeOptions } from '../../src/server/serve-options.js';
import { buildApp, denied, fakePolicy, reviewBody } from './webhook-app-support.js';

/** The value of every series of `name` in a scrape, by its tenant label. */
function byTenant(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const tenant = /tenant="([^"]*)"/.exec(line)?.[1] ?? '';
    out.set(tenant, (out.get(tenant) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

describe('tenant label values are bounded', () => {
  test('the first `max` tenants keep their own value; later ones share _other; no tenant is none and takes no place', () => {
    const tenants = new MetricTenants(2);
    assert.equal(tenants.value(undefined), NO_TENANT);
    assert.equal(tenants.value(NO_TENANT), NO_TENANT);
    assert.equal(tenants.value('team-a'), 'team-a');
    assert.equal(tenants.value('team-b'), 'team-b');
    assert.equal(tenants.value('team-c'), OTHER_TENANTS);
    assert.equal(tenants.value('team-a'), 'team-a', 'a labelled tenant keeps its value');
    assert.equal(tenants.value('team-c'), OTHER_TENANTS);
    assert.equal(tenants.size, 2);
    const none = new MetricTenants(0);
    assert.equal(none.value('team-a'), OTHER_TENANTS);
    assert.equal(none.value(undefined), NO_TENANT);
    assert.equal(new MetricTenants().max, DEFAULT_METRIC_TENANTS);
  });

  test('one bound per registry, set before use; a second is refused', () => {
    const registry = new Registry();
    const bound = boundMetricTenants(registry, 3);
    assert.equal(metricTenants(registry), bound);
    assert.throws(() => boundMetricTenants(registry, 4), /already has a tenant bound/);
    assert.equal(metricTenants(new Registry()).max, DEFAULT_METRIC_TENANTS);
  });

  test('the webhook: past the bound, requests count under _other, the total stays exact, and the gauge says how many are labelled', async () => {
    let tenant = 'team-a';
    const metricsRegistry = createMetricsRegistry(1);
    const { app } = buildApp({
      metricsRegistry,
      policy: fakePolicy({
        evaluate: () => ({
          ...denied([violation('TG-APP-01', 'spec.project', 'no')]),
          summary: { tenant, enforcement: 'enforce', role: 'human' },
        }),
      }),
    });
    for (const t of ['team-a', 'team-b', 'team-c', 'team-a']) {
      tenant = t;
      await request(app).post('/validate').send(reviewBody());
    }
    const text = (await request(app).get('/metrics')).text;
    assert.deepEqual(
      [...byTenant(text, 'tenant_guard_admission_requests_total')],
      [
        ['team-a', 2],
        [OTHER_TENANTS, 2],
      ],
    );
    assert.deepEqual(
      [...byTenant(text, 'tenant_guard_admission_rule_results_total')],
      [
        ['team-a', 2],
        [OTHER_TENANTS, 2],
      ],
    );
    assert.match(text, /^tenant_guard_metric_tenants 1$/m);
  });

  test("the broker's token requests share the registry's bound", async () => {
    const registry = createMetricsRegistry(1);
    const metrics = createBrokerMetrics(registry, () => undefined);
    metrics.tokenRequest('issued', 'team-a');
    metrics.tokenRequest('issued', 'team-b');
    metrics.tokenRequest('ERR_BROKER_UNKNOWN_TARGET', undefined);
    const text = await registry.metrics();
    assert.deepEqual(
      [...byTenant(text, 'tenant_guard_broker_token_requests_total')],
      [
        ['team-a', 1],
        [OTHER_TENANTS, 1],
        [NO_TENANT, 1],
      ],
    );
  });

  test('--metrics-max-tenants: 0 to 100,000; another value is a usage error naming the flag', () => {
    const max = (raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
      parseServeOptions(raw, env, []).metricsMaxTenants;
    assert.equal(max({}), DEFAULT_METRIC_TENANTS);
    assert.equal(max({ metricsMaxTenants: '0' }), 0);
    assert.equal(max({}, { TG_METRICS_MAX_TENANTS: '100000' }), 100_000);
    for (const text of ['-1', '100001', '1e3', 'many', '1.5'])
      assert.throws(() => max({ metricsMaxTenants: text }), {
        code: 'ERR_USAGE',
        message: `--metrics-max-tenants "${text}" is not a number of tenants (0..100000)`,
      });
  });
});

describe("the reporter's results share the bound", () => {
  test('tenants past the bound add up under _other, and no tenant and a Tenant named none add up under none', async () => {
    const registry = createMetricsRegistry(1);
    const finding = (tenant: string | undefined): ScanFinding => ({
      object: { kind: 'Application', namespace: 'n', name: 'x' } as ScanFinding['object'],
      guardedKind: 'Application',
      tenant,
      rule: 'TG-APP-02',
      result: 'fail',
      message: '[TG-APP-02] x',
      path: 'spec',
    });
    const findings = ['team-a', 'team-b', 'team-c', 'team-a', undefined, 'none'].map(finding);
    registerReporterMetrics(registry, { findings: () => findings, pending: () => 0, failing: () => 0 });
    assert.deepEqual(
      [...byTenant(await registry.metrics(), 'tenant_guard_report_results')],
      [
        ['team-a', 2],
        [OTHER_TENANTS, 2],
        [NO_TENANT, 2],
      ],
    );
  });
});
