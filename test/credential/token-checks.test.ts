// Issue 15 items 6, 7 and 8 (plugin side): the plugin checks what it hands over, refuses a
// cache directory others could write, and honours Retry-After on 429 within --timeout.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { runCredential, type CredentialIo } from '../../src/credential/run.js';
import { cacheFilePath } from '../../src/credential/token-cache.js';
import { checkIssuedToken, MAX_TOKEN_REUSE_MS } from '../../src/credential/token-checks.js';
import { isTenantGuardError } from '../../src/errors.js';
import { makeTestTls, type TestTls } from '../support/test-tls.js';
import { fakeJwt, startFakeBroker, targetOf, tokenAnswer, type FakeBroker } from './fake-broker.js';

const NOW = 1_900_000_000_000;
const S = (ms: number) => Math.floor(ms / 1000);
const TARGET = 'k8s-team-a-dev';

describe('checkIssuedToken (pure)', () => {
  const e = { target: TARGET, now: NOW, marginMs: 10_000 };
  const jwt = (claims: Record<string, unknown>) => fakeJwt({ sub: 's', ...claims });
  const cases: Array<{
    name: string;
    issued: Parameters<typeof checkIssuedToken>[0];
    expect?: Partial<Parameters<typeof checkIssuedToken>[1]>;
    result: number | RegExp;
  }> = [
    {
      name: 'aud = target, exp ahead: expiry is exp',
      issued: { token: jwt({ aud: TARGET, exp: S(NOW) + 60 }) },
      result: NOW + 60_000,
    },
    {
      name: 'aud as a list of the one audience',
      issued: { token: jwt({ aud: [TARGET], exp: S(NOW) + 60 }) },
      result: NOW + 60_000,
    },
    {
      // Every API server it names would take it: never what one target needs (a red-team review).
      name: 'aud naming another audience beside the target: refused',
      issued: { token: jwt({ aud: [TARGET, 'k8s-team-b-dev'], exp: S(NOW) + 60 }) },
      result: /is for audiences \["k8s-team-a-dev","k8s-team-b-dev"\], not only "k8s-team-a-dev"/,
    },
    {
      name: 'aud naming the target twice: one audience',
      issued: { token: jwt({ aud: [TARGET, TARGET], exp: S(NOW) + 60 }) },
      result: NOW + 60_000,
    },
    {
      name: "another cluster's aud: refused",
      issued: { token: jwt({ aud: 'k8s-team-b-dev', exp: S(NOW) + 60 }) },
      result: /is for audience \["k8s-team-b-dev"\], not "k8s-team-a-dev"/,
    },
    { name: 'no aud: refused', issued: { token: jwt({ exp: S(NOW) + 60 }) }, result: /has no aud claim/ },
    { name: 'no exp: refused', issued: { token: jwt({ aud: TARGET }) }, result: /no numeric exp/ },
    {
      name: 'expired: refused',
      issued: { token: jwt({ aud: TARGET, exp: S(NOW) - 5 }) },
      result: /expires at .* not more than --expiry-margin 10s after now/,
    },
    {
      name: 'inside the margin: refused',
      issued: { token: jwt({ aud: TARGET, exp: S(NOW) + 10 }) },
      result: /--expiry-margin/,
    },
    {
      name: 'stated 2100: capped at exp',
      issued: {
        token: jwt({ aud: TARGET, exp: S(NOW) + 60 }),
        statedExpiresAt: Date.parse('2100-01-01T00:00:00Z'),
      },
      result: NOW + 60_000,
    },
    {
      name: 'stated before exp: the earlier wins',
      issued: { token: jwt({ aud: TARGET, exp: S(NOW) + 60 }), statedExpiresAt: NOW + 30_000 },
      result: NOW + 30_000,
    },
    {
      name: 'the broker states the audience',
      issued: { token: jwt({ aud: 'team-a-aud', exp: S(NOW) + 60 }), audience: 'team-a-aud' },
      result: NOW + 60_000,
    },
    {
      name: "--audience wins over the broker's statement",
      issued: { token: jwt({ aud: 'evil', exp: S(NOW) + 60 }), audience: 'evil' },
      expect: { audience: 'team-a-aud' },
      result: /not "team-a-aud" \(--audience\)/,
    },
    {
      name: 'opaque without expirationTimestamp: refused',
      issued: { token: 'opaque-token' },
      result: /opaque \(non-JWT\) token .* without expirationTimestamp/,
    },
    {
      name: 'opaque with expirationTimestamp 2100: at most 15 minutes',
      issued: { token: 'opaque-token', statedExpiresAt: Date.parse('2100-01-01T00:00:00Z') },
      result: NOW + MAX_TOKEN_REUSE_MS,
    },
    {
      // Found by a red-team review: a JWT's exp was taken as it stood, so one dated 2100 was
      // cached and printed as a credential for 75 years, and one of 1e300 poisoned the cache.
      name: 'JWT with exp in 2100: at most 15 minutes',
      issued: { token: jwt({ aud: TARGET, exp: Date.parse('2100-01-01T00:00:00Z') / 1000 }) },
      result: NOW + MAX_TOKEN_REUSE_MS,
    },
    {
      name: 'JWT with exp 1e300 (past what a Date holds): at most 15 minutes',
      issued: { token: jwt({ aud: TARGET, exp: 1e300 }) },
      result: NOW + MAX_TOKEN_REUSE_MS,
    },
    {
      name: 'opaque already expired: refused',
      issued: { token: 'opaque-token', statedExpiresAt: NOW - 1 },
      result: /expires at/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const run = () => checkIssuedToken(c.issued, { ...e, ...c.expect });
      if (typeof c.result === 'number') assert.equal(run().expiresAt, c.result);
      else
        assert.throws(
          run,
          (err: unknown) =>
            isTenantGuardError(err, 'ERR_CREDENTIAL_BROKER') && (c.result as RegExp).test(err.message),
        );
    });
  }
});

