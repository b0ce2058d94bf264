/**
 * `serve` with a file registry and no kubeconfig never imports @kubernetes/client-node
 * (~77 MB resident): the components that call the API import it when they start.
 * Runs the real command in a child process where importing the client throws.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `serve` until it says it is serving (resolves its stderr) or exits (rejects with it). */
function serveUntilListening(args: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tg-lazy-kube-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.KUBERNETES_SERVICE_HOST;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      './test/support/no-kube-client.mjs',
      'src/cli/main.ts',
      'serve',
      '--tenants',
      'test/fixtures/tenants/team-b-warn.yaml',
      '--certs-dir',
      join(dir, 'certs'),
      '--port',
      '0',
      ...args,
    ],
    { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  return new Promise<string>((ok, fail) => {
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes('tenant-guard serving')) child.kill('SIGKILL');
    });
    child.on('exit', () => {
      rmSync(dir, { recursive: true, force: true });
      if (stderr.includes('tenant-guard serving')) ok(stderr);
      else fail(new Error(stderr));
    });
  });
}

test('serve --components webhook with a file registry starts without @kubernetes/client-node', async () => {
  const stderr = await serveUntilListening(['--components', 'webhook']);
  assert.match(stderr, /tenant-guard serving webhook on https:\/\/127\.0\.0\.1:\d+ \(\d+ tenants from/);
});

test('the broker component imports it when it starts (the guard above can fail)', async () => {
  await assert.rejects(serveUntilListening(['--components', 'webhook,broker']), /NO_KUBE_CLIENT/);
});
