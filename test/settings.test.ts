import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TenantGuardError } from '../src/errors.js';
import { limitFlags, resolveLimits } from '../src/policy/limits.js';
import {
  DEFAULT_SETTINGS,
  applicationSetControllerUser,
  parseTrustedServiceAccounts,
  resolveSettings,
  settingFlags,
  type Settings,
} from '../src/settings.js';

describe('settings: trusted service accounts and system controllers (SPEC section 3)', () => {
  test('the defaults trust the four Argo CD writers, the notifications controller for annotations only', () => {
    assert.deepEqual(resolveSettings({}).trustedServiceAccounts, [
      { username: 'system:serviceaccount:argocd:argocd-applicationset-controller' },
      { username: 'system:serviceaccount:argocd:argocd-server' },
      { username: 'system:serviceaccount:argocd:argocd-application-controller' },
      { username: 'system:serviceaccount:argocd:argocd-notifications-controller', scope: ['annotations'] },
    ]);
    assert.deepEqual(resolveSettings({}).trustedServiceAccounts, DEFAULT_SETTINGS.trustedServiceAccounts);
  });

  test('the default names follow the Argo CD namespace, from a flag or the environment', () => {
    for (const settings of [
      resolveSettings({ argocdNamespace: 'gitops' }),
      resolveSettings({}, { TG_ARGOCD_NAMESPACE: 'gitops' }),
    ]) {
      const names = settings.trustedServiceAccounts.map((a) => a.username);
      assert.equal(names.length, 4);
      for (const name of names) assert.match(name, /^system:serviceaccount:gitops:argocd-/);
      assert.equal(
        applicationSetControllerUser(settings),
        'system:serviceaccount:gitops:argocd-applicationset-controller',
      );
    }
  });

  test("the broker's default caller is the application controller of the Argo CD namespace", () => {
    assert.deepEqual(resolveSettings({}).brokerAllowedCallers, [
      'system:serviceaccount:argocd:argocd-application-controller',
    ]);
    for (const settings of [
      resolveSettings({ argocdNamespace: 'gitops' }),
      resolveSettings({}, { TG_ARGOCD_NAMESPACE: 'gitops' }),
    ])
      assert.deepEqual(settings.brokerAllowedCallers, [
        'system:serviceaccount:gitops:argocd-application-controller',
      ]);
    // An explicit list (even an empty one) is kept as given, whatever the namespace.
    assert.deepEqual(
      resolveSettings({ argocdNamespace: 'gitops', brokerAllowedCallers: 'system:serviceaccount:x:y' })
        .brokerAllowedCallers,
      ['system:serviceaccount:x:y'],
    );
    assert.deepEqual(
      resolveSettings({}, { TG_ARGOCD_NAMESPACE: 'gitops', TG_BROKER_ALLOWED_CALLERS: '-' })
        .brokerAllowedCallers,
      [],
      '- is none',
    );
  });

  test('an explicit list replaces the defaults, whatever the namespace', () => {
    const s = resolveSettings({
      argocdNamespace: 'gitops',
      trustedServiceAccounts: 'system:serviceaccount:x:y',
    });
    assert.deepEqual(s.trustedServiceAccounts, [{ username: 'system:serviceaccount:x:y' }]);
    assert.deepEqual(resolveSettings({}, { TG_TRUSTED_SERVICE_ACCOUNTS: '-' }).trustedServiceAccounts, []);
  });

  // Review s12d F-G: '' meant the default for some settings, "none" for others (an empty
  // TG_TRUSTED_SERVICE_ACCOUNTS stopped every ApplicationSet). Now it is refused, every kind.
  const everySetting = Object.entries(settingFlags);
  for (const [key, spec] of everySetting)
    test(`an empty ${spec.env} is refused, naming it (${spec.kind})`, () => {
      for (const blank of ['', '  '])
        assert.throws(() => resolveSettings({}, { [spec.env]: blank }), {
          code: 'ERR_SETTINGS_INVALID',
          message: new RegExp(
            `^setting --${spec.flag} \\(${spec.env} is set but empty\\): leave it unset for its default \\(docs/settings.md\\)${spec.kind === 'list' || spec.kind === 'accounts' ? ', or write - for none$' : '$'}`,
          ),
        });
      assert.throws(() => resolveSettings({ [key]: '' }), {
        message: new RegExp(`--${spec.flag} \\(given empty\\)`),
      });
    });

  test('an empty admission limit is refused too, naming it and its default', () => {
    for (const spec of Object.values(limitFlags))
      assert.throws(() => resolveLimits({}, { [spec.env]: '' }), {
        code: 'ERR_SETTINGS_INVALID',
        message: new RegExp(
          `^setting --${spec.flag} \\(${spec.env}\\) is empty: leave it unset for the default \\(\\d+\\)$`,
        ),
      });
  });

  test('- is none for every list setting; a list never holds "-"', () => {
    const lists = everySetting.filter(([, s]) => s.kind === 'list' || s.kind === 'accounts');
    assert.ok(lists.length >= 5);
    for (const [key, spec] of lists) {
      const value = resolveSettings({}, { [spec.env]: ' - ' })[key as keyof Settings];
      assert.deepEqual(value, [], spec.env);
    }
  });

  test('a scope follows = and joins fields with +', () => {
    assert.deepEqual(parseTrustedServiceAccounts('a, b=annotations , c=annotations+status+annotations'), [
      { username: 'a' },
      { username: 'b', scope: ['annotations'] },
      { username: 'c', scope: ['annotations', 'status'] },
    ]);
  });

  test('an unknown scope field or a missing name is refused, naming the setting', () => {
    for (const bad of ['a=spec', 'a=', '=annotations', 'a=annotations+Labels']) {
      assert.throws(
        () => resolveSettings({ trustedServiceAccounts: bad }),
        (e: unknown) =>
          e instanceof TenantGuardError &&
          e.code === 'ERR_SETTINGS_INVALID' &&
          e.message.includes('--trusted-service-accounts'),
        bad,
      );
    }
  });

  test('system controllers default to the garbage collector and the namespace controller; settable', () => {
    assert.deepEqual(resolveSettings({}).systemControllers, [
      'system:serviceaccount:kube-system:generic-garbage-collector',
      'system:serviceaccount:kube-system:namespace-controller',
    ]);
    assert.deepEqual(
      resolveSettings({}, { TG_SYSTEM_CONTROLLERS: 'system:serviceaccount:kube-system:x' }).systemControllers,
      ['system:serviceaccount:kube-system:x'],
    );
  });
});

