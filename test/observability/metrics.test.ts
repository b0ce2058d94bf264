/**
 * What `serve` exposes at /metrics: one `tenant_guard_` prefix, prom-client's default
 * metrics under their standard names, build information, certificate expiry and registry
 * state; and `--version` prints the version the build-info metric carries.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SERVE_COMPONENTS } from '../../src/cli/main.js';
import { startServe } from '../../src/server/start-serve.js';
import { VERSION } from '../../src/version.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { callServe, runCli, tempDir, testIo } from '../cli/cli-support.js';

/** Metric family names of a Prometheus text exposition (from `# TYPE` lines). */
export function familyNames(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1] ?? '');
}

describe('serve /metrics', () => {
  test('one prefix for our metrics, default metrics under standard names, build info, certificate expiry, file registry state', async () => {
    const certsDir = join(tempDir(), 'certs');
    const { logger } = capturedLogger('error');
    const handle = await startServe({ port: '0', certsDir }, testIo(), {
      logger,
      components: SERVE_COMPONENTS,
    });
    try {
      const ca = readFileSync(join(certsDir, 'ca.pem'), 'utf8');
      const res = await callServe(handle.url, ca, '/metrics');
      assert.equal(res.status, 200);
      const names = familyNames(res.body);
      const ours = names.filter((n) => !n.startsWith('process_') && !n.startsWith('nodejs_'));
      assert.deepEqual(
        ours.filter((n) => !n.startsWith('tenant_guard_')),
        [],
        'every other family has the tenant_guard_ prefix',
      );
      assert.ok(names.includes('process_cpu_user_seconds_total'), 'standard process metrics');
      assert.ok(names.includes('nodejs_heap_size_used_bytes'), 'standard nodejs metrics');
      assert.ok(
        !names.some((n) => n.startsWith('tenant_guard_process_') || n.startsWith('tenant_guard_nodejs_')),
        'default metrics not renamed',
      );
      assert.match(
        res.body,
        new RegExp(
          `^tenant_guard_build_info\\{version="${VERSION.replaceAll('.', '\\.')}",node="${process.version.replaceAll('.', '\\.')}"\\} 1$`,
          'm',
        ),
      );
      const expiry = Number(/^tenant_guard_tls_certificate_expiry_seconds (\S+)$/m.exec(res.body)?.[1]);
      const notAfter = Date.parse(new X509Certificate(readFileSync(join(certsDir, 'tls.crt'))).validTo);
      assert.ok(
        Math.abs(expiry - (notAfter - Date.now()) / 1000) < 60,
        `expiry ${expiry} matches the certificate's notAfter`,
      );
      // The notAfter itself, which needs no pod clock: the alert compares it with Prometheus's.
      assert.match(
        res.body,
        new RegExp(`^tenant_guard_tls_certificate_not_after_timestamp_seconds ${notAfter / 1000}$`, 'm'),
      );
      assert.match(res.body, /^tenant_guard_registry_synced 1$/m);
      assert.match(res.body, /^tenant_guard_registry_tenants\{state="accepted"\} 2$/m);
      assert.match(res.body, /^tenant_guard_broker_signing_keys\{state="active"\} 1$/m);
      assert.match(res.body, /^tenant_guard_broker_active_key_age_seconds \d/m);
    } finally {
      await handle.close(0);
    }
  });
});

describe('version', () => {
  test('src/version.ts says what package.json says', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(VERSION, pkg.version);
  });

  test('tenant-guard --version prints it', async () => {
    const out = await runCli(['--version']);
    assert.equal(out.code, 0);
    assert.equal(out.stdout.trim(), VERSION);
  });
});
