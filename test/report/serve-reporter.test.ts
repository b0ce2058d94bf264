/**
 * `serve --components webhook,reporter` against the test API server: the reporter component
 * starts from serve's flags, writes openreports Reports when asked, and `serve` without
 * `--components` does not start it (it needs a Kubernetes API that `npm start` has not).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SERVE_COMPONENTS } from '../../src/cli/main.js';
import { startServe } from '../../src/server/start-serve.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { TestApiServer } from '../support/test-api-server.js';
import { writeKubeconfig } from '../support/test-api-setup.js';
import { tempDir, testIo } from '../cli/cli-support.js';
import { application, ARGO_TYPES, OPEN_REPORTS, reportValidator } from './report-support.js';

describe('serve with the reporter component', () => {
  // Flags, or their environment variables (before review s12d F-G, TG_REPORT_* were never read).
  const ways: Array<{ name: string; flags: Record<string, string>; env: NodeJS.ProcessEnv }> = [
    {
      name: '--report-format openreports',
      flags: { reportFormat: 'openreports', reportInterval: '50', reportMaxWrites: '20' },
      env: {},
    },
    {
      name: 'TG_REPORT_FORMAT=openreports',
      flags: {},
      env: { TG_REPORT_FORMAT: 'openreports', TG_REPORT_INTERVAL: '50', TG_REPORT_MAX_WRITES: '20' },
    },
  ];
  for (const way of ways)
    test(`--components webhook,reporter, ${way.name}: a Report per namespace`, async () => {
      const api = await TestApiServer.start();
      for (const t of [...ARGO_TYPES, OPEN_REPORTS]) api.registerResource(t);
      api.seed(
        ARGO_TYPES[1] as (typeof ARGO_TYPES)[number],
        'team-a',
        application('team-a', 'to-b', 'k8s-team-b-dev'),
      );
      const dir = tempDir('tg-rep-');
      const kubeconfig = writeKubeconfig(api, dir);
      const handle = await startServe(
        {
          port: '0',
          certsDir: join(dir, 'certs'),
          kubeconfig,
          components: 'webhook,reporter',
          ...way.flags,
        },
        testIo({ env: way.env }),
        { logger: capturedLogger('error').logger, components: SERVE_COMPONENTS },
      );
      try {
        const deadline = Date.now() + 10_000;
        while (api.objects(OPEN_REPORTS).length === 0 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 25));
        const [report] = api.objects(OPEN_REPORTS) as {
          source?: string;
          metadata: { namespace: string };
          results: { rule: string; result: string }[];
        }[];
        assert.ok(report !== undefined, 'a Report was written');
        assert.equal(report.metadata.namespace, 'team-a');
        assert.equal(report.source, 'tenant-guard');
        assert.deepEqual(
          report.results.map((r) => `${r.rule} ${r.result}`),
          ['TG-APP-02 fail'],
        );
        const validate = reportValidator('openreports.io_reports.yaml');
        assert.ok(validate(report), JSON.stringify(validate.errors));
      } finally {
        await handle.close(0);
        await api.close();
      }
    });

  test('serve without --components starts the webhook and the broker, not the reporter', async () => {
    const io = testIo();
    const handle = await startServe({ port: '0', certsDir: join(tempDir(), 'certs') }, io, {
      logger: capturedLogger('error').logger,
      components: SERVE_COMPONENTS,
    });
    try {
      assert.match(io.err(), /serving webhook and broker on/);
    } finally {
      await handle.close(0);
    }
  });
});