describe('settings: every setting is read by its kind', () => {
  // A text for each kind, and the value it must become.
  const samples = {
    string: { text: 'given-value', value: 'given-value' },
    boolean: { text: 'true', value: true },
    list: { text: 'a, b,,c', value: ['a', 'b', 'c'] },
    accounts: {
      text: 'system:serviceaccount:x:y=status',
      value: [{ username: 'system:serviceaccount:x:y', scope: ['status'] }],
    },
  } as const;
  for (const key of Object.keys(settingFlags) as (keyof Settings)[]) {
    const spec = settingFlags[key];
    if (spec.kind === 'json') continue; // exec profiles: test/policy/cluster-secret-profiles.test.ts
    const sample = samples[spec.kind];
    test(`${key} (${spec.kind}) from ${spec.env}, and no other setting with it`, () => {
      const settings = resolveSettings({}, { [spec.env]: sample.text });
      assert.notDeepEqual(DEFAULT_SETTINGS[key], sample.value, 'the sample differs from the default');
      assert.deepEqual(settings[key], sample.value);
      for (const other of Object.keys(settingFlags) as (keyof Settings)[]) {
        // The default service accounts and broker callers follow the Argo CD namespace.
        const follows = other === 'trustedServiceAccounts' || other === 'brokerAllowedCallers';
        if (other === key || (key === 'argocdNamespace' && follows)) continue;
        assert.deepEqual(settings[other], DEFAULT_SETTINGS[other], `${other} is unchanged`);
      }
    });
  }
});
