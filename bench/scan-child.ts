/**
 * The child of `npm run bench scan`: one full background scan (or, with `--floor`, only the
 * informers' lists of the same objects) against the API in KUBECONFIG; prints JSON with the
 * time to the last report written and the peak resident memory.
 */
import { readFileSync } from 'node:fs';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { Reporter } from '../src/reporter/reporter.js';
import { resolveSettings } from '../src/settings.js';
import { parseTenantsYaml } from '../src/tenancy/file-source.js';

const [kubeconfigPath, tenantsPath, expectedText, mode] = process.argv.slice(2);
const expected = Number(expectedText);
const kc = new KubeConfig();
kc.loadFromFile(kubeconfigPath ?? '');
const started = performance.now();
if (mode === '--floor') {
  const api = kc.makeApiClient(CustomObjectsApi);
  const list = (await api.listClusterCustomObject({
    group: 'argoproj.io',
    version: 'v1alpha1',
    plural: 'applications',
  })) as { items: unknown[] };
  if (list.items.length !== expected) throw new Error(`listed ${list.items.length}`);
} else {
  const settings = resolveSettings({});
  const registry = parseTenantsYaml(readFileSync(tenantsPath ?? '', 'utf8'), 'bench', 'argocd');
  const reporter = new Reporter({
    kubeConfig: kc,
    registry: { current: () => registry },
    settings,
    logger: pino({ level: 'silent' }),
    flushIntervalMs: 0,
    maxWritesPerFlush: 1_000_000,
  });
  await reporter.start();
  while (reporter.state.size < expected) await new Promise((r) => setTimeout(r, 10));
  await reporter.flush();
  await reporter.stop();
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
process.exit(0);
