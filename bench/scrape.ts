/**
 * `npx tsx bench/scrape.ts`: what one scrape of the webhook's metrics costs the event loop
 * that answers admission reviews, by how many tenants have their own `tenant` label value
 * (`--metrics-max-tenants`): each tenant counted as a typical mix (two endpoints, two kinds,
 * two decisions), 10,000 tenants in all, rendered whole by prom-client's `registry.metrics()`:
 * the work of one scrape (`GET /metrics` does it in slices, src/server/metrics-render.ts).
 * Medians of 5 renders after one to warm up.
 */
import { createMetricsRegistry, createWebhookMetrics } from '../src/server/metrics.js';

const TENANTS = 10_000;

async function renderMs(maxTenants: number): Promise<{ ms: number; series: number; bytes: number }> {
  const registry = createMetricsRegistry(maxTenants);
  const metrics = createWebhookMetrics(registry);
  for (let t = 0; t < TENANTS; t++)
    for (const endpoint of ['mutate', 'validate'])
      for (const kind of ['ApplicationSet', 'Application'])
        for (const decision of ['patched', 'allowed'] as const)
          metrics.observe({ endpoint, kind, decision, tenant: `team-${t}` }, 0.001);
  let text = await registry.metrics();
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    text = await registry.metrics();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  const series = text
    .split('\n')
    .filter((l) => l.startsWith('tenant_guard_admission_requests_total{')).length;
  return { ms: times[2] ?? NaN, series, bytes: text.length };
}

console.log(
  `| --metrics-max-tenants (of ${TENANTS} tenants) | admission_requests_total series | scrape bytes | render ms |`,
);
console.log('| ---: | ---: | ---: | ---: |');
for (const max of [0, 100, 1000, TENANTS]) {
  const r = await renderMs(max);
  console.log(`| ${max} | ${r.series} | ${(r.bytes / 1e6).toFixed(2)} MB | ${r.ms.toFixed(1)} |`);
}
