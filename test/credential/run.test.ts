import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { makeTestTls, type TestTls } from '../support/test-tls.js';
import { fakeJwt, startFakeBroker, targetOf, tokenAnswer, type FakeBroker } from './fake-broker.js';
import { CALLER, failure, runPlugin, type Outcome } from './plugin-run.js';

const V1 = 'client.authentication.k8s.io/v1';
const V1BETA1 = 'client.authentication.k8s.io/v1beta1';
let pki: TestTls;
let otherPki: TestTls;
let broker: FakeBroker;
let dir: string;
let tokenFile: string;
let caFile: string;
let otherCaFile: string;

const run = runPlugin;

/** The plugin's arguments as a cluster Secret gives them, plus any extra. */
function args(...extra: string[]): string[] {
  return [broker.url, 'k8s-team-a-dev', tokenFile, '--ca-file', caFile, ...extra];
}

function credential(o: Outcome): {
  apiVersion: string;
  kind: string;
  status: { token: string; expirationTimestamp?: string };
} {
  assert.equal(o.code, 0, o.stderr);
  assert.equal(o.stderr, '');
  return JSON.parse(o.stdout);
}

/** Failure contract: non-zero, nothing on stdout, exactly one line on stderr. */
before(async () => {
  [pki, otherPki] = await Promise.all([makeTestTls(), makeTestTls()]);
  dir = await mkdtemp(join(tmpdir(), 'tg-cred-run-'));
  tokenFile = join(dir, 'token');
  caFile = join(dir, 'ca.crt');
  otherCaFile = join(dir, 'other-ca.crt');
  await Promise.all([
    writeFile(tokenFile, `${CALLER}\n`),
    writeFile(caFile, pki.caPem),
    writeFile(otherCaFile, otherPki.caPem),
  ]);
  broker = await startFakeBroker(pki);
});
after(async () => {
  await broker.close();
  await Promise.all([dir, pki.dir, otherPki.dir].map((d) => rm(d, { recursive: true, force: true })));
});
beforeEach(async () => {
  broker.requests.length = 0;
  broker.answer((req) => tokenAnswer(60, { aud: targetOf(req) }));
  await writeFile(tokenFile, `${CALLER}\n`);
});

describe('runCredential: success', () => {
  test('POST /v1/tokens with the caller token; v1 ExecCredential expiring 10 s before exp', async () => {
    const a = tokenAnswer(60);
    broker.answer(() => a);
    const c = credential(await run(args()));
    assert.deepEqual(c, {
      apiVersion: V1,
      kind: 'ExecCredential',
      status: {
        token: a.token,
        expirationTimestamp: new Date((a.exp - 10) * 1000).toISOString().replace('.000Z', 'Z'),
      },
    });
    assert.equal(broker.requests.length, 1);
    assert.deepEqual(broker.requests[0], {
      method: 'POST',
      path: '/v1/tokens',
      authorization: `Bearer ${CALLER}`,
      body: '{"target":"k8s-team-a-dev"}',
    });
  });

  test('KUBERNETES_EXEC_INFO v1beta1: answers v1beta1', async () => {
    const c = credential(
      await run(args(), {
        env: {
          KUBERNETES_EXEC_INFO: JSON.stringify({
            kind: 'ExecCredential',
            apiVersion: V1BETA1,
            spec: { interactive: false },
          }),
        },
      }),
    );
    assert.equal(c.apiVersion, V1BETA1);
  });

  test('--expiry-margin changes the reported expiry', async () => {
    const a = tokenAnswer(120);
    broker.answer(() => a);
    const c = credential(await run(args('--expiry-margin', '30s')));
    assert.equal(
      c.status.expirationTimestamp,
      new Date((a.exp - 30) * 1000).toISOString().replace('.000Z', 'Z'),
    );
  });

  test('drop-in endpoint host/api/get-target-token: GET with targetName, plain-text token', async () => {
    const a = tokenAnswer(60);
    broker.answer(() => ({ status: 200, body: a.token, contentType: 'text/plain' }));
    const c = credential(
      await run([
        `127.0.0.1:${broker.port}/api/get-target-token`,
        'k8s-team-a-dev',
        tokenFile,
        '--ca-file',
        caFile,
      ]),
    );
    assert.equal(c.status.token, a.token);
    assert.ok(c.status.expirationTimestamp);
    assert.equal(broker.requests[0]?.method, 'GET');
    assert.equal(broker.requests[0]?.path, '/api/get-target-token?targetName=k8s-team-a-dev');
  });

  test('the caller token file is read afresh on every run (kubelet rotation)', async () => {
    credential(await run(args()));
    const rotated = fakeJwt({
      sub: 'system:serviceaccount:argocd:argocd-application-controller',
      jti: 'rotated',
    });
    await writeFile(tokenFile, rotated);
    credential(await run(args()));
    assert.deepEqual(
      broker.requests.map((r) => r.authorization),
      [`Bearer ${CALLER}`, `Bearer ${rotated}`],
    );
  });
});

