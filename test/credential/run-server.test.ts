/**
 * The plugin and the server its token goes to (ADR 0011): with `provideClusterInfo: true`
 * client-go puts `spec.cluster.server` in KUBERNETES_EXEC_INFO; the plugin sends it to the
 * broker, refuses a value that is not one http(s) URL before calling anyone, and keys its
 * cache on it, so a token issued for one server is never handed out for another.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { MAX_SERVER_CHARS } from '../../src/credential/exec-credential.js';
import type { CredentialIo } from '../../src/credential/run.js';
import { cacheFilePath, readCachedToken, writeCachedToken } from '../../src/credential/token-cache.js';
import { makeTestTls, type TestTls } from '../support/test-tls.js';
import { startFakeBroker, targetOf, tokenAnswer, type FakeBroker, type SeenRequest } from './fake-broker.js';
import { CALLER, failure, runPlugin, type Outcome } from './plugin-run.js';

const V1 = 'client.authentication.k8s.io/v1';
const SERVER_A = 'https://team-a-dev.example.com';
const SERVER_B = 'https://team-c-dev.example.com';
let pki: TestTls;
let broker: FakeBroker;
let dir: string;
let tokenFile: string;
let caFile: string;

/** KUBERNETES_EXEC_INFO as client-go sends it with provideClusterInfo: true. */
function execInfo(cluster: Record<string, unknown> | undefined, apiVersion = V1): string {
  return JSON.stringify({
    apiVersion,
    kind: 'ExecCredential',
    spec: { interactive: false, ...(cluster === undefined ? {} : { cluster }) },
  });
}

async function run(
  extraArgs: string[],
  info: string | undefined,
  extra: Partial<CredentialIo> = {},
): Promise<Outcome> {
  return runPlugin([broker.url, 'k8s-team-a-dev', tokenFile, '--ca-file', caFile, ...extraArgs], {
    env: info === undefined ? {} : { KUBERNETES_EXEC_INFO: info },
    ...extra,
  });
}

function tokenOf(o: Outcome): string {
  assert.equal(o.code, 0, o.stderr);
  assert.equal(o.stderr, '');
  return (JSON.parse(o.stdout) as { status: { token: string } }).status.token;
}

/** The server a request names: `{"server"}` of a POST, `server` of the drop-in GET; undefined when none. */
function serverOf(req: SeenRequest | undefined): string | undefined {
  assert.ok(req !== undefined, 'the broker saw a request');
  if (req.method === 'POST') return (JSON.parse(req.body) as { server?: string }).server;
  return new URL(req.path, 'https://x').searchParams.get('server') ?? undefined;
}

before(async () => {
  pki = await makeTestTls();
  dir = await mkdtemp(join(tmpdir(), 'tg-cred-server-'));
  tokenFile = join(dir, 'token');
  caFile = join(dir, 'ca.crt');
  await Promise.all([writeFile(tokenFile, `${CALLER}\n`), writeFile(caFile, pki.caPem)]);
  broker = await startFakeBroker(pki);
});
after(async () => {
  await broker.close();
  await Promise.all([dir, pki.dir].map((d) => rm(d, { recursive: true, force: true })));
});
beforeEach(() => {
  broker.requests.length = 0;
  // Each token names the server it was asked for, so a test can tell them apart.
  broker.answer((req) => tokenAnswer(60, { aud: targetOf(req), srv: serverOf(req) ?? 'none' }));
});

