import assert from 'node:assert/strict';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  generateKeyRecord,
  parseKeyRecord,
  serializeKeyRecord,
} from '../../../src/broker/keys/key-material.js';
import { DirectoryKeyStore, type FileFacts } from '../../../src/broker/keys/key-store-directory.js';
import { SecretKeyStore } from '../../../src/broker/keys/key-store-secret.js';
import { MemoryKeyStore, type KeyStore } from '../../../src/broker/keys/key-store.js';
import { isTenantGuardError } from '../../../src/errors.js';
import { SECRETS, TestApiServer } from '../../support/test-api-server.js';

const isConflict = (e: unknown): boolean => isTenantGuardError(e, 'ERR_KEYRING_CONFLICT');

describe('key material', () => {
  test('RS256 keys are RSA 2048, ES256 keys P-256; kid is the thumbprint; the public JWK has no private member', async () => {
    const rsa = await generateKeyRecord('RS256', 1, 2);
    assert.equal(Buffer.from(rsa.publicJwk.n ?? '', 'base64url').length * 8, 2048);
    assert.deepEqual(Object.keys(rsa.publicJwk).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
    const ec = await generateKeyRecord('ES256', 1, 2);
    assert.equal(ec.publicJwk.crv, 'P-256');
    assert.deepEqual(Object.keys(ec.publicJwk).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    const back = await parseKeyRecord(serializeKeyRecord(ec), 'test');
    assert.deepEqual(back, ec);
  });

  test('a stored key whose kid is not its thumbprint is refused (ERR_KEYRING_STORE), naming no key material', async () => {
    const k = await generateKeyRecord('ES256', 1, 2);
    const forged = serializeKeyRecord({ ...k, kid: 'someone-elses-kid' });
    await assert.rejects(
      parseKeyRecord(forged, 'entry x'),
      (e: unknown) =>
        isTenantGuardError(e, 'ERR_KEYRING_STORE') &&
        /thumbprint/.test(e.message) &&
        !e.message.includes(String(k.privateJwk.d)),
    );
    await assert.rejects(parseKeyRecord('{"kid":"a","alg":"HS256"}', 'entry y'), (e: unknown) =>
      isTenantGuardError(e, 'ERR_KEYRING_STORE'),
    );
    await assert.rejects(parseKeyRecord('not json', 'entry z'), (e: unknown) =>
      isTenantGuardError(e, 'ERR_KEYRING_STORE'),
    );
  });
});

/** The behaviour every store shares: versions, conflicts, unreadable entries left alone. */
async function storeContract(
  makeStore: () => KeyStore,
  plant: (name: string, text: string) => Promise<void>,
): Promise<void> {
  const a = makeStore();
  const b = makeStore();
  const k1 = await generateKeyRecord('ES256', 1, 1);
  const k2 = await generateKeyRecord('ES256', 2, 2);
  const empty = await a.load();
  assert.deepEqual(empty.keys, []);
  const v1 = await a.save({ add: [k1], remove: [] }, empty.version);
  const seenByB = await b.load();
  assert.deepEqual(
    seenByB.keys.map((k) => k.kid),
    [k1.kid],
  );
  assert.equal(seenByB.version, v1);
  // a writes again; b's version is stale now.
  await a.save({ add: [k2], remove: [] }, v1);
  await assert.rejects(b.save({ add: [], remove: [k1.kid] }, seenByB.version), isConflict);
  const fresh = await b.load();
  assert.deepEqual(fresh.keys.map((k) => k.kid).sort(), [k1.kid, k2.kid].sort());
  // An entry nobody can read is reported and survives a save.
  await plant('broken.json', '{not json');
  const withBroken = await a.load();
  assert.equal(withBroken.problems.length, 1);
  assert.match(withBroken.problems[0] ?? '', /broken\.json: is not JSON/);
  await a.save({ add: [], remove: [k1.kid] }, withBroken.version);
  const last = await b.load();
  assert.deepEqual(
    last.keys.map((k) => k.kid),
    [k2.kid],
  );
  assert.equal(last.problems.length, 1, 'the unreadable entry is still there');
}

describe('directory key store', () => {
  test('the store contract; files 0600 in a 0700 directory', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tg-keys-')), 'ring');
    await storeContract(
      () => new DirectoryKeyStore(dir),
      async (name, text) => writeFileSync(join(dir, name), text, { mode: 0o600 }),
    );
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });
});

describe('directory key store refuses what others could have planted (ERR_KEYRING_UNSAFE)', () => {
  const isUnsafe =
    (re: RegExp) =>
    (e: unknown): boolean =>
      isTenantGuardError(e, 'ERR_KEYRING_UNSAFE') && re.test(e.message);
  const uid = process.getuid?.() ?? 0;

  async function ring(): Promise<{ dir: string; store: DirectoryKeyStore; kid: string; done: () => void }> {
    const root = mkdtempSync(join(tmpdir(), 'tg-keys-'));
    const dir = join(root, 'ring');
    const store = new DirectoryKeyStore(dir);
    const k = await generateKeyRecord('ES256', 1, 1);
    await store.save({ add: [k], remove: [] }, (await store.load()).version);
    return { dir, store, kid: k.kid, done: () => rmSync(root, { recursive: true, force: true }) };
  }

  test('a directory writable by group or others: load and save refused, naming the fix', async () => {
    const { dir, store, done } = await ring();
    for (const mode of [0o777, 0o720, 0o702]) {
      chmodSync(dir, mode);
      await assert.rejects(store.load(), isUnsafe(/writable by group or others .*chmod 700/));
      await assert.rejects(
        store.save({ add: [], remove: [] }, undefined),
        isUnsafe(/writable by group or others/),
      );
    }
    chmodSync(dir, 0o755);
    assert.equal((await store.load()).keys.length, 1, 'readable by others is fine: the files are 0600');
    done();
  });

  test('a directory owned by another user is refused, with keys in it or empty', async () => {
    const { dir, kid, done } = await ring();
    // The directory's own check, not the per-file one (a mutation-testing review: an empty
    // directory of another user was taken while the regex matched the files' message).
    const directoryOwner = isUnsafe(/^key directory .* is owned by uid \d+, not by the broker's user/);
    await assert.rejects(new DirectoryKeyStore(dir, { uid: uid + 4242 }).load(), directoryOwner);
    rmSync(join(dir, `${kid}.json`));
    await assert.rejects(new DirectoryKeyStore(dir, { uid: uid + 4242 }).load(), directoryOwner);
    done();
  });

  test("a key file readable by others (mode 644) planted next to the broker's: the ring is refused", async () => {
    const { dir, store, done } = await ring();
    const planted = await generateKeyRecord('ES256', 1, 1);
    writeFileSync(join(dir, `${planted.kid}.json`), serializeKeyRecord(planted), { mode: 0o644 });
    chmodSync(join(dir, `${planted.kid}.json`), 0o644);
    await assert.rejects(store.load(), isUnsafe(/readable or writable by group or others \(mode 0644\)/));
    chmodSync(join(dir, `${planted.kid}.json`), 0o640);
    await assert.rejects(store.load(), isUnsafe(/mode 0640/));
    done();
  });

  test('a key file owned by another user is refused, even with mode 600', async () => {
    const { dir, kid, done } = await ring();
    const other: (path: string) => Promise<FileFacts> = async (path) => {
      const s = lstatSync(path);
      return path.endsWith(`${kid}.json`)
        ? Object.assign(Object.create(Object.getPrototypeOf(s) as object) as FileFacts, s, {
            uid: uid + 4242,
          })
        : s;
    };
    await assert.rejects(
      new DirectoryKeyStore(dir, { lstat: other }).load(),
      isUnsafe(/owned by uid \d+, not by the broker's user/),
    );
    done();
  });

  test('a key file that is a symlink is refused', async () => {
    const { dir, store, done } = await ring();
    const elsewhere = join(dir, '..', 'elsewhere.json');
    writeFileSync(elsewhere, '{}', { mode: 0o600 });
    symlinkSync(elsewhere, join(dir, 'link.json'));
    await assert.rejects(store.load(), isUnsafe(/not a regular file/));
    done();
  });

  test("a directory it creates is 0700 and owned by the broker's user; a missing directory reads as empty", async () => {
    const root = mkdtempSync(join(tmpdir(), 'tg-keys-'));
    const dir = join(root, 'a', 'b');
    const store = new DirectoryKeyStore(dir);
    assert.deepEqual((await store.load()).keys, []);
    await store.save(
      { add: [await generateKeyRecord('ES256', 1, 1)], remove: [] },
      (await store.load()).version,
    );
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(dir).uid, uid);
    mkdirSync(join(root, 'c'), { mode: 0o777 });
    chmodSync(join(root, 'c'), 0o777);
    await assert.rejects(
      new DirectoryKeyStore(join(root, 'c')).save({ add: [], remove: [] }, undefined),
      isUnsafe(/writable by group or others/),
    );
    rmSync(root, { recursive: true, force: true });
  });
});

describe('memory key store', () => {
  test('a load pending while another replica saves returns the keys and the version of one moment', async () => {
    const store = new MemoryKeyStore();
    const k = await generateKeyRecord('ES256', 1, 1);
    const pending = store.load(); // reads the empty ring
    await store.save({ add: [k], remove: [] }, undefined); // another replica writes meanwhile
    const snap = await pending;
    assert.deepEqual(snap.keys, []);
    assert.equal(snap.version, undefined, 'the version of the empty ring it returns, not the new one');
    // A save decided on that read is refused, so k is not lost.
    await assert.rejects(store.save({ add: [], remove: [] }, snap.version), isConflict);
  });

  test('a save based on a stale version is a conflict', async () => {
    const store = new MemoryKeyStore();
    const k = await generateKeyRecord('ES256', 1, 1);
    const { version } = await store.load();
    await store.save({ add: [k], remove: [] }, version);
    await assert.rejects(store.save({ add: [], remove: [k.kid] }, version), isConflict);
    assert.deepEqual(
      (await store.load()).keys.map((x) => x.kid),
      [k.kid],
    );
  });
});

describe('Secret key store against the test API server', () => {
  let api: TestApiServer;
  before(async () => {
    api = await TestApiServer.start();
  });
  after(async () => api.close());

  test('the store contract; the Secret holds <kid>.json entries and is written with its resourceVersion', async () => {
    const kc = api.kubeConfig();
    await storeContract(
      () => new SecretKeyStore(kc, { namespace: 'tenant-guard', name: 'broker-keys' }),
      async (name, text) => {
        const s = api.store.get(SECRETS, 'tenant-guard', 'broker-keys');
        const data = { ...(s.data as Record<string, string>), [name]: Buffer.from(text).toString('base64') };
        api.store.update(SECRETS, 'tenant-guard', 'broker-keys', { ...s, data });
      },
    );
    const secret = api.store.get(SECRETS, 'tenant-guard', 'broker-keys');
    assert.equal(secret.type, 'Opaque');
    assert.ok(Object.keys(secret.data as object).every((k) => k.endsWith('.json')));
    assert.ok(api.count({ verb: 'update', resource: 'secrets' }) >= 2);
    assert.ok(api.requests.filter((r) => r.verb === 'update').every((r) => r.name === 'broker-keys'));
  });

  test('a 409 from the API server is a conflict; an API error is ERR_KEYRING_STORE', async () => {
    const store = new SecretKeyStore(api.kubeConfig(), { namespace: 'tenant-guard', name: 'other-keys' });
    const k = await generateKeyRecord('ES256', 1, 1);
    const v = await store.save({ add: [k], remove: [] }, (await store.load()).version);
    api.failNextUpdate({ resource: 'secrets', name: 'other-keys' });
    await assert.rejects(store.save({ add: [], remove: [k.kid] }, v), isConflict);
    api.inject({ resource: 'secrets', name: 'other-keys' }, { status: 500 }, 1);
    await assert.rejects(
      store.load(),
      (e: unknown) => isTenantGuardError(e, 'ERR_KEYRING_STORE') && /answered 500/.test(e.message),
    );
    const second = new SecretKeyStore(api.kubeConfig(), { namespace: 'tenant-guard', name: 'new-keys' });
    const first = new SecretKeyStore(api.kubeConfig(), { namespace: 'tenant-guard', name: 'new-keys' });
    await first.save({ add: [k], remove: [] }, undefined);
    await assert.rejects(
      second.save({ add: [k], remove: [] }, undefined),
      isConflict,
      'AlreadyExists is a conflict too',
    );
  });
});