describe('runCredential: failures, one line on stderr, nothing on stdout', () => {
  test('token file missing', async () => {
    const o = await run([broker.url, 't', join(dir, 'missing'), '--ca-file', caFile]);
    failure(o, 'ERR_CREDENTIAL_TOKEN_FILE', /caller token file .*missing does not exist$/m);
    assert.equal(broker.requests.length, 0);
  });

  test('token file empty', async () => {
    await writeFile(tokenFile, '\n');
    failure(await run(args()), 'ERR_CREDENTIAL_TOKEN_FILE', /caller token file .* is empty$/m);
    assert.equal(broker.requests.length, 0);
  });

  test('broker unreachable: retried, then the connection error', async () => {
    const closed = await startFakeBroker(pki);
    await closed.close();
    const started = Date.now();
    const o = await run([closed.url, 't', tokenFile, '--ca-file', caFile, '--timeout', '1s']);
    failure(
      o,
      'ERR_CREDENTIAL_UNREACHABLE',
      /broker https:\/\/127\.0\.0\.1:\d+\/v1\/tokens unreachable: connect ECONNREFUSED .*\(gave up after [2-9] attempts, --timeout 1s\)$/m,
    );
    assert.ok(Date.now() - started < 2000, 'ends within the timeout');
  });

  test('TLS: broker certificate from another CA (same CA name, other key)', async () => {
    failure(
      await run([broker.url, 't', tokenFile, '--ca-file', otherCaFile]),
      'ERR_CREDENTIAL_TLS',
      /TLS with broker https:\/\/127\.0\.0\.1:\d+\/v1\/tokens failed: [a-z ]+ \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_SIGNATURE_FAILURE)\); check --ca-file and the broker certificate$/m,
    );
    assert.equal(broker.requests.length, 0);
  });

  test('TLS: no --ca-file and a private CA', async () => {
    failure(
      await run([broker.url, 't', tokenFile]),
      'ERR_CREDENTIAL_TLS',
      /\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); pass the broker CA with --ca-file$/m,
    );
  });

  test('TLS: CA file missing', async () => {
    failure(
      await run([broker.url, 't', tokenFile, '--ca-file', join(dir, 'nope.crt')]),
      'ERR_CREDENTIAL_TLS',
      /broker CA file .*nope\.crt does not exist$/m,
    );
  });

  const refusals: Array<[number, string, RegExp]> = [
    [
      401,
      '{"error":"ERR_BROKER_UNAUTHENTICATED","message":"TokenReview: token has expired"}',
      /answered 401 Unauthorized for target "k8s-team-a-dev": TokenReview: token has expired \(ERR_BROKER_UNAUTHENTICATED\)$/m,
    ],
    [
      403,
      '{"error":"ERR_BROKER_FORBIDDEN","message":"system:serviceaccount:argocd:argocd-server may not obtain tokens"}',
      /answered 403 Forbidden .*: system:serviceaccount:argocd:argocd-server may not obtain tokens \(ERR_BROKER_FORBIDDEN\)$/m,
    ],
    [
      404,
      '{"error":"ERR_BROKER_UNKNOWN_TARGET","message":"unknown target \\"k8s-team-a-dev\\""}',
      /answered 404 Not Found .*: unknown target "k8s-team-a-dev" \(ERR_BROKER_UNKNOWN_TARGET\)$/m,
    ],
  ];
  for (const [status, body, message] of refusals) {
    test(`${status}: the broker's reason, and no retry`, async () => {
      broker.answer(() => ({ status, body }));
      failure(await run(args()), 'ERR_CREDENTIAL_REFUSED', message);
      assert.equal(broker.requests.length, 1);
    });
  }

  test("503: retried within --timeout, then the broker's reason", async () => {
    broker.answer(() => ({
      status: 503,
      body: '{"error":"ERR_BROKER_REVIEW_UNAVAILABLE","message":"TokenReview unavailable"}',
    }));
    const o = await run(args('--timeout', '1s'));
    failure(
      o,
      'ERR_CREDENTIAL_BROKER',
      /answered 503 Service Unavailable .*: TokenReview unavailable \(ERR_BROKER_REVIEW_UNAVAILABLE\) \(gave up after \d attempts, --timeout 1s\)$/m,
    );
    assert.ok(broker.requests.length >= 2, `retried: ${broker.requests.length} requests`);
  });

  test('broker never answers: ERR_CREDENTIAL_TIMEOUT within --timeout', async () => {
    broker.answer(() => 'hang');
    const started = Date.now();
    failure(
      await run(args('--timeout', '700ms')),
      'ERR_CREDENTIAL_TIMEOUT',
      /no answer from broker .* in time \(gave up after 1 attempt, --timeout 0\.7s\)$/m,
    );
    const took = Date.now() - started;
    assert.ok(took >= 600 && took < 1500, `took ${took} ms`);
  });

  test('KUBERNETES_EXEC_INFO asking for an unknown version: no broker call', async () => {
    failure(
      await run(args(), {
        env: { KUBERNETES_EXEC_INFO: '{"apiVersion":"client.authentication.k8s.io/v1alpha1"}' },
      }),
      'ERR_CREDENTIAL_EXEC_INFO',
      /v1alpha1/,
    );
    assert.equal(broker.requests.length, 0);
  });

  test('usage error exits 2', async () => {
    const o = await run([broker.url, 't']);
    failure(o, 'ERR_CREDENTIAL_USAGE', /expected 3 arguments/);
    assert.equal(o.code, 2);
  });
});

