/**
 * `serve --tenants FILE`: a re-read that fails keeps the last good registry, and the registry
 * gauges say so (review s12d F-I 7): tenant_guard_registry_stale is 1 until the file reads
 * well again, so TenantGuardRegistryStale can fire; while the file matches, its sync time is
 * now (a file left alone is not stale). The clock is injected.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startServe } from '../../src/server/start-serve.js';
import { callServe, REPO_ROOT, tempDir, testIo } from '../cli/cli-support.js';
import { eventually } from '../tenancy/watch-support.js';
import { capturedLogger } from './webhook-app-support.js';

describe('serve --tenants FILE: the registry gauges follow the file', () => {
  test('stale 1 while a changed file is refused, 0 once it reads well; the sync time is now while it matches', async () => {
    const dir = tempDir();
    const tenants = join(dir, 'tenants.yaml');
    const good = readFileSync(join(REPO_ROOT, 'webhook-config', 'examples', 'tenants.yaml'), 'utf8');
    writeFileSync(tenants, good);
    const now = Date.parse('2030-01-02T03:04:05Z');
    const { logger, log } = capturedLogger('info');
    const handle = await startServe(
      { port: '0', components: 'webhook', tenants, certsDir: join(dir, 'certs') },
      testIo(),
      { logger, tenantWatch: { now: () => now } },
    );
    const ca = readFileSync(join(dir, 'certs', 'ca.pem'), 'utf8');
    const gauge = async (name: string): Promise<number> =>
      Number(
        new RegExp(`^${name} (\\S+)$`, 'm').exec((await callServe(handle.url, ca, '/metrics')).body)?.[1],
      );
    try {
      assert.equal(await gauge('tenant_guard_registry_stale'), 0);
      assert.equal(await gauge('tenant_guard_registry_last_sync_timestamp_seconds'), now / 1000);
      // The file's directory is watched: a change is re-read after a short quiet time.
      writeFileSync(tenants, `${good}\n---\nkind: Tenant\n`);
      await eventually('the refused file is seen', () => log.records().some((r) => r.level === 50), 20_000);
      assert.equal(await gauge('tenant_guard_registry_stale'), 1, 'the changed file is refused: stale');
      assert.ok((await gauge('tenant_guard_registry_last_sync_timestamp_seconds')) < now / 1000);
      assert.equal(await gauge('tenant_guard_registry_synced'), 1, 'the last good registry is served');
      writeFileSync(tenants, `${good}\n# fixed\n`);
      await eventually(
        'the fixed file is taken',
        () => log.records().some((r) => String(r.msg).startsWith('tenants file reloaded')),
        20_000,
      );
      assert.equal(await gauge('tenant_guard_registry_stale'), 0, 'a good file again: not stale');
      assert.equal(await gauge('tenant_guard_registry_last_sync_timestamp_seconds'), now / 1000);
    } finally {
      await handle.close(0);
    }
  });
});
