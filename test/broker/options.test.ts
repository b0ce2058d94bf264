import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import request from 'supertest';
import { createBroker } from '../../src/broker/create-broker.js';
import { checkIssuer, discoveryDocument, issuerPath, jwksUri } from '../../src/broker/discovery.js';
import {
  brokerFlags,
  parseBrokerOptions,
  parseDuration,
  type BrokerFlagKey,
} from '../../src/broker/options.js';
import { isTenantGuardError } from '../../src/errors.js';
import { brokerApp, CONTROLLER, recordingLogger, testConfig, testRegistry } from './helpers.js';

const invalid =
  (flag: RegExp) =>
  (e: unknown): boolean =>
    isTenantGuardError(e, 'ERR_SETTINGS_INVALID') && flag.test(e.message);

describe('broker options', () => {
  test('defaults', () => {
    const c = parseBrokerOptions({});
    assert.deepEqual(c.keyStore, { kind: 'memory' });
    assert.equal(c.callerAudience, 'tenant-guard');
    assert.equal(c.signingAlg, 'RS256');
    assert.equal(c.rotationPeriodMs, 24 * 3600_000);
    assert.equal(c.publishAheadMs, 60_000);
    assert.equal(c.jwksMaxAgeSeconds, 15);
    assert.ok(c.publishAheadMs > c.jwksMaxAgeSeconds * 1000 + c.reloadIntervalMs, 'safe defaults');
    assert.equal(c.reviewTimeoutMs, 3000);
    assert.equal(c.reviewCacheTtlMs, 5000);
    assert.equal(c.allowUnboundCallers, false);
  });

  test('caller-authentication limits: defaults, environment, and what is refused', () => {
    const c = parseBrokerOptions({});
    assert.deepEqual(
      [
        c.reviewConcurrency,
        c.reviewQueueSize,
        c.reviewFailureCacheTtlMs,
        c.reviewFailureCacheSize,
        c.sourceRatePerSecond,
        c.sourceBurst,
      ],
      [8, 64, 5000, 10_000, 10, 20],
    );
    const e = parseBrokerOptions(
      {},
      {
        TG_REVIEW_CONCURRENCY: '2',
        TG_REVIEW_QUEUE: '0',
        TG_REVIEW_FAILURE_CACHE_TTL: '0',
        TG_SOURCE_RATE: '0.5',
        TG_SOURCE_BURST: '3',
      },
    );
    assert.deepEqual(
      [
        e.reviewConcurrency,
        e.reviewQueueSize,
        e.reviewFailureCacheTtlMs,
        e.sourceRatePerSecond,
        e.sourceBurst,
      ],
      [2, 0, 0, 0.5, 3],
    );
    assert.throws(
      () => parseBrokerOptions({ reviewConcurrency: '0' }),
      invalid(/--review-concurrency must be greater than 0/),
    );
    assert.throws(
      () => parseBrokerOptions({ reviewQueue: '-1' }),
      invalid(/--review-queue must not be negative/),
    );
    assert.throws(
      () => parseBrokerOptions({ sourceRate: '0' }),
      invalid(/--source-rate must be greater than 0/),
    );
    assert.throws(
      () => parseBrokerOptions({ reviewFailureCacheSize: '1.5' }),
      invalid(/--review-failure-cache-size "1.5" is not an integer/),
    );
  });

  test('flags win over the environment; every flag has an environment variable', () => {
    const c = parseBrokerOptions(
      { signingAlg: 'es256' },
      {
        TG_SIGNING_ALG: 'RS256',
        TG_KEY_SECRET: 'tenant-guard/keys',
        TG_CALLER_AUDIENCE: '-',
        TG_ALLOW_UNBOUND_CALLERS: 'true',
      },
    );
    assert.equal(c.signingAlg, 'ES256');
    assert.deepEqual(c.keyStore, { kind: 'secret', namespace: 'tenant-guard', name: 'keys' });
    assert.equal(c.callerAudience, '', '- asks no audience');
    assert.equal(c.allowUnboundCallers, true);
    for (const f of brokerFlags) assert.match(f.env, /^TG_[A-Z_]+$/, f.flag);
    assert.equal(
      parseBrokerOptions({ 'key-dir': 'x' }).keyStore.kind,
      'memory',
      'keys are camelCase as commander gives them',
    );
    assert.deepEqual(parseBrokerOptions({ keyDir: '/tmp/k' }).keyStore, { kind: 'directory', dir: '/tmp/k' });
  });

  test('an empty environment variable is refused, every kind, naming it; - is the caller audience of none', () => {
    for (const [env, flag] of [
      ['TG_KEY_ROTATION_PERIOD', 'key-rotation-period'],
      ['TG_REVIEW_QUEUE', 'review-queue'],
      ['TG_KEY_DIR', 'key-dir'],
      ['TG_KUBECONFIG', 'kubeconfig'],
      ['TG_ALLOW_UNBOUND_CALLERS', 'allow-unbound-callers'],
      ['TG_CALLER_AUDIENCE', 'caller-audience'],
    ] as const)
      assert.throws(
        () => parseBrokerOptions({}, { [env]: '' }),
        invalid(new RegExp(`^setting --${flag} \\(${env}\\) is empty: leave it unset`)),
        env,
      );
    assert.throws(
      () => parseBrokerOptions({}, { TG_ALLOW_UNBOUND_CALLERS: 'ture' }),
      invalid(/--allow-unbound-callers \(TG_ALLOW_UNBOUND_CALLERS\) "ture" is not a boolean/),
    );
    assert.equal(parseBrokerOptions({}, { TG_CALLER_AUDIENCE: '-' }).callerAudience, '');
    assert.equal(parseBrokerOptions({}).callerAudience, 'tenant-guard');
  });

  test('flag keys are a closed type: a misspelt key does not compile (npm test typechecks)', () => {
    const keys: readonly BrokerFlagKey[] = brokerFlags.map((f) => f.key);
    assert.ok(keys.includes('keyDir'));
    // @ts-expect-error a typo of keyDir is no BrokerFlagKey; were the keys plain strings, tsc would fail here.
    const typo: BrokerFlagKey = 'keyDri';
    assert.equal(keys.includes(typo), false);
  });

  test('durations', () => {
    assert.equal(parseDuration('x', '500ms'), 500);
    assert.equal(parseDuration('x', '1h30m'), 5_400_000);
    assert.equal(parseDuration('x', '45'), 45_000);
    assert.throws(
      () => parseDuration('key-rotation-period', 'soon'),
      invalid(/--key-rotation-period "soon" is not a duration/),
    );
  });

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['both key stores', { keyDir: '/k', keySecret: 'a/b' }, /--key-dir and --key-secret are exclusive/],
    ['a key secret without a namespace', { keySecret: 'keys' }, /--key-secret "keys" is not NAMESPACE\/NAME/],
    ['EdDSA', { signingAlg: 'EdDSA' }, /--signing-alg "EdDSA" is not allowed; use RS256 or ES256/],
    ['max-age over 30 s', { jwksMaxAge: '60s' }, /--jwks-max-age must be whole seconds from 0 to 30/],
    [
      'publish-ahead not above max-age + reload',
      { publishAhead: '20s', jwksMaxAge: '15s', reloadInterval: '10s' },
      /--key-publish-ahead \(20000ms\) must exceed/,
    ],
    ['rotation shorter than publish-ahead', { rotationPeriod: '30s' }, /--key-rotation-period/],
    ['zero timeout', { reviewTimeout: '0s' }, /--review-timeout must be greater than 0/],
  ];
  for (const [name, flags, message] of bad) {
    test(`refused: ${name}`, () => {
      assert.throws(() => parseBrokerOptions(flags), invalid(message));
    });
  }
});

