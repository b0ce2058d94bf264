/**
 * TG-APP-04: a sync a human starts deploys what the spec names, and an Application's status
 * is Argo CD's. Through `evaluate`, as the webhook and `check` run it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { sameAsGoDecodes } from '../../src/policy/application-sync.js';
import type { KubeObject, PolicyRequest } from '../../src/policy/types.js';
import { judgeLines, policyContext, tenantApplication } from '../support/policy-fixtures.js';

const context = policyContext('team-b-warn');
const ALICE = { username: 'alice', groups: ['team-a-admins'] };
const BOB = { username: 'bob', groups: ['team-b-admins'] };
const ADMIN = { username: 'root', groups: ['platform-admins'] };
const ARGOCD_SERVER = { username: 'system:serviceaccount:argocd:argocd-server', groups: [] };
const APPSET_CONTROLLER = {
  username: 'system:serviceaccount:argocd:argocd-applicationset-controller',
  groups: [],
};
const CONTROLLER = { username: 'system:serviceaccount:argocd:argocd-application-controller', groups: [] };
const SOURCE = { repoURL: 'https://git.example.com/team-a/apps', path: 'guestbook', targetRevision: 'HEAD' };
const FOREIGN = {
  repoURL: 'https://git.example.com/team-b/private',
  path: 'secrets',
  targetRevision: 'HEAD',
};

const app = (tenant: 'team-a' | 'team-b', extra: object = {}, spec: object = {}): KubeObject =>
  tenantApplication(tenant, SOURCE, spec, extra);

const judge = (request: Partial<PolicyRequest> & Pick<PolicyRequest, 'object'>) =>
  judgeLines(context, { kind: 'Application', user: ALICE, ...request });

/** An owner's UPDATE of their own Application from `app('team-a')` to `app('team-a', extra, spec)`. */
const ownerUpdate = (extra: Record<string, unknown>, spec: object = {}, old = app('team-a')) =>
  judge({ oldObject: old, object: app('team-a', extra, spec) });

const sync = (fields: Record<string, unknown>) => ({ operation: { sync: fields } });

