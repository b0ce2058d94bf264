/**
 * `serve` writes its log and audit lines to stdout asynchronously; a SIGTERM still ends
 * with every audit line written (pino flushes on exit, which the drain reaches).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { reviewBody } from '../server/webhook-app-support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function post(port: number, path: string, body: string): Promise<number> {
  return new Promise((ok, fail) => {
    // The child's own generated certificate, on loopback.
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => ok(res.statusCode ?? 0));
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

test('every audit line of the requests answered before SIGTERM is on stdout when serve exits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-audit-flush-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.KUBERNETES_SERVICE_HOST;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'serve',
      '--components',
      'webhook',
      '--drain-seconds',
      '0',
      '--tenants',
      'test/fixtures/tenants/team-b-warn.yaml',
      '--certs-dir',
      join(dir, 'certs'),
      '--port',
      '0',
    ],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  try {
    const port = await new Promise<number>((ok, fail) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /serving webhook on https:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
        if (m?.[1] !== undefined) ok(Number(m[1]));
      });
      void exited.then(() => fail(new Error(stderr)));
    });
    const count = 40;
    const statuses = await Promise.all(
      Array.from({ length: count }, () => post(port, '/mutate', JSON.stringify(reviewBody()))),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    const audits = stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.audit === true);
    assert.equal(audits.length, count, 'one audit line per mutation, none lost');
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
