/** A Tenant's `spec.sourceRepos` patterns: normal form, refusals and matching. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  explainBadRepoPattern,
  explainUnplainRepoUrl,
  normalizeRepoUrl,
  repoMatches,
} from '../../src/tenancy/repo-patterns.js';
import { parseTenant } from '../../src/tenancy/tenant.js';
import { isTenantGuardError } from '../../src/errors.js';

describe('normalizeRepoUrl: Argo CD normal form', () => {
  const cases: Array<[string, string]> = [
    ['https://GitHub.com/Team-A/Apps.git', 'https://github.com/team-a/apps'],
    ['  https://github.com/team-a/apps  ', 'https://github.com/team-a/apps'],
    ['git@github.com:team-a/apps.git', 'git@github.com/team-a/apps'],
    ['ssh://git@github.com/team-a/apps.git', 'git@github.com/team-a/apps'],
    ['ssh://git@github.com:2222/team-a/apps', 'git@github.com:2222/team-a/apps'],
    ['oci://registry.example.com/charts', 'oci://registry.example.com/charts'],
    ['https://github.com/team-a/apps.git.git', 'https://github.com/team-a/apps.git'],
  ];
  for (const [url, normal] of cases) test(url, () => assert.equal(normalizeRepoUrl(url), normal));
});

describe('explainUnplainRepoUrl: what would fetch from elsewhere than it reads', () => {
  for (const url of [
    'https://github.com/team-a/../team-b/private',
    'https://github.com/team-a/./x',
    'https://github.com/team-a/%2e%2e/team-b/private',
    'https://github.com/team-a/x%2fy',
    'https://github.com/team-a\\..\\team-b',
    'https://github.com/team-a/x?y=1',
    'https://github.com/team-a/x#frag',
    'https://github.com/team-a/x y',
    'https://github.com/team-a/x\u0000',
    'https://charts.example.com/team-a/..;/team-b/private',
    'https://charts.example.com/team-a/.;/..;/team-b',
    'https://git.example.com/team-a/\uff0e\uff0e/team-b',
    'https://gït.example.com/team-a/x',
    `https://github.com/team-a/${'x'.repeat(3000)}`,
  ])
    test(JSON.stringify(url.slice(0, 60)), () => {
      assert.notEqual(explainUnplainRepoUrl(normalizeRepoUrl(url)), undefined);
      assert.equal(repoMatches(['https://github.com/**'], url), false);
    });
});

describe('repoMatches', () => {
  const patterns = [
    'https://github.com/team-a/*',
    'git@github.com/team-a/**',
    'https://*.charts.example.com/team-a',
  ];
  const cases: Array<[string, boolean]> = [
    ['https://github.com/team-a/apps', true],
    ['https://github.com/Team-A/apps.git', true],
    ['https://github.com/team-a', false],
    ['https://github.com/team-a/apps/sub', false],
    ['https://github.com/team-a/apps/', false],
    ['https://github.com/team-b/private', false],
    ['https://github.com/team-ab/x', false],
    ['https://github.com.evil.example/team-a/x', false],
    ['https://x@github.com/team-a/apps', false],
    ['git@github.com:team-a/apps.git', true],
    ['git@github.com:team-a/group/deep/apps.git', true],
    ['ssh://git@github.com/team-a/apps', true],
    ['git@github.com:team-b/apps.git', false],
    ['https://eu.charts.example.com/team-a', true],
    ['https://eu.west.charts.example.com/team-a', true],
    ['https://charts.example.com/team-a', false],
    ['', false],
  ];
  for (const [url, expected] of cases)
    test(`${url || '(empty)'} → ${expected}`, () => assert.equal(repoMatches(patterns, url), expected));

  test('no pattern, nothing', () => assert.equal(repoMatches([], 'https://github.com/team-a/apps'), false));

  test('the matcher agrees with a recursive reference glob, on small inputs', () => {
    const segment = fc.stringMatching(/^[ab*]{0,3}$/);
    const pattern = fc
      .array(fc.oneof(segment, fc.constant('**')), { minLength: 1, maxLength: 4 })
      .map((s) => s.join('/'));
    const text = fc
      .array(fc.stringMatching(/^[ab]{0,3}$/), { minLength: 1, maxLength: 5 })
      .map((s) => s.join('/'));
    fc.assert(
      fc.property(pattern, text, (p, t) => {
        fc.pre(explainBadRepoPattern(p) === undefined && explainUnplainRepoUrl(t) === undefined);
        const expected = segmentsMatch(p.split('/'), t.split('/'));
        assert.equal(repoMatches([p], t), expected, `${p} ~ ${t}`);
      }),
      { numRuns: 3000 },
    );
  });
});

/** Reference: recursive segment glob (small inputs only). */
function segmentsMatch(p: string[], t: string[]): boolean {
  if (p.length === 0) return t.length === 0;
  const [head, ...rest] = p;
  if (head === '**') return [...Array(t.length + 1).keys()].some((k) => segmentsMatch(rest, t.slice(k)));
  if (t.length === 0) return false;
  const re = new RegExp(
    `^${(head as string)
      .split('*')
      .map((s) => s.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(t[0] as string) && segmentsMatch(rest, t.slice(1));
}

describe('explainBadRepoPattern', () => {
  for (const pattern of [
    '',
    '  ',
    'https://github.com/team-a/[ab]',
    'https://github.com/{a,b}/x',
    '!https://github.com/x',
    'https://github.com/team-a**',
    'https://github.com/a/../b',
    'https://github.com/a%20b',
  ])
    test(`refuses ${JSON.stringify(pattern)}`, () =>
      assert.notEqual(explainBadRepoPattern(pattern), undefined));
  for (const pattern of [
    'https://github.com/team-a/*',
    'https://github.com/team-a/**',
    'git@github.com:team-a/*',
    'https://*.example.com/x',
  ])
    test(`takes ${pattern}`, () => assert.equal(explainBadRepoPattern(pattern), undefined));
});

describe('Tenant spec.sourceRepos', () => {
  const doc = (sourceRepos: unknown) => ({
    apiVersion: 'tenantguard.dev/v1alpha1',
    kind: 'Tenant',
    metadata: { name: 'team-a' },
    spec: {
      owners: { groups: ['team-a-admins'] },
      namespaces: ['team-a'],
      projects: ['team-a'],
      sourceRepos,
      clusters: [{ name: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' }],
    },
  });
  const parse = (sourceRepos: unknown) =>
    parseTenant(doc(sourceRepos), { source: 'test', argocdNamespace: 'argocd' });

  test('kept as written; absent stays absent; empty is none', () => {
    assert.deepEqual(parse(['https://github.com/team-a/*']).sourceRepos, ['https://github.com/team-a/*']);
    assert.deepEqual(parse([]).sourceRepos, []);
    const { spec } = doc(undefined);
    delete (spec as { sourceRepos?: unknown }).sourceRepos;
    assert.equal(
      parseTenant({ ...doc(undefined), spec }, { source: 'test', argocdNamespace: 'argocd' }).sourceRepos,
      undefined,
    );
  });

  test('a bad pattern is refused, naming the field and why', () => {
    assert.throws(
      () => parse(['https://github.com/team-a/*', 'https://github.com/team-a/../team-b']),
      (err: unknown) =>
        isTenantGuardError(err, 'ERR_TENANT_INVALID') &&
        /spec\.sourceRepos\[1\]: .*"\.\." segment/.test(err.message),
    );
  });
});
