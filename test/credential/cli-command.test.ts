// `tenant-guard credential` through the real CLI entry (src/cli/main.ts `run`).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { run } from '../../src/cli/main.js';
import { makeTestTls, type TestTls } from '../support/test-tls.js';
import { fakeJwt, startFakeBroker, type FakeBroker } from './fake-broker.js';

describe('tenant-guard credential (CLI subcommand)', () => {
  let tls: TestTls;
  let broker: FakeBroker;
  let dir: string;
  before(async () => {
    tls = await makeTestTls();
    broker = await startFakeBroker(tls);
    dir = await mkdtemp(join(tmpdir(), 'tg-cli-cred-'));
    await writeFile(
      join(dir, 'token'),
      fakeJwt({ sub: 'system:serviceaccount:argocd:argocd-application-controller' }),
    );
  });
  after(async () => {
    await broker.close();
    await Promise.all([dir, tls.dir].map((d) => rm(d, { recursive: true, force: true })));
  });

  async function cli(
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await run(['credential', ...args], {
      stdout: {
        write: (t: string) => {
          stdout += t;
        },
      },
      stderr: {
        write: (t: string) => {
          stderr += t;
        },
      },
      stdin: Readable.from([]),
      env,
      cwd: dir,
    });
    return { code, stdout, stderr };
  }

  test('passes BROKER TARGET TOKEN_FILE and the plugin options through untouched', async () => {
    const r = await cli([
      broker.url,
      'k8s-team-a-dev',
      join(dir, 'token'),
      '--ca-file',
      tls.caFile,
      '--timeout=5s',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).kind, 'ExecCredential');
    assert.equal(broker.requests.at(-1)?.body, '{"target":"k8s-team-a-dev"}');
  });

  test("KUBERNETES_EXEC_INFO comes from the CLI's environment", async () => {
    const r = await cli([broker.url, 'k8s-team-a-dev', join(dir, 'token'), '--ca-file', tls.caFile], {
      KUBERNETES_EXEC_INFO:
        '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).apiVersion, 'client.authentication.k8s.io/v1beta1');
  });

  test("--help is the plugin's usage", async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: tenant-guard-credential BROKER TARGET TOKEN_FILE/);
  });

  test('a usage error exits 2 with one line', async () => {
    const r = await cli([broker.url]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^tenant-guard-credential: ERR_CREDENTIAL_USAGE: expected 3 arguments BROKER TARGET TOKEN_FILE, got 1; run with --help for usage\n$/,
    );
  });

  test("a refusal exits 1 with the broker's reason", async () => {
    broker.answer(() => ({
      status: 403,
      body: '{"error":"ERR_BROKER_FORBIDDEN","message":"not an allowed caller"}',
    }));
    const r = await cli([broker.url, 'k8s-team-a-dev', join(dir, 'token'), '--ca-file', tls.caFile]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^tenant-guard-credential: ERR_CREDENTIAL_REFUSED: .*: not an allowed caller \(ERR_BROKER_FORBIDDEN\)\n$/,
    );
  });
});