describe('runCredential: retry policy end to end', () => {
  test('503, a dropped connection, then success: three calls, one credential', async () => {
    const a = tokenAnswer();
    broker.answer((_req, n) =>
      n === 1 ? { status: 503, body: '{"message":"not ready"}' } : n === 2 ? 'reset' : a,
    );
    const c = credential(await run(args()));
    assert.equal(c.status.token, a.token);
    assert.equal(broker.requests.length, 3);
  });
});

describe('runCredential: cache', () => {
  let cacheDir: string;
  beforeEach(async () => {
    cacheDir = await mkdtemp(join(dir, 'cache-'));
  });

  test('a second run within the TTL makes no broker call and prints the same token', async () => {
    const first = credential(await run(args('--cache-dir', cacheDir)));
    const second = credential(await run(args('--cache-dir', cacheDir)));
    assert.equal(broker.requests.length, 1);
    assert.deepEqual(second, first);
    const files = await readdir(cacheDir);
    assert.equal(files.length, 1);
    assert.equal((await stat(join(cacheDir, files[0] ?? ''))).mode & 0o777, 0o600);
  });

  test('TG_CREDENTIAL_CACHE_DIR turns the cache on', async () => {
    const env = { TG_CREDENTIAL_CACHE_DIR: cacheDir };
    credential(await run(args(), { env }));
    credential(await run(args(), { env }));
    assert.equal(broker.requests.length, 1);
  });

  test('a rotated caller token of the same identity still hits the cache', async () => {
    credential(await run(args('--cache-dir', cacheDir)));
    await writeFile(
      tokenFile,
      fakeJwt({ sub: 'system:serviceaccount:argocd:argocd-application-controller', jti: 'rotated' }),
    );
    credential(await run(args('--cache-dir', cacheDir)));
    assert.equal(broker.requests.length, 1);
  });

  test('another caller identity does not get the cached token', async () => {
    credential(await run(args('--cache-dir', cacheDir)));
    await writeFile(tokenFile, fakeJwt({ sub: 'system:serviceaccount:argocd:argocd-server' }));
    broker.answer(() => ({ status: 403, body: '{"message":"not an allowed caller"}' }));
    failure(await run(args('--cache-dir', cacheDir)), 'ERR_CREDENTIAL_REFUSED', /not an allowed caller/);
    assert.equal(broker.requests.length, 2);
  });

  test('10 s before expiry the cache is no longer used', async () => {
    broker.answer(() => tokenAnswer(60));
    credential(await run(args('--cache-dir', cacheDir)));
    const later = Date.now() + 51_000;
    broker.answer(() => tokenAnswer(120));
    credential(await run(args('--cache-dir', cacheDir), { now: () => later }));
    assert.equal(broker.requests.length, 2);
  });

  test('a corrupt cache file is ignored and replaced', async () => {
    credential(await run(args('--cache-dir', cacheDir)));
    const [file] = await readdir(cacheDir);
    await writeFile(join(cacheDir, file ?? ''), '{"v":1,"tok', { mode: 0o600 });
    credential(await run(args('--cache-dir', cacheDir)));
    credential(await run(args('--cache-dir', cacheDir)));
    assert.equal(broker.requests.length, 2, 'the corrupt file made one more call, the replaced file none');
  });

  test('one cache file per target', async () => {
    credential(await run(args('--cache-dir', cacheDir)));
    credential(
      await run([broker.url, 'k8s-team-a-prod', tokenFile, '--ca-file', caFile, '--cache-dir', cacheDir]),
    );
    assert.equal((await readdir(cacheDir)).length, 2);
    assert.equal(broker.requests.length, 2);
  });

  test('a cache that cannot be written: the credential, and one warning line', async () => {
    const underAFile = join(cacheDir, 'file');
    await writeFile(underAFile, 'x');
    const o = await run(args('--cache-dir', join(underAFile, 'sub')));
    assert.equal(o.code, 0);
    assert.equal(JSON.parse(o.stdout).kind, 'ExecCredential');
    assert.match(o.stderr, /^tenant-guard-credential: warning: token cache .* not written: .*\n$/);
  });
});
