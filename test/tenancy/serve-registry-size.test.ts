/**
 * `serve --watch-tenants --max-registry-size`: the bound of the watched registry is the
 * operator's to set. A platform past the default had no way to raise it but a rebuild (an
 * operator's review); here a small bound refuses a list that the default takes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { startServe, type ServeHandle } from '../../src/server/start-serve.js';
import { callServe, tempDir, testIo } from '../cli/cli-support.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { TestApiServer } from '../support/test-api-server.js';
import { writeKubeconfig } from '../support/test-api-setup.js';
import { eventually, TENANTS, tenantDoc } from './watch-support.js';

describe('serve --max-registry-size bounds the watched registry', () => {
  let api: TestApiServer;
  let handle: ServeHandle | undefined;

  beforeEach(async () => {
    api = await TestApiServer.start();
    api.registerResource(TENANTS);
    for (let i = 0; i < 10; i++) api.seed(TENANTS, undefined, tenantDoc(`team-${i}`));
  });

  afterEach(async () => {
    await handle?.close(1000);
    handle = undefined;
    await api.close();
  });

  async function serve(raw: Record<string, unknown>) {
    const dir = tempDir();
    const captured = capturedLogger('info');
    handle = await startServe(
      {
        port: '0',
        certsDir: join(dir, 'certs'),
        watchTenants: true,
        kubeconfig: writeKubeconfig(api, dir),
        ...raw,
      },
      testIo(),
      { logger: captured.logger, tenantWatch: { backoffInitialMs: 5, backoffMaxMs: 20, debounceMs: 5 } },
    );
    const ca = readFileSync(join(dir, 'certs', 'ca.pem'), 'utf8');
    const readyz = async () => (await callServe((handle as ServeHandle).url, ca, '/readyz')).status;
    const refusals = () =>
      captured.log
        .records()
        .filter((r) => r.code === 'ERR_TENANT_WATCH' && String(r.msg).includes('characters of JSON'));
    return { readyz, refusals };
  }

  test('a bound of 2Ki: the list of ten Tenants is refused, logged, and /readyz stays 503', async () => {
    const { readyz, refusals } = await serve({ maxRegistrySize: '2Ki' });
    await eventually('the list refused', () => refusals().length > 0, 5000);
    assert.match(String(refusals()[0]?.msg), /2,048 characters of JSON/);
    assert.equal(await readyz(), 503);
  });

  test('the default bound takes the same list: ready, nothing refused', async () => {
    const { readyz, refusals } = await serve({});
    let status = 0;
    for (let i = 0; i < 300 && status !== 200; i++) status = await readyz();
    assert.equal(status, 200);
    assert.equal(refusals().length, 0);
  });
});
