/**
 * TG_* variables no setting reads (review s12d F-G): `serve` names each at start with the
 * nearest known name, so a misspelt variable no longer leaves its setting at the default
 * without a word.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SERVE_COMPONENTS } from '../../src/cli/main.js';
import { knownVariables, unknownVariables } from '../../src/server/environment.js';
import { startServe } from '../../src/server/start-serve.js';
import { runCli, tempDir, testIo } from '../cli/cli-support.js';
import { capturedLogger } from './webhook-app-support.js';

describe('TG_* variables', () => {
  const known = knownVariables(SERVE_COMPONENTS);

  test('every variable of serve, its components, the settings, the limits and the plugin is known', () => {
    for (const name of [
      'TG_PORT',
      'TG_ARGOCD_NAMESPACE',
      'TG_MAX_OBJECT_DEPTH',
      'TG_KEY_SECRET',
      'TG_REPORT_FORMAT',
      'TG_CREDENTIAL_CACHE_DIR',
    ])
      assert.ok(known.has(name), name);
  });

  test('an unknown one is named with the nearest known one, when one is near', () => {
    const env = {
      TG_ARGOCD_NAMSPACE: 'foo',
      TG_ISSUER_URL: 'https://x',
      TG_ZZZZZZZZZZZZZZZZ: '1',
      TG_PORT: '1',
      PATH: '/bin',
    };
    assert.deepEqual(unknownVariables(env, known), [
      { name: 'TG_ARGOCD_NAMSPACE', nearest: 'TG_ARGOCD_NAMESPACE' },
      { name: 'TG_ISSUER_URL', nearest: 'TG_ISSUER' },
      { name: 'TG_ZZZZZZZZZZZZZZZZ' },
    ]);
  });

  test('serve warns about each at start, and logs the settings in effect', async () => {
    const { logger, log } = capturedLogger('info');
    const handle = await startServe(
      { port: '0', components: 'webhook', certsDir: join(tempDir(), 'certs') },
      testIo({ env: { TG_ARGOCD_NAMSPACE: 'gitops' } }),
      { logger, components: SERVE_COMPONENTS },
    );
    try {
      const warning = log.records().find((r) => r.variable === 'TG_ARGOCD_NAMSPACE');
      assert.equal(warning?.level, 40);
      assert.match(
        String(warning?.msg),
        /TG_ARGOCD_NAMSPACE is set, but no setting of tenant-guard reads it: did you mean TG_ARGOCD_NAMESPACE\?/,
      );
      const settings = log.records().find((r) => String(r.msg).startsWith('settings in effect'));
      assert.equal(
        (settings?.settings as { argocdNamespace?: string } | undefined)?.argocdNamespace,
        'argocd',
        'the misspelt variable changed nothing',
      );
    } finally {
      await handle.close(0);
    }
  });

  test('check with an empty TG_TRUSTED_SERVICE_ACCOUNTS stops with exit 2 naming it, instead of trusting no one', async () => {
    const out = await runCli(
      [
        'check',
        '-f',
        'webhook-config/examples/applicationset-allowed.yaml',
        '--user',
        'system:serviceaccount:argocd:argocd-applicationset-controller',
      ],
      { env: { TG_TRUSTED_SERVICE_ACCOUNTS: '' } },
    );
    assert.equal(out.code, 2, out.stdout);
    assert.match(
      out.stderr,
      /setting --trusted-service-accounts \(TG_TRUSTED_SERVICE_ACCOUNTS is set but empty\): leave it unset for its default .*, or write - for none/,
    );
  });
});