describe('TG-APP-04 operation.sync: what a human starts syncs the spec', () => {
  const cases: Array<{ name: string; extra: Record<string, unknown>; spec?: object; denying: string[] }> = [
    { name: 'a revision only', extra: sync({ revision: 'main', prune: true }), denying: [] },
    { name: 'the spec source, as `argocd app sync` writes it', extra: sync({ source: SOURCE }), denying: [] },
    {
      name: 'the spec source with zero values Go drops',
      extra: sync({ source: { ...SOURCE, chart: '', ref: null, helm: undefined } }),
      denying: [],
    },
    {
      name: 'another repository',
      extra: sync({ source: FOREIGN }),
      denying: ['TG-APP-04 operation.sync.source'],
    },
    {
      name: 'the same repository at another path',
      extra: sync({ source: { ...SOURCE, path: 'other' } }),
      denying: ['TG-APP-04 operation.sync.source'],
    },
    {
      name: 'local manifests',
      extra: sync({ manifests: ['{"kind":"ConfigMap"}'] }),
      denying: ['TG-APP-04 operation.sync.manifests'],
    },
    { name: 'an empty manifests list is none', extra: sync({ manifests: [] }), denying: [] },
    {
      name: 'sources on a single-source spec',
      extra: sync({ sources: [SOURCE] }),
      denying: ['TG-APP-04 operation.sync.sources'],
    },
    {
      name: "a multi-source spec's sources",
      extra: sync({ sources: [SOURCE, { ...SOURCE, path: 'b' }] }),
      spec: { source: undefined, sources: [SOURCE, { ...SOURCE, path: 'b' }] },
      denying: [],
    },
    {
      name: 'a multi-source spec: the first source is what Argo CD checked, not spec.source',
      extra: sync({ source: FOREIGN }),
      spec: { source: FOREIGN, sources: [SOURCE] },
      denying: ['TG-APP-04 operation.sync.source'],
    },
    {
      name: "a hydrator's sync source: the dry repository, the sync path and branch",
      extra: sync({ source: { repoURL: SOURCE.repoURL, path: 'env/dev', targetRevision: 'env/dev' } }),
      spec: {
        source: undefined,
        sourceHydrator: {
          drySource: { repoURL: SOURCE.repoURL, path: 'dry', targetRevision: 'HEAD' },
          syncSource: { targetBranch: 'env/dev', path: 'env/dev' },
        },
      },
      denying: [],
    },
    {
      name: 'a hydrator spec: its unchecked spec.sources are no sync input',
      extra: sync({ sources: [FOREIGN] }),
      spec: {
        source: undefined,
        sources: [FOREIGN],
        sourceHydrator: {
          drySource: { repoURL: SOURCE.repoURL },
          syncSource: { targetBranch: 'b', path: 'p' },
        },
      },
      denying: ['TG-APP-04 operation.sync.sources', 'TG-APP-04 spec.sources'],
    },
    {
      name: 'an operation that is no object',
      extra: { operation: 'sync' },
      denying: ['TG-REQ-01 operation'],
    },
  ];
  for (const c of cases)
    test(c.name, () => assert.deepEqual(ownerUpdate(c.extra, c.spec).denying, c.denying));

  test('a hydrator spec names no other source: Argo CD checks only the hydrator, yet syncs spec.sources', () => {
    const hydrator = { drySource: SOURCE, syncSource: { targetBranch: 'env/dev', path: 'env/dev' } };
    const spec = { source: undefined, sources: [FOREIGN], sourceHydrator: hydrator };
    // Whoever writes it: an owner, or the ApplicationSet controller rendering a template.
    const byOwner = judge({ object: app('team-a', {}, spec) });
    const byController = judge({ user: APPSET_CONTROLLER, object: app('team-a', {}, spec) });
    assert.deepEqual(
      [byOwner.denying, byController.denying],
      [['TG-APP-04 spec.sources'], ['TG-APP-04 spec.sources']],
    );
    assert.deepEqual(judge({ object: app('team-a', {}, { sourceHydrator: hydrator }) }).denying, [
      'TG-APP-04 spec.source',
    ]);
    const alone = { source: undefined, sources: [], sourceHydrator: hydrator };
    assert.deepEqual(judge({ object: app('team-a', {}, alone) }).denying, []);
  });

  test('an operation Argo CD wrote and the request leaves as it was is not judged again', () => {
    const old = app('team-a', sync({ source: FOREIGN }));
    const verdict = judge({
      oldObject: old,
      object: app('team-a', { ...sync({ source: FOREIGN }) }, { info: [] }),
    });
    assert.deepEqual(verdict.denying, []);
  });

  test('clearing the operation is allowed', () => {
    const old = app('team-a', sync({ source: FOREIGN, manifests: ['x'] }));
    assert.deepEqual(judge({ oldObject: old, object: app('team-a', { operation: null }) }).denying, []);
    assert.deepEqual(judge({ oldObject: old, object: app('team-a') }).denying, []);
  });

  test('on CREATE too', () => {
    assert.deepEqual(judge({ object: app('team-a', sync({ source: FOREIGN })) }).denying, [
      'TG-APP-04 operation.sync.source',
    ]);
  });

  test('argocd-server (a rollback) and the controller are Argo CD; a platform admin is audited', () => {
    for (const user of [ARGOCD_SERVER, CONTROLLER])
      assert.equal(
        judge({ user, oldObject: app('team-a'), object: app('team-a', sync({ source: FOREIGN })) }).allowed,
        true,
      );
    const admin = judge({
      user: ADMIN,
      oldObject: app('team-a'),
      object: app('team-a', sync({ source: FOREIGN })),
    });
    assert.deepEqual([admin.allowed, admin.audited], [true, ['TG-APP-04 operation.sync.source']]);
  });

  test('a warn-mode tenant is denied all the same: Argo CD acts on it, no Application rule backs it up', () => {
    const verdict = judge({
      user: BOB,
      oldObject: app('team-b'),
      object: app('team-b', sync({ manifests: ['x'] })),
    });
    assert.deepEqual([verdict.allowed, verdict.denying], [false, ['TG-APP-04 operation.sync.manifests']]);
  });
});

