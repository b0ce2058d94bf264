/**
 * Issue 10 item 6 through `tenant-guard serve --watch-tenants`: /readyz answers 503 naming
 * `tenant-registry-fresh` while the API server has not confirmed the registry within its
 * bound (a silent watch), 200 again once the silence bound re-listed it; close() leaves no
 * request to the API server open.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServe, type ServeHandle } from '../../src/server/start-serve.js';
import { WATCH_DEFAULTS } from '../../src/tenancy/watch-source.js';
import { callServe, tempDir, testIo } from '../cli/cli-support.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { TestApiServer } from '../support/test-api-server.js';
import { writeKubeconfig } from '../support/test-api-setup.js';
import { eventually, ManualTimers, TENANTS, tenantDoc } from './watch-support.js';

describe("serve --watch-tenants: readiness follows the registry's age", () => {
  let api: TestApiServer;
  let handle: ServeHandle | undefined;
  let ca: string;
  let clock = Date.parse('2025-03-01T10:00:00Z');
  const timers = new ManualTimers();

  before(async () => {
    api = await TestApiServer.start({ now: () => clock });
    api.registerResource(TENANTS);
    api.seed(TENANTS, undefined, tenantDoc('team-a'));
    const dir = tempDir();
    const kubeconfig = writeKubeconfig(api, dir);
    handle = await startServe(
      { port: '0', certsDir: join(dir, 'certs'), watchTenants: true, kubeconfig },
      testIo(),
      {
        logger: capturedLogger('error').logger,
        tenantWatch: { now: () => clock, timers, backoffInitialMs: 5, backoffMaxMs: 20, debounceMs: 5 },
      },
    );
    ca = readFileSync(join(dir, 'certs', 'ca.pem'), 'utf8');
  });

  after(async () => {
    await handle?.close(1000);
    await api?.close();
  });

  const readyz = async (): Promise<{ status: number; body: string }> =>
    callServe((handle as ServeHandle).url, ca, '/readyz');

  /** Asks /readyz until it answers 200 (at most `tries` times); returns the last status. */
  async function pollReady(tries = 300): Promise<number> {
    let status = 0;
    for (let i = 0; i < tries && status !== 200; i++) status = (await readyz()).status;
    return status;
  }

  test('ready, then 503 while the watch is silent past the bound, then ready after the re-list; close() aborts the watch', async () => {
    assert.equal(await pollReady(), 200);
    await eventually('watching', () => api.count({ verb: 'watch', resource: 'tenants' }) === 1);

    api.stallWatches();
    // A line the server wrote before the stall may still be read after the clock moves (a busy
    // machine), confirming the registry at the later time; no line comes after it, so moving
    // the clock past the bound once more makes it stale. Bounded: a few steps at most.
    let stale = { status: 0, body: '' };
    for (let step = 0; step < 5 && stale.status !== 503; step++) {
      clock += WATCH_DEFAULTS.maxStalenessMs + 1;
      stale = await readyz();
    }
    assert.equal(stale.status, 503);
    const body = JSON.parse(stale.body) as { status: string; waitingFor: string[] };
    assert.equal(body.status, 'not ready');
    assert.deepEqual(body.waitingFor, ['tenant-registry-fresh']);

    assert.equal(timers.fire(WATCH_DEFAULTS.silenceMs), 1);
    assert.equal(await pollReady(), 200);

    await eventually('watching again', () => api.count({ verb: 'watch', resource: 'tenants' }) === 2);
    api.stallWatches();
    await handle?.close(1000);
    handle = undefined;
    await eventually('every watch closed by the client', () =>
      api.requests.filter((r) => r.verb === 'watch').every((r) => r.clientClosed === true),
    );
  });
});