describe('runCredential: the server from KUBERNETES_EXEC_INFO goes to the broker', () => {
  test('POST /v1/tokens carries spec.cluster.server beside the target', async () => {
    tokenOf(await run([], execInfo({ server: SERVER_A, 'certificate-authority-data': 'QUJD' })));
    assert.equal(broker.requests.length, 1);
    assert.deepEqual(JSON.parse(broker.requests[0]?.body ?? ''), {
      target: 'k8s-team-a-dev',
      server: SERVER_A,
    });
  });

  test('v1beta1 exec info: the server is sent too', async () => {
    tokenOf(await run([], execInfo({ server: SERVER_A }, 'client.authentication.k8s.io/v1beta1')));
    assert.equal(serverOf(broker.requests[0]), SERVER_A);
  });

  test('the drop-in GET endpoint gets it as the server query parameter', async () => {
    broker.answer(() => ({ status: 200, body: tokenAnswer(60).token, contentType: 'text/plain' }));
    const o = await runPlugin(
      [`127.0.0.1:${broker.port}/api/get-target-token`, 'k8s-team-a-dev', tokenFile, '--ca-file', caFile],
      { env: { KUBERNETES_EXEC_INFO: execInfo({ server: SERVER_A }) } },
    );
    assert.equal(o.code, 0, o.stderr);
    const url = new URL(broker.requests[0]?.path ?? '', 'https://x');
    assert.equal(url.searchParams.get('targetName'), 'k8s-team-a-dev');
    assert.equal(url.searchParams.get('server'), SERVER_A);
  });

  test('without cluster info (provideClusterInfo unset) the request names no server', async () => {
    tokenOf(await run([], execInfo(undefined)));
    assert.deepEqual(JSON.parse(broker.requests[0]?.body ?? ''), { target: 'k8s-team-a-dev' });
  });

  test("the broker's ERR_BROKER_SERVER_MISMATCH: one line, no token on stdout", async () => {
    broker.answer(() => ({
      status: 403,
      body: '{"error":"ERR_BROKER_SERVER_MISMATCH","message":"server is not the target\'s registered server"}',
    }));
    const o = await run([], execInfo({ server: SERVER_B }));
    assert.notEqual(o.code, 0);
    assert.equal(o.stdout, '');
    assert.equal(o.stderr.split('\n').length, 2, o.stderr);
    assert.match(o.stderr, /ERR_BROKER_SERVER_MISMATCH/);
    assert.equal(broker.requests.length, 1, 'a refusal is not retried');
  });
});

describe('runCredential: a bad spec.cluster.server is refused before any broker call', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['missing', { 'certificate-authority-data': 'QUJD' }, /is missing/],
    ['empty', { server: '' }, /is missing/],
    ['not a string', { server: 443 }, /is not a string/],
    ['not a URL', { server: 'team-a-dev.example.com' }, /is no http\(s\) URL/],
    ['another scheme', { server: 'file:///var/run/secrets/tenantguard/token' }, /is no http\(s\) URL/],
    ['too long', { server: `https://a.example/${'x'.repeat(MAX_SERVER_CHARS)}` }, /more than 2048/],
  ];
  for (const [name, cluster, message] of cases) {
    test(name, async () => {
      failure(await run([], execInfo(cluster)), 'ERR_CREDENTIAL_EXEC_INFO', message);
      assert.equal(broker.requests.length, 0);
    });
  }
});

describe('runCredential: the cache keys on the server', () => {
  let cacheDir: string;
  beforeEach(async () => {
    cacheDir = await mkdtemp(join(dir, 'cache-'));
  });

  test('a token cached for server A is not returned for server B, and A still hits', async () => {
    const forA = tokenOf(await run(['--cache-dir', cacheDir], execInfo({ server: SERVER_A })));
    const forB = tokenOf(await run(['--cache-dir', cacheDir], execInfo({ server: SERVER_B })));
    assert.notEqual(forB, forA);
    assert.equal(broker.requests.length, 2);
    assert.equal(serverOf(broker.requests[1]), SERVER_B);
    assert.equal(tokenOf(await run(['--cache-dir', cacheDir], execInfo({ server: SERVER_A }))), forA);
    assert.equal(tokenOf(await run(['--cache-dir', cacheDir], execInfo({ server: SERVER_B }))), forB);
    assert.equal(broker.requests.length, 2, 'both entries hit');
    assert.equal((await readdir(cacheDir)).length, 2);
  });

  test('a token cached without a server is not returned when one is named', async () => {
    const unbound = tokenOf(await run(['--cache-dir', cacheDir], undefined));
    const bound = tokenOf(await run(['--cache-dir', cacheDir], execInfo({ server: SERVER_A })));
    assert.notEqual(bound, unbound);
    assert.equal(broker.requests.length, 2);
    assert.equal(serverOf(broker.requests[1]), SERVER_A);
  });
});

describe('readCachedToken: an entry for another server is a miss', () => {
  test('even when it sits in the file another server would read', async () => {
    const d = join(dir, 'entry-server');
    const file = cacheFilePath(d, broker.url, 't', CALLER, SERVER_A);
    assert.notEqual(cacheFilePath(d, broker.url, 't', CALLER, SERVER_B), file);
    const now = Date.now();
    await writeCachedToken(file, d, broker.url, 't', { token: 'tok-a', expiresAt: now + 60_000 }, SERVER_A);
    const read = (server: string | undefined) =>
      readCachedToken(file, broker.url, 't', now, 10_000, undefined, server);
    assert.equal((await read(SERVER_A))?.token, 'tok-a');
    assert.equal(await read(SERVER_B), undefined);
    assert.equal(await read(undefined), undefined);
  });
});