describe('runCredential against a misbehaving broker', () => {
  let pki: TestTls;
  let broker: FakeBroker;
  let dir: string;
  let tokenFile: string;
  let cacheDir: string;
  const CALLER = fakeJwt({
    sub: 'system:serviceaccount:argocd:argocd-application-controller',
    exp: 4_000_000_000,
  });

  before(async () => {
    pki = await makeTestTls();
    dir = await mkdtemp(join(tmpdir(), 'tg-cred-checks-'));
    tokenFile = join(dir, 'token');
    await writeFile(tokenFile, CALLER);
    broker = await startFakeBroker(pki);
  });
  after(async () => {
    await broker.close();
    await rm(dir, { recursive: true, force: true });
    await rm(pki.dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    broker.requests.length = 0;
    broker.answer((req) => tokenAnswer(60, { aud: targetOf(req) }));
    cacheDir = await mkdtemp(join(dir, 'cache-'));
  });

  async function run(
    extraArgs: string[] = [],
    io: Partial<CredentialIo> = {},
    target = TARGET,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await runCredential(
      [broker.url, target, tokenFile, '--ca-file', pki.caFile, '--cache-dir', cacheDir, ...extraArgs],
      {
        env: {},
        stdout: (t) => {
          stdout += t;
        },
        stderr: (t) => {
          stderr += t;
        },
        ...io,
      },
    );
    return { code, stdout, stderr };
  }
  function refusedWith(
    o: { code: number; stdout: string; stderr: string },
    code: string,
    message: RegExp,
  ): void {
    assert.equal(o.code, 1, o.stderr);
    assert.equal(o.stdout, '', 'nothing printed');
    assert.match(o.stderr, new RegExp(`^tenant-guard-credential: ${code}: `));
    assert.match(o.stderr, message);
  }

  test("a token for another cluster's audience: refused, not printed, not cached", async () => {
    broker.answer(() => tokenAnswer(60, { aud: 'k8s-team-b-dev' }));
    refusedWith(await run(), 'ERR_CREDENTIAL_BROKER', /is for audience \["k8s-team-b-dev"\]/);
    assert.deepEqual(await readdir(cacheDir), []);
  });

  test('an expired token: refused, not printed, not cached', async () => {
    broker.answer(() => tokenAnswer(-30, { aud: TARGET }));
    refusedWith(
      await run(),
      'ERR_CREDENTIAL_BROKER',
      /expires at .*check the broker's and this host's clocks/,
    );
    assert.deepEqual(await readdir(cacheDir), []);
  });

  test('expirationTimestamp 2100 with a 60 s JWT: printed as exp minus the margin', async () => {
    const a = tokenAnswer(60, { aud: TARGET });
    broker.answer(() => ({
      ...a,
      body: JSON.stringify({ token: a.token, expirationTimestamp: '2100-01-01T00:00:00Z' }),
    }));
    const o = await run();
    assert.equal(o.code, 0, o.stderr);
    assert.equal(
      JSON.parse(o.stdout).status.expirationTimestamp,
      new Date((a.exp - 10) * 1000).toISOString().replace('.000Z', 'Z'),
    );
  });

  test('an opaque token without expiry from the drop-in endpoint: refused', async () => {
    broker.answer(() => ({ status: 200, body: 'opaque-token-without-expiry', contentType: 'text/plain' }));
    let stdout = '';
    let stderr = '';
    const code = await runCredential(
      [`${broker.url}/api/get-target-token`, TARGET, tokenFile, '--ca-file', pki.caFile],
      {
        env: {},
        stdout: (t) => {
          stdout += t;
        },
        stderr: (t) => {
          stderr += t;
        },
      },
    );
    refusedWith({ code, stdout, stderr }, 'ERR_CREDENTIAL_BROKER', /opaque \(non-JWT\) token/);
  });

  test('a Tenant audience: accepted when the broker states it or with --audience', async () => {
    const a = tokenAnswer(60, { aud: 'team-a-dev-aud' });
    broker.answer(() => ({
      ...a,
      body: JSON.stringify({
        token: a.token,
        expirationTimestamp: new Date(a.exp * 1000).toISOString(),
        audience: 'team-a-dev-aud',
      }),
    }));
    assert.equal((await run()).code, 0);
    broker.answer(() => a);
    await rm(cacheDir, { recursive: true });
    refusedWith(await run(), 'ERR_CREDENTIAL_BROKER', /give --audience/);
    assert.equal((await run(['--audience', 'team-a-dev-aud'])).code, 0);
  });

  test('a cached entry planted for another audience is not printed; the broker is asked', async () => {
    const file = cacheFilePath(cacheDir, `${broker.url}/v1/tokens`, TARGET, CALLER);
    const planted = fakeJwt({ aud: 'k8s-team-b-dev', exp: S(Date.now()) + 600 });
    await writeFile(
      file,
      JSON.stringify({
        v: 1,
        broker: `${broker.url}/v1/tokens`,
        target: TARGET,
        token: planted,
        expiresAt: Date.now() + 600_000,
      }),
      { mode: 0o600 },
    );
    const o = await run();
    assert.equal(o.code, 0, o.stderr);
    assert.notEqual(JSON.parse(o.stdout).status.token, planted);
    assert.equal(broker.requests.length, 1);
  });

  const badDirs: Array<{ name: string; mode: number; uid?: number; message: RegExp }> = [
    {
      name: 'owned by another user',
      mode: 0o700,
      uid: 1000,
      message: /is owned by uid 0, not this user \(uid 1000\)/,
    },
    { name: 'world-writable', mode: 0o777, message: /is writable by others \(mode 0777\)/ },
    { name: 'group-writable', mode: 0o770, message: /is writable by its group \(mode 0770\)/ },
  ];
  for (const d of badDirs) {
    test(`--cache-dir ${d.name}: refused before any broker call`, async () => {
      await chmod(cacheDir, d.mode);
      refusedWith(
        await run([], d.uid === undefined ? {} : { uid: d.uid }),
        'ERR_CREDENTIAL_CACHE',
        d.message,
      );
      assert.equal(broker.requests.length, 0);
    });
  }

  test('--cache-dir that is a file: refused; a missing one is created 0700', async () => {
    const parent = cacheDir;
    await writeFile(join(parent, 'f'), 'x');
    cacheDir = join(parent, 'f');
    refusedWith(await run(), 'ERR_CREDENTIAL_CACHE', /is not a directory/);
    await mkdir(join(parent, 'p'));
    cacheDir = join(parent, 'p', 'new');
    assert.equal((await run()).code, 0);
    assert.equal((await stat(cacheDir)).mode & 0o777, 0o700);
  });
});

describe('429 and Retry-After within --timeout', () => {
  let pki: TestTls;
  let broker: FakeBroker;
  let dir: string;
  let tokenFile: string;
  before(async () => {
    pki = await makeTestTls();
    dir = await mkdtemp(join(tmpdir(), 'tg-cred-429-'));
    tokenFile = join(dir, 'token');
    await writeFile(
      tokenFile,
      fakeJwt({ sub: 'system:serviceaccount:argocd:argocd-application-controller' }),
    );
    broker = await startFakeBroker(pki);
  });
  after(async () => {
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  });

  function virtualClock() {
    let t = Date.now();
    const sleeps: number[] = [];
    return {
      now: () => t,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        t += ms;
      },
      sleeps,
    };
  }
  const tooMany = (seconds: number) => ({
    status: 429,
    body: '{"error":"ERR_BROKER_RATE_LIMITED","message":"too many token requests"}',
    headers: { 'Retry-After': String(seconds) },
  });

  test('429 with Retry-After 2: waits 2 s, asks again, prints the token', async () => {
    broker.requests.length = 0;
    broker.answer((req, n) => (n === 1 ? tooMany(2) : tokenAnswer(60, { aud: targetOf(req) })));
    const c = virtualClock();
    let stdout = '';
    const code = await runCredential([broker.url, TARGET, tokenFile, '--ca-file', pki.caFile], {
      env: {},
      stdout: (t) => {
        stdout += t;
      },
      stderr: () => undefined,
      now: c.now,
      sleep: c.sleep,
      random: () => 0.5,
    });
    assert.equal(code, 0);
    assert.equal(JSON.parse(stdout).kind, 'ExecCredential');
    assert.deepEqual(c.sleeps, [2000]);
    assert.equal(broker.requests.length, 2);
  });

  test('429 with Retry-After beyond --timeout: gives up at once, saying so', async () => {
    broker.requests.length = 0;
    broker.answer(() => tooMany(30));
    const c = virtualClock();
    let stderr = '';
    const code = await runCredential(
      [broker.url, TARGET, tokenFile, '--ca-file', pki.caFile, '--timeout', '10s'],
      {
        env: {},
        stdout: (t) => {
          stderr += `stdout: ${t}`;
        },
        stderr: (t) => {
          stderr += t;
        },
        now: c.now,
        sleep: c.sleep,
        random: () => 0.5,
      },
    );
    assert.equal(code, 1);
    assert.match(
      stderr,
      /ERR_CREDENTIAL_REFUSED: .*429.*gave up after 1 attempt, --timeout 10s; the broker asked to retry after 30s\)/,
    );
    assert.deepEqual(c.sleeps, []);
    assert.equal(broker.requests.length, 1);
  });
});
