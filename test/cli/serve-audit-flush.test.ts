/**
 * `serve` writes its log and audit lines to stdout asynchronously, a few KB at a time; a
 * SIGTERM still ends with every audit line written (pino flushes on exit, which the drain
 * reaches), and a lone line is written while serve runs, after at most LOG_WRITE_MS.
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

/** `serve --components webhook` in a child process, its stdout and stderr collected. */
function startServeChild(dir: string) {
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
  const out = { stdout: '', stderr: '' };
  const stdoutChanged: Array<() => void> = [];
  child.stdout.on('data', (c: Buffer) => {
    out.stdout += c.toString();
    for (const changed of stdoutChanged.splice(0)) changed();
  });
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  const port = new Promise<number>((ok, fail) => {
    child.stderr.on('data', (c: Buffer) => {
      out.stderr += c.toString();
      const m = /serving webhook on https:\/\/127\.0\.0\.1:(\d+)/.exec(out.stderr);
      if (m?.[1] !== undefined) ok(Number(m[1]));
    });
    void exited.then(() => fail(new Error(out.stderr)));
  });
  const audits = () =>
    out.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.audit === true);
  return {
    child,
    exited,
    port,
    audits,
    /** Resolves once stdout holds `count` audit lines (the test's own timeout bounds the wait). */
    async auditLines(count: number): Promise<void> {
      while (audits().length < count) await new Promise<void>((ok) => stdoutChanged.push(ok));
    },
  };
}

test('every audit line of the requests answered before SIGTERM is on stdout when serve exits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-audit-flush-'));
  const serve = startServeChild(dir);
  try {
    const port = await serve.port;
    const count = 40;
    const statuses = await Promise.all(
      Array.from({ length: count }, () => post(port, '/mutate', JSON.stringify(reviewBody()))),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0);
    assert.equal(serve.audits().length, count, 'one audit line per mutation, none lost');
  } finally {
    serve.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

// Lines are written a few KB at a time (LOG_WRITE_BYTES); a lone line must not wait for more.
test('a lone audit line reaches stdout while serve runs, not only at exit', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-audit-flush-'));
  const serve = startServeChild(dir);
  try {
    const port = await serve.port;
    assert.equal(await post(port, '/mutate', JSON.stringify(reviewBody())), 200);
    await serve.auditLines(1);
    assert.equal(serve.audits()[0]?.event, 'mutated');
    assert.equal(serve.child.exitCode, null, 'serve still runs');
  } finally {
    serve.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
