/**
 * `GET /metrics` renders in slices with turns of the event loop between them, and says
 * exactly what prom-client's `registry.metrics()` says (metrics-render.ts). Why: one render
 * of the default 1,000 metric tenants' series held the loop that answers admission reviews
 * for ~45 ms at every scrape.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry, Summary, type RegistryContentType } from 'prom-client';
import express, { type Request, type Response } from 'express';
import request from 'supertest';
import { createBrokerMetrics } from '../../src/broker/broker-metrics.js';
import type { ScanFinding } from '../../src/report/scan.js';
import { registerReporterMetrics } from '../../src/reporter/reporter-metrics.js';
import { createMetricsRegistry, createWebhookMetrics, metricsHandler } from '../../src/server/metrics.js';
import {
  FAMILY_WORK,
  nextTurn,
  renderMetrics,
  SERIES_PER_SLICE,
  type RenderedMetrics,
  type RenderOptions,
} from '../../src/server/metrics-render.js';
import { registerRegistryMetrics } from '../../src/tenancy/tenant-metrics.js';

type AnyRegistry = Registry<RegistryContentType>;

/** Label values with every character the format escapes, and the shared tenant values. */
const LABEL_VALUE = fc.oneof(
  fc.constantFrom('team-a', '_other', 'none', 'a\\b', 'say "hi"', 'two\nlines', 'é ✓', '', '{x="y"},'),
  fc.string({ maxLength: 6 }),
);
const VALUE = fc.oneof(
  fc.constantFrom(0, 1, 0.1, 1.5e-7, 1e21, 123456789.125, 0.0025),
  fc.integer({ min: 0, max: 1_000_000 }),
);
const HELP = fc.constantFrom('plain help', 'help with \\ and\nnewline', 'quotes " stay');
const LABEL_NAMES = fc.subarray(['tenant', 'rule', 'kind'], { minLength: 0 });

interface FamilySpec {
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary';
  readonly help: string;
  readonly labelNames: string[];
  readonly samples: { labels: string[]; value: number }[];
}

const FAMILY: fc.Arbitrary<FamilySpec> = fc.record({
  type: fc.constantFrom('counter', 'gauge', 'histogram', 'summary'),
  help: HELP,
  labelNames: LABEL_NAMES,
  samples: fc.array(
    fc.record({ labels: fc.array(LABEL_VALUE, { minLength: 3, maxLength: 3 }), value: VALUE }),
    {
      maxLength: 12,
    },
  ),
});

/** A registry holding `families` (names f0, f1, ...; counters end in `_total`). */
function registryOf(families: readonly FamilySpec[], openMetrics: boolean, defaults: boolean): AnyRegistry {
  const registry: AnyRegistry = new Registry();
  if (openMetrics) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  if (defaults) registry.setDefaultLabels({ pod: 'tg-0', zone: 'a"\\\n' });
  families.forEach((f, i) => {
    const common = { help: f.help, labelNames: f.labelNames, registers: [registry] };
    const labels = (values: string[]) => Object.fromEntries(f.labelNames.map((n, j) => [n, values[j] ?? '']));
    if (f.type === 'counter') {
      const c = new Counter({ name: `f${i}_total`, ...common });
      for (const s of f.samples) c.inc(labels(s.labels), s.value);
    } else if (f.type === 'gauge') {
      const g = new Gauge({ name: `f${i}`, ...common });
      for (const s of f.samples) g.set(labels(s.labels), -s.value);
    } else if (f.type === 'histogram') {
      const h = new Histogram({ name: `f${i}_seconds`, buckets: [0.001, 0.1, 10], ...common });
      for (const s of f.samples) h.observe(labels(s.labels), s.value);
    } else {
      const m = new Summary({ name: `f${i}_bytes`, percentiles: [0.5, 0.99], ...common });
      for (const s of f.samples) m.observe(labels(s.labels), s.value);
    }
  });
  return registry;
}

/** The text of a rendered scrape. */
function textOf(parts: RenderedMetrics): string {
  return Buffer.concat(parts).toString('utf8');
}

/** `parts` are the UTF-8 bytes of `text` (a string comparison first, for a readable diff). */
function assertSameBytes(parts: RenderedMetrics, text: string): void {
  const bytes = Buffer.concat(parts);
  assert.equal(bytes.toString('utf8'), text);
  assert.ok(bytes.equals(Buffer.from(text, 'utf8')), 'the same bytes');
}

