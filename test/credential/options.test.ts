import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTenantGuardError } from '../../src/errors.js';
import { CACHE_DIR_ENV, parseCredentialArgs, parseDuration } from '../../src/credential/options.js';
import { resolveBrokerEndpoint } from '../../src/credential/broker-endpoint.js';

function options(argv: string[], env: Record<string, string> = {}) {
  const parsed = parseCredentialArgs(argv, env);
  assert.equal(parsed.help, false);
  if (parsed.help) throw new Error('unreachable');
  return parsed.options;
}

describe('parseCredentialArgs', () => {
  test('the canonical cluster Secret args (SPEC TG-CS-04): positionals then --ca-file', () => {
    const o = options([
      'https://broker.example',
      'k8s-team-a-dev',
      '/var/run/secrets/tenantguard/token',
      '--ca-file',
      '/var/run/secrets/tenantguard/ca.crt',
    ]);
    assert.deepEqual(o, {
      broker: 'https://broker.example',
      target: 'k8s-team-a-dev',
      tokenFile: '/var/run/secrets/tenantguard/token',
      caFile: '/var/run/secrets/tenantguard/ca.crt',
      timeoutMs: 10_000,
      expiryMarginMs: 10_000,
    });
  });

  test('options anywhere, --flag=value form, durations', () => {
    const o = options([
      '--timeout=2.5s',
      'broker.example',
      '--cache-dir',
      '/c',
      't',
      '--expiry-margin',
      '15',
      '/tok',
    ]);
    assert.equal(o.timeoutMs, 2500);
    assert.equal(o.cacheDir, '/c');
    assert.equal(o.expiryMarginMs, 15_000);
    assert.equal(o.tokenFile, '/tok');
  });

  test(`cache dir from ${CACHE_DIR_ENV}, the flag winning`, () => {
    assert.equal(options(['b', 't', '/tok'], { [CACHE_DIR_ENV]: '/env' }).cacheDir, '/env');
    assert.equal(
      options(['b', 't', '/tok', '--cache-dir', '/flag'], { [CACHE_DIR_ENV]: '/env' }).cacheDir,
      '/flag',
    );
    assert.equal(options(['b', 't', '/tok']).cacheDir, undefined);
  });

  test('--help', () => {
    assert.deepEqual(parseCredentialArgs(['--help']), { help: true });
    assert.deepEqual(parseCredentialArgs(['b', '-h']), { help: true });
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['no arguments', [], /expected 3 arguments/],
    ['two arguments', ['b', 't'], /expected 3 arguments BROKER TARGET TOKEN_FILE, got 2/],
    ['four arguments', ['b', 't', 'f', 'x'], /got 4/],
    ['unknown option', ['b', 't', 'f', '--insecure'], /unknown option --insecure/],
    ['option without value', ['b', 't', 'f', '--ca-file'], /--ca-file needs a value/],
    ['option twice', ['b', 't', 'f', '--timeout', '1', '--timeout', '2'], /--timeout given twice/],
    ['bad duration', ['b', 't', 'f', '--timeout', 'soon'], /--timeout "soon" is not a duration/],
    ['zero timeout', ['b', 't', 'f', '--timeout', '0'], /--timeout must be more than 0/],
    ['target with a slash', ['b', 'a/b', 'f'], /TARGET "a\/b" is not a target name/],
    ['target with a query character', ['b', 'a&x=1', 'f'], /is not a target name/],
  ];
  for (const [name, argv, message] of bad) {
    test(`usage error: ${name}`, () => {
      assert.throws(
        () => parseCredentialArgs(argv),
        (err: unknown) => isTenantGuardError(err, 'ERR_CREDENTIAL_USAGE') && message.test(err.message),
      );
    });
  }
});

describe('parseDuration', () => {
  const cases: Array<[string, number]> = [
    ['10', 10_000],
    ['1.5', 1500],
    ['500ms', 500],
    ['10s', 10_000],
    ['1m', 60_000],
    ['1m30s', 90_000],
  ];
  for (const [raw, ms] of cases)
    test(`${raw} is ${ms} ms`, () => assert.equal(parseDuration('--timeout', raw), ms));
  for (const raw of ['soon', '10 s', '-1s']) {
    test(`"${raw}" is a usage error`, () => {
      assert.throws(
        () => parseDuration('--timeout', raw),
        (err: unknown) =>
          isTenantGuardError(err, 'ERR_CREDENTIAL_USAGE') &&
          err.message.startsWith(`--timeout "${raw}" is not a duration`),
      );
    });
  }
});

describe('resolveBrokerEndpoint', () => {
  const cases: Array<[string, string, 'tokens' | 'target-token']> = [
    ['broker.example', 'https://broker.example/v1/tokens', 'tokens'],
    ['broker.example:8443', 'https://broker.example:8443/v1/tokens', 'tokens'],
    ['https://broker.example', 'https://broker.example/v1/tokens', 'tokens'],
    ['https://broker.example/', 'https://broker.example/v1/tokens', 'tokens'],
    ['HTTPS://Broker.Example:443', 'https://broker.example/v1/tokens', 'tokens'],
    ['https://gw.example/tenant-guard', 'https://gw.example/tenant-guard/v1/tokens', 'tokens'],
    ['https://gw.example/tenant-guard/v1/tokens', 'https://gw.example/tenant-guard/v1/tokens', 'tokens'],
    // The original article's kubeconfig passed `host/api/get-target-token`: the drop-in endpoint.
    [
      'k8sou.idp-cp.tremolo.dev/api/get-target-token',
      'https://k8sou.idp-cp.tremolo.dev/api/get-target-token',
      'target-token',
    ],
    ['https://b.example/api/get-target-token/', 'https://b.example/api/get-target-token', 'target-token'],
  ];
  for (const [raw, url, kind] of cases) {
    test(`${raw} -> ${kind} ${url}`, () => {
      const e = resolveBrokerEndpoint(raw);
      assert.equal(e.url.href, url);
      assert.equal(e.kind, kind);
    });
  }

  const bad: Array<[string, RegExp]> = [
    ['http://broker.example', /is not an https URL/],
    ['ftp://broker.example', /is not an https URL/],
    ['https://user:pw@broker.example', /carries user info/],
    ['https://broker.example/?x=1', /carries a query/],
    ['https://broker.example/#frag', /carries a fragment/],
    ['https://', /is not a host name or URL/],
  ];
  for (const [raw, message] of bad) {
    test(`rejects ${raw}`, () => {
      assert.throws(
        () => resolveBrokerEndpoint(raw),
        (err: unknown) => isTenantGuardError(err, 'ERR_CREDENTIAL_USAGE') && message.test(err.message),
      );
    });
  }
});
