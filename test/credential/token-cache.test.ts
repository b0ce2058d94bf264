import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  cacheFilePath,
  callerIdentity,
  readCachedToken,
  writeCachedToken,
} from '../../src/credential/token-cache.js';
import { fakeJwt } from './fake-broker.js';

const BROKER = 'https://broker.example/v1/tokens';
const NOW = 1_900_000_000_000;
const CALLER = fakeJwt({
  sub: 'system:serviceaccount:argocd:argocd-application-controller',
  exp: 1_900_003_600,
});

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tg-cache-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('cacheFilePath', () => {
  test('one file per broker, target and caller identity; the name reveals none of them', () => {
    const a = cacheFilePath(dir, BROKER, 'k8s-team-a-dev', CALLER);
    assert.match(basename(a), /^tg-[0-9a-f]{40}\.json$/);
    assert.equal(cacheFilePath(dir, BROKER, 'k8s-team-a-dev', CALLER), a);
    assert.notEqual(cacheFilePath(dir, BROKER, 'k8s-team-a-prod', CALLER), a);
    assert.notEqual(cacheFilePath(dir, 'https://other.example/v1/tokens', 'k8s-team-a-dev', CALLER), a);
    assert.notEqual(
      cacheFilePath(
        dir,
        BROKER,
        'k8s-team-a-dev',
        fakeJwt({ sub: 'system:serviceaccount:argocd:argocd-server' }),
      ),
      a,
    );
  });
  test('a rotated caller token of the same identity keeps the entry', () => {
    const rotated = fakeJwt({
      sub: 'system:serviceaccount:argocd:argocd-application-controller',
      exp: 1_900_007_200,
      jti: 'new',
    });
    assert.equal(cacheFilePath(dir, BROKER, 't', rotated), cacheFilePath(dir, BROKER, 't', CALLER));
  });
  test('an opaque caller token is identified by its hash', () => {
    assert.match(callerIdentity('opaque-token'), /^sha256:[0-9a-f]{64}$/);
    assert.equal(callerIdentity(CALLER), 'sub:system:serviceaccount:argocd:argocd-application-controller');
  });
});

describe('readCachedToken / writeCachedToken', () => {
  const sub = (name: string) => join(dir, name);

  test('round trip: a 0600 file in a 0700 directory, no temporary file left', async () => {
    const d = sub('round-trip');
    const file = cacheFilePath(d, BROKER, 't', CALLER);
    await writeCachedToken(file, d, BROKER, 't', { token: 'tok-1', expiresAt: NOW + 60_000 });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(d)).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(d), [basename(file)]);
    assert.deepEqual(await readCachedToken(file, BROKER, 't', NOW, 10_000), {
      token: 'tok-1',
      expiresAt: NOW + 60_000,
    });
  });

  test('reused until the margin before expiry, not after', async () => {
    const d = sub('expiry');
    const file = cacheFilePath(d, BROKER, 't', CALLER);
    await writeCachedToken(file, d, BROKER, 't', { token: 'tok', expiresAt: NOW + 60_000 });
    assert.notEqual(await readCachedToken(file, BROKER, 't', NOW + 49_999, 10_000), undefined);
    assert.equal(await readCachedToken(file, BROKER, 't', NOW + 50_000, 10_000), undefined);
    assert.equal(await readCachedToken(file, BROKER, 't', NOW + 70_000, 10_000), undefined);
  });

  test('a write replaces an existing entry', async () => {
    const d = sub('replace');
    const file = cacheFilePath(d, BROKER, 't', CALLER);
    await writeCachedToken(file, d, BROKER, 't', { token: 'old', expiresAt: NOW + 60_000 });
    await writeCachedToken(file, d, BROKER, 't', { token: 'new', expiresAt: NOW + 90_000 });
    assert.equal((await readCachedToken(file, BROKER, 't', NOW, 10_000))?.token, 'new');
  });

  const corrupt: Array<[string, string]> = [
    ['not JSON', '{"v":1,"broker"'],
    ['empty', ''],
    [
      'wrong version',
      JSON.stringify({ v: 2, broker: BROKER, target: 't', token: 'tok', expiresAt: NOW + 60_000 }),
    ],
    [
      'another target',
      JSON.stringify({ v: 1, broker: BROKER, target: 'other', token: 'tok', expiresAt: NOW + 60_000 }),
    ],
    [
      'another broker',
      JSON.stringify({
        v: 1,
        broker: 'https://x/v1/tokens',
        target: 't',
        token: 'tok',
        expiresAt: NOW + 60_000,
      }),
    ],
    [
      'token with whitespace',
      JSON.stringify({ v: 1, broker: BROKER, target: 't', token: 'a b', expiresAt: NOW + 60_000 }),
    ],
    [
      'expiresAt not a number',
      JSON.stringify({ v: 1, broker: BROKER, target: 't', token: 'tok', expiresAt: '2030' }),
    ],
  ];
  for (const [name, content] of corrupt) {
    test(`ignored: ${name}`, async () => {
      const d = sub(`corrupt-${name.replace(/\W+/g, '-')}`);
      const file = cacheFilePath(d, BROKER, 't', CALLER);
      await writeCachedToken(file, d, BROKER, 't', { token: 'x', expiresAt: NOW });
      await writeFile(file, content, { mode: 0o600 });
      assert.equal(await readCachedToken(file, BROKER, 't', NOW, 10_000), undefined);
    });
  }

  test('ignored: readable by others', async () => {
    const d = sub('loose');
    const file = cacheFilePath(d, BROKER, 't', CALLER);
    await writeCachedToken(file, d, BROKER, 't', { token: 'tok', expiresAt: NOW + 60_000 });
    await chmod(file, 0o644);
    assert.equal(await readCachedToken(file, BROKER, 't', NOW, 10_000), undefined);
  });

  test('ignored: a symlink', async () => {
    const d = sub('symlink');
    const real = cacheFilePath(d, BROKER, 'real', CALLER);
    await writeCachedToken(real, d, BROKER, 't', { token: 'tok', expiresAt: NOW + 60_000 });
    const file = cacheFilePath(d, BROKER, 't', CALLER);
    await symlink(real, file);
    assert.equal(await readCachedToken(file, BROKER, 't', NOW, 10_000), undefined);
    // and a write replaces the link itself, not its target
    await writeCachedToken(file, d, BROKER, 't', { token: 'fresh', expiresAt: NOW + 60_000 });
    assert.equal((await readCachedToken(file, BROKER, 't', NOW, 10_000))?.token, 'fresh');
    assert.match(await readFile(real, 'utf8'), /"token":"tok"/);
  });

  test('missing file: a miss', async () => {
    assert.equal(await readCachedToken(join(dir, 'nope', 'tg-x.json'), BROKER, 't', NOW, 10_000), undefined);
  });
});