/** The lines of a text but those of prom-client's default families, whose values move. */
function ourLines(text: string): string[] {
  return text.split('\n').filter((line) => !/^(# (HELP|TYPE) )?(process_|nodejs_)/.test(line));
}

/** A registry as `serve` fills it: `tenants` tenants past a bound of 3, every component's metrics. */
function servedRegistry(tenants: number): Registry {
  const registry = createMetricsRegistry(3);
  const webhook = createWebhookMetrics(registry);
  const broker = createBrokerMetrics(registry, () => undefined, {
    timing: { rotationPeriodMs: 86_400_000, publishAheadMs: 3_600_000 },
  });
  registerRegistryMetrics(registry, () => ({
    synced: true,
    stale: false,
    fresh: true,
    lastSyncTime: new Date(1_700_000_000_000),
    accepted: tenants,
    rejected: 0,
    invalid: 0,
    consecutiveFailures: 0,
  }));
  const findings: ScanFinding[] = [];
  for (let t = 0; t < tenants; t++) {
    const tenant = `team-${t}`;
    for (const decision of ['patched', 'allowed', 'denied'] as const)
      webhook.observe({ endpoint: 'validate', kind: 'Application', decision, tenant }, 0.002 * t);
    webhook.ruleResult({ kind: 'Application', tenant, rule: 'TG-APP-02', action: 'denied' });
    broker.tokenRequest(t % 2 === 0 ? 'issued' : 'ERR_BROKER_FORBIDDEN', tenant);
    findings.push({
      object: { kind: 'Application', namespace: 'n', name: `x${t}` } as ScanFinding['object'],
      guardedKind: 'Application',
      tenant,
      rule: 'TG-APP-02',
      result: 'fail',
      message: '[TG-APP-02] x',
      path: 'spec',
    });
  }
  webhook.observe({ endpoint: 'mutate', kind: 'unknown', decision: 'bad_request' }, 0.0001);
  registerReporterMetrics(registry, { findings: () => findings, pending: () => 2, failing: () => 1 });
  return registry;
}

/** A registry of `series` gauge series in one family, and one family without labels. */
function largeRegistry(series: number): Registry {
  const registry = new Registry();
  const gauge = new Gauge({ name: 'big', help: 'h', labelNames: ['tenant'], registers: [registry] });
  for (let i = 0; i < series; i++) gauge.set({ tenant: `team-${i}` }, i);
  new Gauge({ name: 'small', help: 'h', registers: [registry] }).set(1);
  return registry;
}

describe('metrics rendered in slices: the same text as registry.metrics()', () => {
  test('any registry of counters, gauges, histograms and summaries, escaped labels and help, default labels, either content type, any slice size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(FAMILY, { maxLength: 6 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 7 }),
        async (families, openMetrics, defaults, seriesPerSlice) => {
          const registry = registryOf(families, openMetrics, defaults);
          const sliced = await renderMetrics(registry, { seriesPerSlice, familyWork: seriesPerSlice % 3 });
          assertSameBytes(sliced, await registry.metrics());
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a registry as serve fills it, with tenants past the bound under _other and the reporter's results", async () => {
    const registry = servedRegistry(40);
    const sliced = textOf(await renderMetrics(registry, { seriesPerSlice: 7 }));
    const whole = await registry.metrics();
    assert.match(
      sliced,
      /^tenant_guard_admission_requests_total\{endpoint="validate",kind="Application",decision="denied",tenant="_other"\} 37$/m,
    );
    assert.match(sliced, /tenant_guard_report_results\{tenant="_other",rule="TG-APP-02",result="fail"\} 37/);
    assert.deepEqual(ourLines(sliced), ourLines(whole));
    const names = (text: string) => [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(names(sliced), names(whole), "every family, prom-client's default ones too, in order");
  });

  test('OpenMetrics exemplars of counters and histograms', async () => {
    const registry: AnyRegistry = new Registry();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    // `trace` is named so that the typings take it as an exemplar label; no series carries it.
    const c = new Counter({
      name: 'ex_total',
      help: 'h',
      labelNames: ['tenant', 'trace'],
      enableExemplars: true,
      registers: [registry],
    });
    const h = new Histogram({
      name: 'ex_seconds',
      help: 'h',
      labelNames: ['tenant', 'trace'],
      buckets: [0.1, 1],
      enableExemplars: true,
      registers: [registry],
    });
    for (const tenant of ['team-a', '_other']) {
      c.inc({ labels: { tenant }, value: 2, exemplarLabels: { trace: `t-${tenant}` } });
      h.observe({ labels: { tenant }, value: 0.5, exemplarLabels: { trace: `t-"${tenant}"` } });
    }
    const sliced = await renderMetrics(registry, { seriesPerSlice: 2 });
    assert.match(textOf(sliced), / # \{trace="t-team-a"\} 2 /);
    assertSameBytes(sliced, await registry.metrics());
  });
});

describe('metrics rendered in slices: the event loop turns between them', () => {
  test('a callback queued after the render starts runs before the render ends', async () => {
    let ran = false;
    const render = renderMetrics(largeRegistry(2_000));
    setImmediate(() => (ran = true));
    await render;
    assert.equal(ran, true);
  });

  test('GET /metrics turns the loop while it renders and between the parts it writes; the body is registry.metrics()', async () => {
    const registry = largeRegistry(2_000);
    const events: string[] = [];
    const body: Buffer[] = [];
    let ended!: () => void;
    const done = new Promise<void>((resolve) => (ended = resolve));
    const res = {
      destroyed: false,
      headers: new Map<string, string>(),
      type: () => res,
      setHeader: (name: string, value: string) => res.headers.set(name, value),
      write: (chunk: Buffer) => {
        events.push('write');
        body.push(chunk);
      },
      end: () => {
        events.push('end');
        ended();
      },
      // What the handler did before: the whole text at once.
      send: (text: string) => {
        events.push('write', 'end');
        body.push(Buffer.from(text));
        ended();
      },
    };
    let finished = false;
    const tick = () => {
      if (finished) return;
      events.push('turn');
      setImmediate(tick);
    };
    const handled = metricsHandler(registry)({} as Request, res as unknown as Response);
    setImmediate(tick);
    await Promise.all([handled, done]);
    finished = true;
    assert.equal(events[0], 'turn', 'the loop turned before the first byte');
    assert.ok(body.length > 1, `${body.length} parts`);
    assert.doesNotMatch(events.join(','), /write,write/, 'a turn between two parts');
    assertSameBytes(body, await registry.metrics());
    assert.equal(res.headers.get('Content-Length'), String(Buffer.concat(body).length));
  });

  test('GET /metrics over HTTP: the bytes and content type of registry.metrics(), Prometheus or OpenMetrics', async () => {
    for (const openMetrics of [false, true]) {
      const registry = servedRegistry(20);
      if (openMetrics) (registry as AnyRegistry).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
      const app = express();
      app.get('/metrics', metricsHandler(registry));
      const res = await request(app).get('/metrics');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], registry.contentType);
      assert.equal(res.headers['content-length'], String(Buffer.byteLength(res.text)));
      assert.equal(res.headers['transfer-encoding'], undefined, 'one body of a known length');
      const whole = await registry.metrics();
      assert.deepEqual(ourLines(res.text), ourLines(whole));
      assert.equal(res.text.endsWith(openMetrics ? '\n# EOF\n' : '\n'), true);
      const head = await request(app).head('/metrics');
      assert.equal(head.status, 200);
    }
  });

  /** Turns of the loop while `registry` renders. */
  async function turnsOf(registry: Registry, options: RenderOptions = {}): Promise<number> {
    let turns = 0;
    await renderMetrics(registry, {
      ...options,
      nextTurn: () => {
        turns += 1;
        return nextTurn();
      },
    });
    return turns;
  }

  test('one turn per slice: the turns grow with the series', async () => {
    const turnsFor = (series: number) =>
      turnsOf(largeRegistry(series), { seriesPerSlice: 100, familyWork: 1 });
    // Work: a unit per series and per family (its collect and header); a turn after every 100.
    assert.equal(await turnsFor(0), 0);
    assert.equal(await turnsFor(97), 0);
    assert.equal(await turnsFor(98), 1);
    assert.equal(await turnsFor(1_000), 10);
    assert.equal(await turnsFor(4_000), 40);
    const byDefault = await turnsOf(largeRegistry(4_000));
    assert.ok(byDefault >= 4_000 / SERIES_PER_SLICE - 1, `${byDefault} turns by default`);
  });

  test('many small families take turns too: a collect counts as FAMILY_WORK series', async () => {
    const registry = new Registry();
    for (let i = 0; i < 50; i++) new Gauge({ name: `g${i}`, help: 'h', registers: [registry] }).set(i);
    const turns = await turnsOf(registry);
    assert.ok(turns >= Math.floor((50 * (FAMILY_WORK + 1)) / SERIES_PER_SLICE) - 1, `${turns} turns`);
    assert.equal(
      await turnsOf(registry, { familyWork: 1 }),
      0,
      'counted as one series each, 100 fit in one slice',
    );
  });
});

describe('metrics rendered in slices: concurrent scrapes', () => {
  test('share the render in flight: one collect for both; the next scrape renders anew', async () => {
    const registry = new Registry();
    let collects = 0;
    new Gauge({
      name: 'collected',
      help: 'h',
      registers: [registry],
      collect() {
        collects += 1;
        this.set(collects);
      },
    });
    const first = renderMetrics(registry);
    const second = renderMetrics(registry);
    assert.equal(second, first);
    assert.match(textOf(await second), /^collected 1$/m);
    assert.equal(collects, 1);
    assert.match(textOf(await renderMetrics(registry)), /^collected 2$/m);
  });

  test('a failed collect fails the render as registry.metrics() does, and the next scrape tries again', async () => {
    const registry = new Registry();
    let fail = true;
    new Gauge({
      name: 'flaky',
      help: 'h',
      registers: [registry],
      collect() {
        if (fail) throw new Error('collect failed');
        this.set(1);
      },
    });
    await assert.rejects(registry.metrics(), /collect failed/);
    await assert.rejects(renderMetrics(registry), /collect failed/);
    fail = false;
    assertSameBytes(await renderMetrics(registry), await registry.metrics());
  });
});
