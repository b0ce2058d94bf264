/**
 * The warm-up of the admission path (issue 10 item 2): its objects reach the rules of
 * every guarded kind on both endpoints (so the code a worst case runs is compiled before
 * the first request), and `serve` runs it before it listens, once, when it serves the webhook.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { warmUpAdmission, WARM_UP_ROUNDS } from '../../src/admission/warm-up.js';
import { startServe } from '../../src/server/start-serve.js';
import { resolveSettings } from '../../src/settings.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { tempDir, testIo } from '../cli/cli-support.js';

describe('warmUpAdmission', () => {
  test('judges every guarded kind on /validate and /mutate, through the rules (none malformed or unhandled)', () => {
    const result = warmUpAdmission({ settings: resolveSettings({}) }, 2);
    assert.equal(result.requests, 2 * 4 * 2);
    assert.deepEqual(result.outcomes, {
      // Each holds a foreign cluster (a denial to format) and gets a patch (a diff to build).
      ApplicationSet: { validate: 'denied', mutate: 'patched' },
      Application: { validate: 'allowed', mutate: 'patched' },
      AppProject: { validate: 'denied', mutate: 'patched' },
      ClusterSecret: { validate: 'denied', mutate: 'patched' },
    });
  });
});

describe('serve', () => {
  test('warms the admission path up before it listens, when it serves the webhook', async () => {
    const { logger, log } = capturedLogger('info');
    const handle = await startServe({ port: '0', certsDir: join(tempDir(), 'certs') }, testIo(), { logger });
    await handle.close(1000);
    const messages = log.records().map((r) => r.msg);
    const warmed = log.records().find((r) => r.msg === 'admission path warmed up');
    assert.equal(warmed?.requests, WARM_UP_ROUNDS * 4 * 2);
    assert.ok(messages.indexOf('admission path warmed up') < messages.indexOf('listening'));
  });

  test('does not when it serves no webhook', async () => {
    const { logger, log } = capturedLogger('info');
    const handle = await startServe(
      { port: '0', certsDir: join(tempDir(), 'certs'), components: 'broker' },
      testIo(),
      { logger, components: [{ name: 'broker', start: () => ({}) }] },
    );
    await handle.close(1000);
    assert.ok(log.records().some((r) => r.msg === 'listening'));
    assert.ok(!log.records().some((r) => r.msg === 'admission path warmed up'));
  });
});
