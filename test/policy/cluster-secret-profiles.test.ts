/**
 * The exec-profiles setting (SPEC section 3, TG-CS-04): parsed from its flag or environment
 * variable, refused with ERR_SETTINGS_INVALID when it would let a Secret run anything.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TenantGuardError } from '../../src/errors.js';
import {
  findProfile,
  parseExecProfiles,
  profileMismatch,
  type ExecCall,
} from '../../src/policy/cluster-secret-profiles.js';
import { resolveSettings, settingFlags } from '../../src/settings.js';

const GKE = { name: 'gke', command: '/usr/local/bin/gke-gcloud-auth-plugin', args: [] };
const PLUGIN = resolveSettings({}).pluginCommand;

function refused(text: string, pattern: RegExp): void {
  assert.throws(
    () => resolveSettings({ execProfiles: text }),
    (err: unknown) =>
      err instanceof TenantGuardError &&
      err.code === 'ERR_SETTINGS_INVALID' &&
      pattern.test(err.message) &&
      err.message.includes('--exec-profiles'),
  );
}

describe('exec-profiles setting', () => {
  test('none by default; a flag or TG_EXEC_PROFILES sets them, the flag winning', () => {
    assert.deepEqual(resolveSettings({}).execProfiles, []);
    assert.equal(settingFlags.execProfiles.env, 'TG_EXEC_PROFILES');
    const fromEnv = resolveSettings({}, { TG_EXEC_PROFILES: JSON.stringify([GKE]) });
    assert.deepEqual(
      fromEnv.execProfiles.map((p) => p.name),
      ['gke'],
    );
    const fromFlag = resolveSettings(
      { execProfiles: JSON.stringify([{ ...GKE, name: 'other' }]) },
      { TG_EXEC_PROFILES: JSON.stringify([GKE]) },
    );
    assert.deepEqual(
      fromFlag.execProfiles.map((p) => p.name),
      ['other'],
    );
    assert.deepEqual(resolveSettings({ execProfiles: '[]' }).execProfiles, [], 'none, as JSON');
    assert.throws(
      () => resolveSettings({ execProfiles: '' }),
      { code: 'ERR_SETTINGS_INVALID' },
      'empty is refused',
    );
  });

  test('a profile parses into plain data, env as fixed values or patterns', () => {
    const parsed = parseExecProfiles(
      JSON.stringify([
        {
          ...GKE,
          args: ['--x'],
          extraArgs: '[a-z]+',
          apiVersion: 'client.authentication.k8s.io/v1beta1',
          env: { A: 'b', C: { pattern: 'd+' } },
        },
      ]),
      PLUGIN,
    );
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.profiles, [
      {
        name: 'gke',
        command: GKE.command,
        args: ['--x'],
        extraArgs: '[a-z]+',
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        env: [
          { name: 'A', value: 'b' },
          { name: 'C', pattern: 'd+' },
        ],
      },
    ]);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['not JSON', '[{', /not valid JSON/],
    ['not a list', { name: 'x' }, /JSON list/],
    ['the plugin itself', [{ name: 'p', command: PLUGIN }], /tenant-guard plugin/],
    [
      'the plugin under another directory',
      [{ name: 'p', command: '/usr/bin/tenant-guard-credential' }],
      /tenant-guard plugin/,
    ],
    ['a shell', [{ name: 's', command: '/bin/sh' }], /shell, an interpreter or a wrapper/],
    ['bash by name', [{ name: 's', command: 'bash' }], /shell/],
    ['an interpreter with a version', [{ name: 's', command: '/usr/bin/python3.12' }], /interpreter/],
    ['env as a wrapper', [{ name: 's', command: '/usr/bin/env' }], /wrapper/],
    ['a path with ..', [{ name: 's', command: '/usr/local/../bin/x' }], /normalised path/],
    ['a relative path', [{ name: 's', command: 'bin/x' }], /absolute/],
    ['a command with spaces', [{ name: 's', command: '/bin/x -c y' }], /without spaces/],
    ['an unknown key', [{ ...GKE, argz: [] }], /unknown keys "argz"/],
    ['an inherited-looking key', [{ ...GKE, constructor: 'x' }], /unknown keys "constructor"/],
    [
      '__proto__ as a key',
      `[{"name":"gke","command":"/usr/local/bin/gke-gcloud-auth-plugin","__proto__":{"args":["x"]}}]`,
      /unknown keys "__proto__"/,
    ],
    ['args not strings', [{ ...GKE, args: [1] }], /args must be a list/],
    ['a bad extraArgs pattern', [{ ...GKE, extraArgs: '(' }], /extraArgs/],
    ['an unknown apiVersion', [{ ...GKE, apiVersion: 'v1' }], /apiVersion/],
    ['LD_PRELOAD', [{ ...GKE, env: { LD_PRELOAD: '/x.so' } }], /load or run other code/],
    ['PATH', [{ ...GKE, env: { PATH: '/tmp' } }], /load or run other code/],
    ['a bad env name', [{ ...GKE, env: { 'A-B': 'x' } }], /not an environment variable name/],
    ['a bad env pattern', [{ ...GKE, env: { A: { pattern: '[' } } }], /not a valid regular expression/],
    ['an env spec of another shape', [{ ...GKE, env: { A: 1 } }], /fixed value/],
    ['a repeated name', [GKE, GKE], /given twice/],
    ['no name', [{ command: '/x' }], /name must be/],
  ];
  for (const [name, value, pattern] of bad) {
    test(`refuses ${name} with ERR_SETTINGS_INVALID`, () =>
      refused(typeof value === 'string' ? value : JSON.stringify(value), pattern));
  }

  test('the plugin check follows the plugin-command setting, whatever the order of settings', () => {
    assert.throws(
      () =>
        resolveSettings({
          execProfiles: JSON.stringify([{ name: 'p', command: '/opt/my-plugin' }]),
          pluginCommand: '/opt/my-plugin',
        }),
      /tenant-guard plugin/,
    );
    assert.equal(
      resolveSettings({ execProfiles: JSON.stringify([{ name: 'p', command: '/opt/my-plugin' }]) })
        .execProfiles.length,
      1,
    );
  });
});

describe('exec profile matching', () => {
  const parsed = parseExecProfiles(
    JSON.stringify([{ ...GKE, args: ['a'], extraArgs: '--[a-z]+', env: { A: 'b', C: { pattern: 'd+' } } }]),
    PLUGIN,
  );
  assert.ok(parsed.ok);
  const [profile] = parsed.profiles;
  assert.ok(profile !== undefined);
  const call: ExecCall = {
    command: GKE.command,
    args: ['a'],
    apiVersion: 'client.authentication.k8s.io/v1',
    env: [],
  };
  const cases: Array<[string, Partial<ExecCall>, RegExp | undefined]> = [
    ['exact', {}, undefined],
    ['extra args matching the pattern', { args: ['a', '--x', '--y'] }, undefined],
    [
      'env as allowed',
      {
        env: [
          ['A', 'b'],
          ['C', 'ddd'],
        ],
      },
      undefined,
    ],
    ['another command', { command: '/usr/local/bin/gke-gcloud-auth-plugin2' }, /command differs/],
    ['missing leading args', { args: [] }, /do not start with/],
    ['an extra arg off the pattern', { args: ['a', 'x'] }, /args\[1\] does not match/],
    ['the pattern is anchored', { args: ['a', '--x; rm'] }, /does not match/],
    ['no apiVersion', { apiVersion: undefined }, /apiVersion/],
    ['an unlisted env key', { env: [['Z', 'b']] }, /does not list/],
    ['a fixed env value differs', { env: [['A', 'c']] }, /env A has a value/],
    ['an env value off its (anchored) pattern', { env: [['C', 'dx']] }, /env C has a value/],
    ['an inherited-looking env key', { env: [['constructor', 'b']] }, /does not list/],
  ];
  for (const [name, change, why] of cases) {
    test(name, () => {
      const mismatch = profileMismatch({ ...call, ...change }, profile);
      if (why === undefined) assert.equal(mismatch, undefined);
      else assert.match(mismatch ?? '', why);
      assert.equal(findProfile({ ...call, ...change }, parsed.profiles) === undefined, why !== undefined);
    });
  }
  test('a mismatch never echoes a value from the Secret', () => {
    const mismatch =
      profileMismatch(
        { ...call, env: [['SECRET_NAME_X', 'SECRET_VALUE_Y']], args: ['a', 'SECRET_ARG_Z'] },
        profile,
      ) ?? '';
    assert.ok(!/SECRET_/.test(mismatch), mismatch);
  });
});
