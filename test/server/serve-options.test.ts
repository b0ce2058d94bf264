import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTenantGuardError } from '../../src/errors.js';
import type { ServeComponent } from '../../src/server/component.js';
import { DEFAULT_TENANTS_FILE, parseServeOptions, SERVE_FLAGS } from '../../src/server/serve-options.js';
import { runCli } from '../cli/cli-support.js';

const reporter: ServeComponent = { name: 'reporter', optIn: true, start: () => ({}) };
const broker: ServeComponent = { name: 'broker', start: () => ({}) };

describe('serve options (SERVE_FLAGS through the one resolver)', () => {
  test('an empty environment variable is refused, naming it and the default (review s12d F-G)', () => {
    for (const spec of Object.values(SERVE_FLAGS))
      assert.throws(() => parseServeOptions({}, { [spec.env]: '' }, [broker, reporter]), {
        code: 'ERR_USAGE',
        message: new RegExp(
          `^${spec.env} is empty: leave it unset${'default' in spec ? ' for the default' : '$'}`,
        ),
      });
  });

  test('unset environment variables: every default applies', () => {
    const o = parseServeOptions({}, {}, [broker, reporter]);
    assert.deepEqual(
      { ...o, components: [...o.components] },
      {
        tenants: DEFAULT_TENANTS_FILE,
        host: '127.0.0.1',
        port: 8443,
        tlsCert: undefined,
        tlsKey: undefined,
        clientCaFile: undefined,
        clientNames: undefined,
        certsDir: 'certs',
        logLevel: 'info',
        components: ['webhook', 'broker'],
        watchTenants: false,
        kubeconfig: undefined,
        maxRegistryChars: 32 * 1024 * 1024,
        metricsMaxTenants: 1000,
        drainMs: 10_000,
      },
    );
  });

  test('a flag (commander attribute name) wins over its environment variable', () => {
    const o = parseServeOptions(
      { port: '0', certsDir: '/flag', watchTenants: true, drainSeconds: '1.5' },
      { TG_PORT: '9443', TG_CERTS_DIR: '/env', TG_WATCH_TENANTS: 'false', TG_HOST: '0.0.0.0' },
      [],
    );
    assert.deepEqual(
      [o.port, o.certsDir, o.watchTenants, o.drainMs, o.host],
      [0, '/flag', true, 1500, '0.0.0.0'],
    );
  });

  test('--max-registry-size: a count or a quantity in Ki, Mi or Gi, from 1Ki to 4Gi; another is a usage error naming the flag', () => {
    const chars = (raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
      parseServeOptions(raw, env, []).maxRegistryChars;
    assert.equal(chars({ maxRegistrySize: '64Mi' }), 64 * 1024 * 1024);
    assert.equal(chars({}, { TG_MAX_REGISTRY_SIZE: '512Ki' }), 512 * 1024);
    assert.equal(chars({ maxRegistrySize: '2Gi' }, { TG_MAX_REGISTRY_SIZE: '1Ki' }), 2 * 1024 ** 3);
    assert.equal(chars({ maxRegistrySize: '4096' }), 4096);
    assert.equal(chars({ maxRegistrySize: '4Gi' }), 4 * 1024 ** 3);
    for (const text of ['1023', '5Gi', '32MB', '32mi', '-1Mi', '1.5Mi', 'Mi', '99999999999Ki'])
      assert.throws(() => chars({ maxRegistrySize: text }), {
        code: 'ERR_USAGE',
        message: `--max-registry-size "${text}" is not a size from 1Ki to 4Gi (a count of characters, or with Ki, Mi or Gi)`,
      });
  });

  test('a TG_WATCH_TENANTS that is no boolean is refused, not taken as false', () => {
    for (const text of ['ture', 'on', 'enabled'])
      assert.throws(
        () => parseServeOptions({}, { TG_WATCH_TENANTS: text }, []),
        (e: unknown) =>
          isTenantGuardError(e, 'ERR_USAGE') &&
          e.message === `TG_WATCH_TENANTS "${text}" is not a boolean; use true or false`,
      );
  });

  test('--log-level: a level pino knows, any case; another is a usage error naming the flag and the levels', () => {
    assert.equal(parseServeOptions({ logLevel: 'DEBUG' }, {}, []).logLevel, 'debug');
    assert.equal(parseServeOptions({}, { TG_LOG_LEVEL: 'warn' }, []).logLevel, 'warn');
    assert.throws(() => parseServeOptions({ logLevel: 'verbose' }, {}, []), {
      code: 'ERR_USAGE',
      message:
        '--log-level "verbose" is not a level; use one of fatal, error, warn, info, debug, trace, silent',
    });
  });

  test('serve --log-level verbose: exit 2 with that message, as every other bad flag', async () => {
    const out = await runCli(['serve', '--port', '0', '--log-level', 'verbose']);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /--log-level "verbose" is not a level; use one of fatal, .* \(ERR_USAGE\)/);
  });
});
