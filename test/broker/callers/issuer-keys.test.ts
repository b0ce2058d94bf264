import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { describe, test } from 'node:test';
import { MAX_TOKEN_LENGTH } from '../../../src/broker/callers/bearer.js';
import {
  checkTokenSignature,
  MAX_ISSUER_KEYS,
  MAX_JWKS_BYTES,
  readIssuerJwks,
} from '../../../src/broker/callers/issuer-jwks.js';
import { IssuerKeys, type IssuerKeySource } from '../../../src/broker/callers/issuer-keys.js';
import { TenantGuardError } from '../../../src/errors.js';
import {
  makeIssuerKey,
  signCallerToken,
  signJws,
  testIssuerKeys,
  type TestIssuerKey,
} from '../../support/caller-tokens.js';
import { CONTROLLER, recordingLogger } from '../helpers.js';

const { rsa, ec, jwks } = testIssuerKeys();
const NOW = 1_700_000_000_000;
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const claims = (more: Record<string, unknown> = {}) => ({ sub: CONTROLLER, exp: NOW / 1000 + 3600, more });
const tokenBy = (key: TestIssuerKey, more?: Record<string, unknown>) => signCallerToken(claims(more), key);

/** An IssuerKeys over a source answering `answers` in turn (an Error: that failure), on a clock the test moves. */
function keysOver(answers: unknown[], options: { staleAfterMs?: number } = {}) {
  const log = recordingLogger();
  const t = {
    clock: NOW,
    fetches: 0,
    scheduled: [] as Array<{ ms: number; task: () => void }>,
    stopped: 0,
    lines: log.lines,
    text: log.text,
    keys: undefined as unknown as IssuerKeys,
  };
  const source: IssuerKeySource = {
    fetch: async () => {
      const answer = answers[Math.min(t.fetches, answers.length - 1)];
      t.fetches++;
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  t.keys = new IssuerKeys({
    source,
    logger: log.logger,
    now: () => t.clock,
    every: (ms, task) => {
      t.scheduled.push({ ms, task });
      return () => void t.stopped++;
    },
    ...options,
  });
  return t;
}

const down = () =>
  new TenantGuardError('ERR_ISSUER_KEYS', 'GET /openid/v1/jwks: the API server answered 403 Forbidden');
const settle = () => new Promise((r) => setImmediate(r));

describe('checkTokenSignature: only what the cluster signed, with its keys and algorithms', () => {
  const keys = (() => {
    const read = readIssuerJwks(jwks);
    assert.ok(read.ok);
    return read;
  })();
  const other = makeIssuerKey('RS256');
  const good = tokenBy(rsa);
  const [head = '', body = '', sig = ''] = good.split('.');
  const cases: Array<{ name: string; token: string; expect: string }> = [
    { name: 'RS256, signed by the cluster key its kid names', token: good, expect: 'signed' },
    { name: 'ES256 (IEEE P1363 signature)', token: tokenBy(ec), expect: 'signed' },
    { name: 'no exp', token: signCallerToken({ sub: CONTROLLER }, rsa), expect: 'signed' },
    {
      name: 'no kid: tried against the keys of its alg',
      token: signJws({ sub: CONTROLLER }, rsa, { kid: undefined }),
      expect: 'signed',
    },
    {
      name: 'tampered payload',
      token: `${head}.${b64({ sub: CONTROLLER, 'kubernetes.io': { serviceaccount: { uid: 'x' } } })}.${sig}`,
      expect: 'forged',
    },
    {
      name: 'another key under the cluster key’s kid',
      token: signJws({ sub: CONTROLLER }, { ...other, kid: rsa.kid }),
      expect: 'forged',
    },
    {
      name: 'no kid, another key',
      token: signJws({ sub: CONTROLLER }, other, { kid: undefined }),
      expect: 'forged',
    },
    { name: 'alg none', token: `${b64({ alg: 'none', kid: rsa.kid })}.${body}.`, expect: 'forged' },
    {
      name: 'alg none, with a signature',
      token: `${b64({ alg: 'none', kid: rsa.kid })}.${body}.${sig}`,
      expect: 'forged',
    },
    {
      name: 'HS256 keyed with the public key (algorithm confusion)',
      token: (() => {
        const input = `${b64({ alg: 'HS256', kid: rsa.kid })}.${body}`;
        return `${input}.${createHmac('sha256', JSON.stringify(rsa.jwk)).update(input).digest('base64url')}`;
      })(),
      expect: 'forged',
    },
    {
      name: 'header alg not the key’s',
      token: signJws({ sub: CONTROLLER }, ec, { alg: 'ES384' }),
      expect: 'forged',
    },
    {
      name: 'RS256 header on the EC key’s kid',
      token: signJws({ sub: CONTROLLER }, rsa, { kid: ec.kid }),
      expect: 'forged',
    },
    {
      name: 'ES256 signature in DER form',
      token: (() => {
        const input = `${b64({ alg: 'ES256', kid: ec.kid })}.${body}`;
        return `${input}.${sign('sha256', Buffer.from(input), ec.privateKey).toString('base64url')}`;
      })(),
      expect: 'forged',
    },
    { name: 'expired', token: signCallerToken({ ...claims(), exp: NOW / 1000 - 1 }, rsa), expect: 'forged' },
    {
      name: 'exp not a number',
      token: signCallerToken({ sub: CONTROLLER, more: { exp: '9999999999' } }, rsa),
      expect: 'forged',
    },
    { name: 'crit header', token: signJws({ sub: CONTROLLER }, rsa, { crit: ['exp'] }), expect: 'forged' },
    { name: 'unknown kid', token: tokenBy(other), expect: 'unknown-kid' },
    { name: 'not a JWS', token: 'opaque-token', expect: 'forged' },
    { name: 'four segments', token: `${good}.x`, expect: 'forged' },
    { name: 'not base64url', token: `${head}.${body}.${sig}=`, expect: 'forged' },
    {
      name: 'longer than a bearer token may be, though signed',
      token: tokenBy(rsa, { pad: 'x'.repeat(MAX_TOKEN_LENGTH) }),
      expect: 'forged',
    },
    {
      name: 'an oversize header',
      token: signJws({ sub: CONTROLLER }, rsa, { pad: 'x'.repeat(1100) }),
      expect: 'forged',
    },
  ];
  for (const c of cases) test(c.name, () => assert.equal(checkTokenSignature(c.token, keys, NOW), c.expect));

  test('ES384: the hash of the curve', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const read = readIssuerJwks({
      keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k384', alg: 'ES384', use: 'sig' }],
    });
    assert.ok(read.ok);
    const input = `${b64({ alg: 'ES384', kid: 'k384' })}.${b64({ sub: CONTROLLER })}`;
    const signed = (hash: string) =>
      `${input}.${sign(hash, Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    assert.equal(checkTokenSignature(signed('sha384'), read, NOW), 'signed');
    assert.equal(checkTokenSignature(signed('sha256'), read, NOW), 'forged');
  });

  test('a kid of a JWKS entry that could not be used: unusable-key (unknown to IssuerKeys), not forged', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weak: TestIssuerKey = {
      alg: 'RS256',
      kid: 'weak',
      privateKey,
      jwk: { ...publicKey.export({ format: 'jwk' }), kid: 'weak', alg: 'RS256', use: 'sig' },
    };
    const read = readIssuerJwks({ keys: [rsa.jwk, weak.jwk] });
    assert.ok(read.ok);
    assert.equal(checkTokenSignature(tokenBy(weak), read, NOW), 'unusable-key');
    const t = keysOver([{ keys: [rsa.jwk, weak.jwk] }]);
    await t.keys.start();
    assert.equal(t.keys.check(tokenBy(weak)), 'unknown');
    assert.equal(t.keys.check(tokenBy(rsa)), 'signed');
  });
});

describe('readIssuerJwks: bounded, public signature keys only', () => {
  test('the JWKS as text or as client-node parsed it; entries it cannot use skipped and counted', () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const entries = [
      rsa.jwk,
      ec.jwk,
      { ...rsa.jwk, kid: 'enc', use: 'enc' },
      { ...ec.jwk, kid: 'mislabelled', alg: 'RS256' },
      { ...weak, kid: 'weak', alg: 'RS256' },
      { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac', alg: 'HS256' },
      { kty: 'RSA', kid: 'broken', n: 'AQAB' },
      'not a key',
    ];
    for (const value of [{ keys: entries }, JSON.stringify({ keys: entries })]) {
      const read = readIssuerJwks(value);
      assert.ok(read.ok);
      assert.deepEqual(
        read.keys.map((k) => [k.kid, k.alg]),
        [
          [rsa.kid, 'RS256'],
          [ec.kid, 'ES256'],
        ],
      );
      assert.equal(read.skipped, 6);
    }
  });

  const refused: Array<{ name: string; value: unknown; reason: RegExp }> = [
    {
      name: 'more keys than the cap',
      value: { keys: Array.from({ length: MAX_ISSUER_KEYS + 1 }, () => rsa.jwk) },
      reason: /more than 32/,
    },
    {
      name: 'larger than the cap',
      value: { keys: [rsa.jwk], pad: 'x'.repeat(MAX_JWKS_BYTES) },
      reason: /larger than 65536/,
    },
    {
      name: 'larger than the cap, as text',
      value: JSON.stringify({ keys: [rsa.jwk], pad: 'é'.repeat(MAX_JWKS_BYTES / 2) }),
      reason: /larger than/,
    },
    { name: 'not JSON', value: '{"keys":', reason: /not JSON/ },
    { name: 'no keys list', value: { keys: {} }, reason: /not a JWKS/ },
    { name: 'no usable key', value: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }, reason: /none of/ },
  ];
  for (const c of refused)
    test(`refused: ${c.name}`, () => {
      const read = readIssuerJwks(c.value);
      assert.equal(read.ok, false);
      assert.match(read.ok ? '' : read.reason, c.reason);
    });
});

describe('IssuerKeys: fetched, kept, refreshed; unknown until read', () => {
  test('no keys before the first fetch, nor while every fetch fails: unknown, logged once per interval', async () => {
    const t = keysOver([down()]);
    assert.equal(t.keys.check(tokenBy(rsa)), 'unknown', 'never fetched');
    await settle(); // the check asked for a fetch
    assert.equal(t.fetches, 1);
    await t.keys.start();
    assert.equal(t.fetches, 2);
    assert.equal(t.keys.check(tokenBy(rsa)), 'unknown', 'every fetch failed');
    const warnings = t.lines.filter((l) => l.code === 'ERR_ISSUER_KEYS');
    assert.equal(warnings.length, 1, 'throttled');
    assert.match(String(warnings[0]?.msg), /403 Forbidden.*unverified claims/);
    t.clock += 600_000;
    await t.keys.refresh();
    assert.equal(t.lines.filter((l) => l.code === 'ERR_ISSUER_KEYS')[1]?.notLogged, 1);
    assert.ok(!t.text().includes(tokenBy(rsa).split('.')[2] ?? '?'), 'no token in the log');
  });

  test('read once, kept through failed fetches, refreshed on its schedule until closed', async () => {
    const t = keysOver([jwks, down(), { keys: [ec.jwk] }]);
    await t.keys.start();
    assert.deepEqual(
      t.scheduled.map((s) => s.ms),
      [600_000],
    );
    assert.equal(t.keys.check(tokenBy(rsa)), 'signed');
    assert.equal(t.keys.check(tokenBy(ec)), 'signed');
    t.scheduled[0]?.task(); // fails: the keys read before stay
    await t.keys.refresh();
    assert.equal(t.keys.check(tokenBy(rsa)), 'signed');
    assert.match(
      String(t.lines.find((l) => l.code === 'ERR_ISSUER_KEYS')?.msg),
      /2 keys read before are kept/,
    );
    t.scheduled[0]?.task(); // the cluster dropped its RSA key
    await t.keys.refresh();
    assert.equal(t.fetches, 3);
    assert.equal(t.keys.size, 1);
    t.keys.close();
    assert.equal(t.stopped, 1);
    await t.keys.refresh();
    assert.equal(t.fetches, 3, 'no fetch after close');
  });

  test('an unknown kid is forged, and asks for a fetch at most once per 30 s (its key is then known)', async () => {
    const next = makeIssuerKey('ES256');
    const t = keysOver([jwks, { keys: [...jwks.keys, next.jwk] }]);
    await t.keys.start();
    const rotated = tokenBy(next);
    for (let i = 0; i < 5; i++) assert.equal(t.keys.check(rotated), 'forged');
    await settle();
    assert.equal(t.fetches, 1, 'the first fetch was less than 30 s ago');
    t.clock += 30_000;
    for (let i = 0; i < 5; i++) assert.equal(t.keys.check(rotated), 'forged');
    await t.keys.refresh();
    assert.equal(t.fetches, 2, 'one fetch for five unknown kids');
    assert.equal(t.keys.check(rotated), 'signed');
    t.clock += 1_000;
    assert.equal(t.keys.check(tokenBy(makeIssuerKey('RS256'))), 'forged');
    await settle();
    assert.equal(t.fetches, 2, 'rate-limited');
  });

  test('keys not refreshed for long: a kid they lack is unknown, what they know still judged', async () => {
    const t = keysOver([jwks, down()], { staleAfterMs: 1_800_000 });
    await t.keys.start();
    t.clock += 1_800_001;
    assert.equal(t.keys.check(tokenBy(makeIssuerKey('ES256'))), 'unknown');
    assert.equal(t.keys.check(tokenBy({ ...makeIssuerKey('RS256'), kid: rsa.kid })), 'forged');
    assert.equal(t.keys.check(signCallerToken({ ...claims(), exp: t.clock / 1000 + 60 }, rsa)), 'signed');
  });

  test('a JWKS past its bounds is refused like a failed fetch', async () => {
    const t = keysOver([{ keys: Array.from({ length: MAX_ISSUER_KEYS + 1 }, () => rsa.jwk) }]);
    await t.keys.start();
    assert.equal(t.keys.size, 0);
    assert.equal(t.keys.check(tokenBy(rsa)), 'unknown');
    assert.match(String(t.lines.find((l) => l.code === 'ERR_ISSUER_KEYS')?.msg), /more than 32/);
  });
});