describe('issuer and discovery', () => {
  test('issuer checks', () => {
    assert.equal(checkIssuer('https://broker.example.com/tg').pathname, '/tg');
    assert.throws(() => checkIssuer('http://broker.example.com'), invalid(/must be an https URL/));
    assert.throws(() => checkIssuer('https://broker.example.com?x=1'), invalid(/query/));
    assert.throws(() => checkIssuer('not a url'), invalid(/is not a URL/));
  });
  test('paths and documents: trailing slash kept in issuer, dropped when building URLs', () => {
    assert.equal(issuerPath('https://h'), '');
    assert.equal(issuerPath('https://h/a/b/'), '/a/b');
    assert.equal(jwksUri('https://h/a/'), 'https://h/a/openid/v1/jwks');
    const d = discoveryDocument('https://h/a/', ['RS256']);
    assert.equal(d.issuer, 'https://h/a/');
  });
  test('an issuer with a path serves discovery and JWKS under it', async () => {
    const broker = await createBroker({
      config: testConfig(),
      issuer: 'https://h.example.com/tenant-guard',
      allowedCallers: [CONTROLLER],
      registry: testRegistry(),
      logger: recordingLogger().logger,
      kubeConfig: null,
    });
    try {
      const app = brokerApp(broker);
      const d = await request(app).get('/tenant-guard/.well-known/openid-configuration');
      assert.equal(d.status, 200);
      assert.equal(d.body.issuer, 'https://h.example.com/tenant-guard');
      assert.equal(d.body.jwks_uri, 'https://h.example.com/tenant-guard/openid/v1/jwks');
      assert.equal((await request(app).get('/tenant-guard/openid/v1/jwks')).status, 200);
      assert.equal((await request(app).get('/.well-known/openid-configuration')).status, 404);
    } finally {
      broker.close();
    }
  });
  test('--key-dir: the ring survives a restart (same key signs)', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tg-ring-')), 'keys');
    const make = () =>
      createBroker({
        config: testConfig({ keyDir: dir }),
        issuer: 'https://h.example.com',
        allowedCallers: [CONTROLLER],
        registry: testRegistry(),
        logger: recordingLogger().logger,
        kubeConfig: null,
      });
    const first = await make();
    const kid = first.keyManager.signingKey().key?.kid;
    first.close();
    assert.equal(readdirSync(dir).length, 1);
    const second = await make();
    try {
      assert.equal(second.keyManager.signingKey().key?.kid, kid);
    } finally {
      second.close();
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});