describe("TG-APP-04 status: Argo CD's record", () => {
  const running = { operationState: { phase: 'Running', operation: { sync: { revision: 'HEAD' } } } };
  const history = {
    history: [
      { id: 1, revision: 'abc', source: SOURCE },
      { id: 2, revision: 'def', source: SOURCE },
    ],
  };
  const cases: Array<{ name: string; old: object | undefined; status: unknown; denying: string[] }> = [
    {
      name: 'a resume state with a foreign sync result',
      old: running,
      status: { operationState: { ...running.operationState, syncResult: { source: FOREIGN } } },
      denying: ['TG-APP-04 status.operationState.syncResult'],
    },
    {
      name: 'a history entry pointed elsewhere, for a rollback',
      old: history,
      status: { history: [history.history[0], { ...history.history[1], source: FOREIGN }] },
      denying: ['TG-APP-04 status.history'],
    },
    {
      name: 'a history entry taken away',
      old: history,
      status: { history: [history.history[1]] },
      denying: [],
    },
    { name: 'the whole status taken away', old: history, status: undefined, denying: [] },
    {
      name: 'terminating a running operation (argocd app terminate-op)',
      old: running,
      status: { operationState: { ...running.operationState, phase: 'Terminating' } },
      denying: [],
    },
    {
      name: 'marking a running operation succeeded',
      old: running,
      status: { operationState: { ...running.operationState, phase: 'Succeeded' } },
      denying: ['TG-APP-04 status.operationState.phase'],
    },
    {
      name: 'terminating, and swapping the operation with it',
      old: running,
      status: { operationState: { phase: 'Terminating', operation: { sync: { manifests: ['x'] } } } },
      denying: ['TG-APP-04 status.operationState.operation.sync.manifests'],
    },
    {
      name: 'a first status on an Application never reconciled',
      old: undefined,
      status: running,
      denying: ['TG-APP-04 status.operationState'],
    },
    { name: 'an empty status', old: undefined, status: {}, denying: [] },
  ];
  for (const c of cases)
    test(c.name, () => {
      const old = c.old === undefined ? app('team-a') : app('team-a', { status: c.old });
      const object = c.status === undefined ? app('team-a') : app('team-a', { status: c.status });
      assert.deepEqual(judge({ oldObject: old, object }).denying, c.denying);
    });

  test('on CREATE, a status is what a human adds', () => {
    assert.deepEqual(judge({ object: app('team-a', { status: history }) }).denying, [
      'TG-APP-04 status.history',
    ]);
    assert.deepEqual(judge({ object: app('team-a', { status: {} }) }).denying, []);
  });

  test("the application controller writes status; it is Argo CD's", () => {
    const verdict = judge({
      user: CONTROLLER,
      oldObject: app('team-a', { status: running }),
      object: app('team-a', { status: { ...history, operationState: { phase: 'Succeeded' } } }),
    });
    assert.equal(verdict.allowed, true);
  });
});

describe('sameAsGoDecodes', () => {
  const json = fc.jsonValue({ maxDepth: 4 });
  test('equal values, and values that differ only by a zero value left out, decode the same', () => {
    fc.assert(
      fc.property(json, fc.string(), (value, key) => {
        assert.equal(sameAsGoDecodes(value, structuredClone(value)), true);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
        for (const zero of ['', 0, false, null, []])
          assert.equal(
            sameAsGoDecodes(value, { ...value, [key]: zero }),
            !Object.hasOwn(value, key) || isZero(value[key]),
          );
      }),
    );
  });
  test('a non-zero leaf changed, or an empty object for none, differs', () => {
    assert.equal(sameAsGoDecodes({ a: { b: 'x' } }, { a: { b: 'y' } }), false);
    assert.equal(sameAsGoDecodes({ a: [1, 2] }, { a: [1] }), false);
    assert.equal(sameAsGoDecodes({ helm: {} }, {}), false);
    assert.equal(sameAsGoDecodes({ a: '1' }, { a: 1 }), false);
  });
});

function isZero(v: unknown): boolean {
  return v === '' || v === 0 || v === false || v === null || (Array.isArray(v) && v.length === 0);
}
