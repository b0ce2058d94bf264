/**
 * The metric families tenant-guard serves at /metrics: `serve` with every component, the
 * reporter (opt-in, it needs a Kubernetes API) included, against the test API server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVE_COMPONENTS } from '../../src/cli/main.js';
import { startServe } from '../../src/server/start-serve.js';
import { callServe, tempDir, testIo } from '../cli/cli-support.js';
import { ARGO_TYPES, POLICY_REPORTS } from '../report/report-support.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { TestApiServer } from '../support/test-api-server.js';
import { writeKubeconfig } from '../support/test-api-setup.js';

/** Metric family names of a Prometheus text exposition (from `# TYPE` lines). */
export function typeLines(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1] ?? '');
}

/** The families `serve --components webhook,broker,reporter` serves. */
export async function servedFamilies(): Promise<Set<string>> {
  const api = await TestApiServer.start();
  for (const t of [...ARGO_TYPES, POLICY_REPORTS]) api.registerResource(t);
  const dir = tempDir('tg-metrics-');
  const handle = await startServe(
    {
      port: '0',
      certsDir: join(dir, 'certs'),
      kubeconfig: writeKubeconfig(api, dir),
      components: 'webhook,broker,reporter',
    },
    testIo(),
    { logger: capturedLogger('error').logger, components: SERVE_COMPONENTS },
  );
  try {
    const ca = readFileSync(join(dir, 'certs', 'ca.pem'), 'utf8');
    const res = await callServe(handle.url, ca, '/metrics');
    return new Set(typeLines(res.body));
  } finally {
    await handle.close(0);
    await api.close();
  }
}
