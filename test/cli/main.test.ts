import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT, runCli } from './cli-support.js';
import { DEFAULT_LIMITS, limitFlags } from '../../src/policy/limits.js';
import { DEFAULT_SETTINGS, settingDefaultText, settingFlags, type Settings } from '../../src/settings.js';

describe('tenant-guard main', () => {
  test('the bin runs: --help lists the subcommands (subprocess smoke test)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--help'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    for (const command of ['serve', 'check', 'audit'])
      assert.match(r.stdout, new RegExp(`^\\s+${command}\\b`, 'm'));
  });

  test('main.ts starts with the node shebang', () => {
    assert.ok(
      readFileSync(join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'utf8').startsWith('#!/usr/bin/env node\n'),
    );
  });

  test('serve --help names every setting flag with its environment variable', async () => {
    const r = await runCli(['serve', '--help']);
    assert.equal(r.code, 0);
    for (const flag of [
      '--tenants',
      '--port',
      '--host',
      '--tls-cert',
      '--tls-key',
      '--certs-dir',
      '--tenant-label',
      '--platform-admin-groups',
      '--allow-cluster-decision-resource',
      '--issuer',
    ]) {
      assert.ok(r.stdout.includes(flag), `${flag} missing from serve --help`);
    }
    const help = r.stdout.replace(/\s+/g, ' ');
    assert.match(help, /env TG_TENANT_LABEL\)/);
    assert.match(help, /\(default 8443, env TG_PORT\)/);
  });

  test('serve, check and scan --help show every setting and limit with its default (review s12d F-I 5)', async () => {
    for (const command of ['serve', 'check', 'scan']) {
      const help = (await runCli([command, '--help'])).stdout.replace(/\s+/g, ' ');
      for (const [key, spec] of Object.entries(settingFlags))
        assert.ok(
          help.includes(`(default ${settingDefaultText(key as keyof Settings)}, env ${spec.env})`),
          `${command} --${spec.flag}`,
        );
      for (const [key, spec] of Object.entries(limitFlags))
        assert.ok(
          help.includes(`(default ${DEFAULT_LIMITS[key as keyof typeof DEFAULT_LIMITS]}, env ${spec.env})`),
          `${command} --${spec.flag}`,
        );
    }
    assert.equal(settingDefaultText('tenantLabel'), DEFAULT_SETTINGS.tenantLabel);
    assert.equal(settingDefaultText('tenantPluginConfigMaps'), 'none');
    assert.match(settingDefaultText('trustedServiceAccounts'), /argocd-notifications-controller=annotations/);
  });

  test('an unknown command is a usage error: exit 2', async () => {
    const r = await runCli(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
  });

  test('an unknown command with --help is the same usage error, not the root help with exit 0', async () => {
    for (const argv of [
      ['manifests', '--help'],
      ['manifests', '-h'],
      ['chek', '--help', '-f', 'x'],
    ]) {
      const r = await runCli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, new RegExp(`unknown command '${argv[0] ?? ''}'`));
    }
    assert.match((await runCli(['chek', '--help'])).stderr, /Did you mean check\?/);
    // A known command's help, and the root's, still exit 0. (Not `help serve`: commander
    // exits it with process.exitCode, which the test runner sets once any test failed.)
    for (const argv of [['check', '--help'], ['--help']])
      assert.equal((await runCli(argv)).code, 0, argv.join(' '));
  });
});
