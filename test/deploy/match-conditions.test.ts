/**
 * The matchConditions that keep the application controller's status writes off the webhook
 * path (issue 9 item 1), evaluated as CEL (@bufbuild/cel) straight from the built webhook
 * configurations, over AdmissionReview pairs built from real Argo CD Applications: the
 * templates of upstream Argo CD's ApplicationSet examples (../shared/fixtures/upstream) and
 * hand-written Applications with the status the application controller writes.
 *
 * What must hold:
 * - no condition ever fails to evaluate (with failurePolicy Fail an error rejects the write);
 * - every request a condition keeps from /validate is one /validate allows, and every
 *   request kept from /mutate is one /mutate leaves unpatched (the policy core, through the
 *   same admit() path as the HTTP app);
 * - an UPDATE that changes spec, labels, ownerReferences or operation, or one by any other
 *   user, or of another kind, or any CREATE or DELETE, is sent.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { admit, defaultPolicy, type AdmitDeps } from '../../src/admission/admit.js';
import { parseAdmissionReview, readAdmissionRequest } from '../../src/admission/review.js';
import { resolveSettings } from '../../src/settings.js';
import { loadTenants } from '../support/policy-fixtures.js';
import { compileCondition, conditionsOf, type MatchCondition } from './cel-conditions.js';
import { kustomizeBuild, type KubeObject } from './manifest-checks.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const UPSTREAM = join(root, '..', 'shared', 'fixtures', 'upstream', 'argocd', 'applicationsets');

const CONTROLLER = 'system:serviceaccount:argocd:argocd-application-controller';
const TENANT_LABEL = 'tenantguard.dev/tenant';

type Json = Record<string, unknown>;

/** SPEC section 3: the application controller is a trusted service account by default. */
function specSettings() {
  const settings = resolveSettings({});
  if (!settings.trustedServiceAccounts.some((a) => a.username === CONTROLLER))
    settings.trustedServiceAccounts.push({ username: CONTROLLER });
  return settings;
}

/** Applications as the ApplicationSet controller renders them from upstream examples' templates (placeholders left as text). */
function upstreamApplications(): Json[] {
  const apps: Json[] = [];
  for (const file of readdirSync(UPSTREAM)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(UPSTREAM, file), 'utf8'))) {
      const appset = doc.toJS() as Json | null;
      const template = (appset?.spec as Json | undefined)?.template as Json | undefined;
      if (appset?.kind !== 'ApplicationSet' || template?.spec === undefined) continue;
      const name = String((appset.metadata as Json).name);
      apps.push({
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: {
          name: `${name}-${apps.length}`,
          namespace: 'team-a',
          labels: {
            [TENANT_LABEL]: 'team-a',
            ...(((template.metadata as Json | undefined)?.labels as Json | undefined) ?? {}),
          },
          ownerReferences: [
            {
              apiVersion: 'argoproj.io/v1alpha1',
              kind: 'ApplicationSet',
              name,
              uid: '4f7f3c5e-0000-4000-8000-000000000001',
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
          finalizers: ['resources-finalizer.argocd.argoproj.io'],
        },
        spec: { ...(template.spec as Json), project: 'team-a' },
      });
    }
  }
  return apps;
}

const DESTINATION_A = { name: 'k8s-team-a-dev', namespace: 'guestbook' };
const SOURCE = {
  repoURL: 'https://github.com/argoproj/argocd-example-apps.git',
  targetRevision: 'HEAD',
  path: 'guestbook',
};

/** Hand-written Applications: labelled, unlabelled, out of bounds after a registry change, a platform one, one without spec. */
function handWritten(): Json[] {
  const app = (name: string, namespace: string, metadata: Json, spec: Json | undefined): Json => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace, uid: `uid-${name}`, resourceVersion: '41', generation: 3, ...metadata },
    ...(spec === undefined ? {} : { spec }),
  });
  return [
    app(
      'guestbook',
      'team-a',
      { labels: { [TENANT_LABEL]: 'team-a' } },
      {
        project: 'team-a',
        source: SOURCE,
        destination: DESTINATION_A,
        syncPolicy: { automated: { prune: true, selfHeal: true } },
      },
    ),
    app('unlabelled', 'team-a', {}, { project: 'team-a', source: SOURCE, destination: DESTINATION_A }),
    app(
      'in-argocd-ns',
      'argocd',
      { labels: { [TENANT_LABEL]: 'team-a' } },
      { project: 'team-a', source: SOURCE, destination: DESTINATION_A },
    ),
    // The registry no longer gives team-a this cluster: still the controller must write its status.
    app(
      'out-of-bounds',
      'team-a',
      { labels: { [TENANT_LABEL]: 'team-a' } },
      { project: 'team-a', source: SOURCE, destination: { name: 'k8s-team-b-dev', namespace: 'guestbook' } },
    ),
    app(
      'platform',
      'argocd',
      {},
      {
        project: 'default',
        source: SOURCE,
        destination: { server: 'https://kubernetes.default.svc', namespace: 'platform' },
      },
    ),
    app(
      'terminating',
      'team-a',
      {
        labels: { [TENANT_LABEL]: 'team-a' },
        deletionTimestamp: '2026-11-30T05:00:00Z',
        finalizers: ['resources-finalizer.argocd.argoproj.io'],
      },
      { project: 'team-a', source: SOURCE, destination: DESTINATION_A },
    ),
    app('no-spec', 'team-a', { labels: { [TENANT_LABEL]: 'team-a' } }, undefined),
  ];
}

/** The status the application controller writes on reconciliation (shape of Argo CD 3.x ApplicationStatus). */
function reconciledStatus(revision: string): Json {
  return {
    sync: { status: 'Synced', revision, comparedTo: { source: SOURCE, destination: DESTINATION_A } },
    health: { status: 'Healthy', lastTransitionTime: '2026-11-30T05:10:00Z' },
    reconciledAt: '2026-11-30T05:10:00Z',
    resources: [
      {
        version: 'v1',
        kind: 'Service',
        namespace: 'guestbook',
        name: 'guestbook-ui',
        status: 'Synced',
        health: { status: 'Healthy' },
      },
    ],
    summary: { images: ['gcr.io/heptio-images/ks-guestbook-demo:0.2'] },
    sourceType: 'Directory',
    controllerNamespace: 'argocd',
    operationState: {
      operation: { sync: { revision } },
      phase: 'Succeeded',
      message: 'successfully synced (all tasks run)',
      startedAt: '2026-11-30T05:09:58Z',
      finishedAt: '2026-11-30T05:10:00Z',
      syncResult: { revision, resources: [] },
    },
    history: [
      {
        id: 7,
        revision,
        deployedAt: '2026-11-30T05:10:00Z',
        deployStartedAt: '2026-11-30T05:09:58Z',
        source: SOURCE,
        initiatedBy: { automated: true },
      },
    ],
  };
}

interface Change {
  readonly name: string;
  /** What the application controller's exemption covers: status, finalizers, annotations. */
  readonly statusOnly: boolean;
  apply(o: Json): void;
}

const meta = (o: Json): Json => (o.metadata ??= {}) as Json;
const SYNC_OPERATION = {
  sync: { revision: 'HEAD', manifests: ['apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}'] },
  initiatedBy: { username: 'admin' },
};

const CHANGES: readonly Change[] = [
  { name: 'status written', statusOnly: true, apply: (o) => void (o.status = reconciledStatus('a1b2c3')) },
  {
    name: 'status changed again',
    statusOnly: true,
    apply: (o) => void (o.status = { ...reconciledStatus('d4e5f6'), health: { status: 'Progressing' } }),
  },
  { name: 'status removed', statusOnly: true, apply: (o) => void delete o.status },
  { name: 'refresh annotation cleared', statusOnly: true, apply: (o) => void (meta(o).annotations = {}) },
  {
    name: 'annotation added',
    statusOnly: true,
    apply: (o) => void (meta(o).annotations = { 'notified.notifications.argoproj.io': '{}' }),
  },
  { name: 'finalizer removed', statusOnly: true, apply: (o) => void delete meta(o).finalizers },
  {
    name: 'finalizer added',
    statusOnly: true,
    apply: (o) =>
      void (meta(o).finalizers = [
        'resources-finalizer.argocd.argoproj.io',
        'post-delete-finalizer.argocd.argoproj.io',
      ]),
  },
  {
    name: 'destination to another tenant',
    statusOnly: false,
    apply: (o) =>
      void (o.spec = {
        ...(o.spec as Json | undefined),
        destination: { name: 'k8s-team-b-prod', namespace: 'kube-system' },
      }),
  },
  {
    name: 'project changed',
    statusOnly: false,
    apply: (o) => void (o.spec = { ...(o.spec as Json | undefined), project: 'team-b' }),
  },
  {
    name: 'spec added or removed',
    statusOnly: false,
    apply: (o) =>
      void (o.spec === undefined
        ? (o.spec = { project: 'team-b', destination: { name: 'k8s-team-b-dev' } })
        : delete o.spec),
  },
  {
    name: 'tenant label changed',
    statusOnly: false,
    apply: (o) =>
      void (meta(o).labels = { ...(meta(o).labels as Json | undefined), [TENANT_LABEL]: 'team-b' }),
  },
  { name: 'labels removed', statusOnly: false, apply: (o) => void delete meta(o).labels },
  { name: 'labels emptied', statusOnly: false, apply: (o) => void (meta(o).labels = {}) },
  {
    name: 'ownerReference to another ApplicationSet',
    statusOnly: false,
    apply: (o) =>
      void (meta(o).ownerReferences = [
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'ApplicationSet',
          name: 'team-b-apps',
          uid: 'other',
          controller: true,
        },
      ]),
  },
  { name: 'ownerReferences removed', statusOnly: false, apply: (o) => void delete meta(o).ownerReferences },
  {
    name: 'operation set (sync with manifests)',
    statusOnly: false,
    apply: (o) => void (o.operation = SYNC_OPERATION),
  },
  {
    name: 'operation changed',
    statusOnly: false,
    apply: (o) => void (o.operation = { ...SYNC_OPERATION, retry: { limit: 5 } }),
  },
  { name: 'operation cleared', statusOnly: false, apply: (o) => void delete o.operation },
];

const USERS: ReadonlyArray<{ username: string; groups: string[] }> = [
  {
    username: CONTROLLER,
    groups: ['system:serviceaccounts', 'system:serviceaccounts:argocd', 'system:authenticated'],
  },
  {
    username: 'system:serviceaccount:argocd:argocd-applicationset-controller',
    groups: ['system:serviceaccounts', 'system:authenticated'],
  },
  {
    username: 'system:serviceaccount:argocd:argocd-server',
    groups: ['system:serviceaccounts', 'system:authenticated'],
  },
  {
    username: 'system:serviceaccount:team-a:argocd-application-controller',
    groups: ['system:serviceaccounts', 'system:authenticated'],
  },
  { username: 'alice', groups: ['team-a-admins', 'system:authenticated'] },
  { username: 'mallory', groups: ['team-b-admins', 'system:authenticated'] },
  { username: 'root', groups: ['platform-admins', 'system:authenticated'] },
];

interface Pair {
  readonly label: string;
  readonly change: Change | undefined;
  readonly request: Json;
}

let uid = 0;
function request(
  operation: string,
  user: { username: string; groups: string[] },
  object: Json | null,
  oldObject: Json | null,
  resource = 'applications',
  kind = 'Application',
): Json {
  const named = (object ?? oldObject) as Json;
  return {
    uid: `00000000-0000-4000-8000-${String(++uid).padStart(12, '0')}`,
    kind: { group: 'argoproj.io', version: 'v1alpha1', kind },
    resource: { group: 'argoproj.io', version: 'v1alpha1', resource },
    requestKind: { group: 'argoproj.io', version: 'v1alpha1', kind },
    requestResource: { group: 'argoproj.io', version: 'v1alpha1', resource },
    name: (named.metadata as Json).name,
    namespace: (named.metadata as Json).namespace,
    operation,
    userInfo: { ...user, uid: 'x' },
    object,
    oldObject,
    dryRun: false,
    options: {
      apiVersion: 'meta.k8s.io/v1',
      kind:
        operation === 'CREATE' ? 'CreateOptions' : operation === 'DELETE' ? 'DeleteOptions' : 'UpdateOptions',
    },
  };
}

/** Every (object, change, user) UPDATE, with and without a status before; and CREATE and DELETE of each object. */
function pairs(): Pair[] {
  const out: Pair[] = [];
  const objects = [
    ...handWritten().map((o) => ({ o, statuses: [false, true] })),
    ...upstreamApplications().map((o) => ({ o, statuses: [true] })),
  ];
  for (const { o: base, statuses } of objects) {
    for (const withStatus of statuses) {
      const old = structuredClone(base);
      if (withStatus) {
        old.status = reconciledStatus('000000');
        meta(old).annotations = { 'argocd.argoproj.io/refresh': 'normal' };
      }
      for (const change of CHANGES) {
        const next = structuredClone(old);
        change.apply(next);
        if (JSON.stringify(next) === JSON.stringify(old)) continue;
        for (const user of USERS)
          out.push({
            label: `${user.username} UPDATE ${String(meta(base).name)} (${withStatus ? 'had status' : 'new'}): ${change.name}`,
            change,
            request: request('UPDATE', user, next, old),
          });
      }
    }
    for (const user of USERS) {
      out.push({
        label: `${user.username} CREATE ${String(meta(base).name)}`,
        change: undefined,
        request: request('CREATE', user, base, null),
      });
      out.push({
        label: `${user.username} DELETE ${String(meta(base).name)}`,
        change: undefined,
        request: request('DELETE', user, null, base),
      });
    }
  }
  return out;
}

/** The same status write on an ApplicationSet and an AppProject: the controller writes neither, so they are sent. */
function otherKinds(): Pair[] {
  const appset: Json = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'apps', namespace: 'team-a', labels: { [TENANT_LABEL]: 'team-a' } },
    spec: { generators: [], template: { metadata: {}, spec: { project: 'team-a' } } },
  };
  const project: Json = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AppProject',
    metadata: { name: 'team-a', namespace: 'argocd' },
    spec: { destinations: [] },
  };
  const change = CHANGES[0];
  return [
    [appset, 'applicationsets'],
    [project, 'appprojects'],
  ].map(([o, resource]) => {
    const next = structuredClone(o as Json);
    next.status = { conditions: [] };
    return {
      label: `${CONTROLLER} UPDATE ${resource as string}: status`,
      change,
      request: request(
        'UPDATE',
        USERS[0] ?? { username: '', groups: [] },
        next,
        o as Json,
        resource as string,
        (o as Json).kind as string,
      ),
    };
  });
}

describe("matchConditions keep the application controller's status writes off the webhook path (CEL over AdmissionReview pairs)", () => {
  let mutating: KubeObject;
  let validating: KubeObject;
  let all: Pair[];
  const settings = specSettings();
  const deps: AdmitDeps = { policy: defaultPolicy, registry: loadTenants('two-teams'), settings };

  const outcome = (endpoint: 'mutate' | 'validate', r: Json) =>
    admit(
      endpoint,
      readAdmissionRequest(
        parseAdmissionReview({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: r }),
      ),
      deps,
    );
  const webhook = (config: KubeObject, name: string): { name: string; matchConditions: MatchCondition[] } => {
    const w = (config.webhooks as Array<{ name: string; matchConditions: MatchCondition[] }>).find(
      (x) => x.name === name,
    );
    assert.ok(w !== undefined, name);
    return w;
  };

  before(() => {
    const objects = kustomizeBuild(join(root, 'webhook-config', 'webhooks'));
    const m = objects.find((o) => o.kind === 'MutatingWebhookConfiguration');
    const v = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration');
    assert.ok(m !== undefined && v !== undefined);
    mutating = m;
    validating = v;
    all = [...pairs(), ...otherKinds()];
  });

  test("the pairs are many and real: upstream templates and the controller's status", () => {
    assert.ok(upstreamApplications().length >= 40, `${upstreamApplications().length} upstream templates`);
    assert.ok(all.length > 3000, `${all.length} pairs`);
  });

  test('no condition of any webhook fails to evaluate, whatever the request (CREATE, DELETE with object null, objects without spec, labels or metadata fields)', () => {
    const odd: Json[] = [
      request(
        'UPDATE',
        USERS[0] ?? { username: '', groups: [] },
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'Application',
          metadata: { name: 'x', namespace: 'team-a' },
        },
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'Application',
          metadata: { name: 'x', namespace: 'team-a' },
        },
      ),
      request(
        'UPDATE',
        USERS[0] ?? { username: '', groups: [] },
        { kind: 'Application', metadata: { name: 'x' } },
        { kind: 'Application', metadata: { name: 'x' }, spec: {} },
      ),
    ];
    for (const config of [mutating, validating]) {
      for (const w of config.webhooks as Array<{ name: string; matchConditions: MatchCondition[] }>) {
        const decide = conditionsOf(w);
        for (const r of [...all.map((p) => p.request), ...odd]) {
          const { verdict, results } = decide(r);
          assert.notEqual(verdict, 'error', `${w.name}: ${JSON.stringify(results)}`);
        }
      }
    }
  });

  test('every UPDATE /validate is spared is one /validate allows; every one /mutate is spared gets no patch', () => {
    const validate = conditionsOf(webhook(validating, 'argocd.validate.tenantguard.dev'));
    const mutate = conditionsOf(webhook(mutating, 'argocd.mutate.tenantguard.dev'));
    let skipped = 0;
    for (const p of all) {
      if (validate(p.request).verdict === 'skipped') {
        skipped++;
        const o = outcome('validate', p.request);
        assert.ok(o.type === 'decided' || o.type === 'unhandled', `${p.label}: ${o.type}`);
        if (o.type === 'decided')
          assert.equal(
            o.decision.allowed,
            true,
            `${p.label}: skipped, but /validate says ${JSON.stringify(o.decision)}`,
          );
      }
      if (mutate(p.request).verdict === 'skipped') {
        const o = outcome('mutate', p.request);
        assert.ok(o.type === 'patched' || o.type === 'unhandled', `${p.label}: ${o.type}`);
        if (o.type === 'patched') assert.deepEqual(o.patch, [], `${p.label}: skipped, but /mutate patches`);
      }
    }
    assert.ok(skipped > 300, `${skipped} skipped`);
  });

  test("skipped exactly: the application controller's UPDATEs of tenant-labelled Applications that change only status, finalizers or annotations", () => {
    for (const config of [mutating, validating]) {
      const name =
        config.kind === 'MutatingWebhookConfiguration'
          ? 'argocd.mutate.tenantguard.dev'
          : 'argocd.validate.tenantguard.dev';
      const decide = conditionsOf(webhook(config, name));
      const wrong: string[] = [];
      for (const p of all) {
        const r = p.request;
        // An unlabelled one goes to the webhook once more, so that /mutate pins its tenant label.
        const labels = ((r.object as Json | undefined)?.metadata as Json | undefined)?.labels as
          Json | undefined;
        const pinned = labels !== undefined && Object.hasOwn(labels, 'tenantguard.dev/tenant');
        const expectSkip =
          r.operation === 'UPDATE' &&
          (r.userInfo as Json).username === CONTROLLER &&
          (r.resource as Json).resource === 'applications' &&
          p.change?.statusOnly === true &&
          pinned;
        const verdict = decide(r).verdict;
        if (verdict !== (expectSkip ? 'skipped' : 'called')) wrong.push(`${name}: ${p.label}: ${verdict}`);
      }
      assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} wrong`);
    }
  });

  // Each clause matters: without it the condition would spare writes /validate denies. (The
  // operation and ownerReferences clauses too once /validate runs the target rules on every
  // non-null operation and every ownerReferences change, SPEC section 4; the exact-skip test
  // above already holds the conditions to sending every such change.)
  for (const field of ['spec', 'metadata.labels']) {
    test(`the check has teeth: the condition without its ${field} clauses would spare writes /validate denies`, () => {
      const real = webhook(validating, 'argocd.validate.tenantguard.dev').matchConditions.find(
        (c) => c.name === 'not-application-controller-status-write',
      );
      assert.ok(real !== undefined);
      const clauses = [
        `&& has(object.${field}) == has(oldObject.${field})`,
        `&& (!has(object.${field}) || object.${field} == oldObject.${field})`,
      ];
      for (const c of clauses) assert.ok(real.expression.includes(c), `the expression has ${c}`);
      const lax = compileCondition({
        name: 'lax',
        expression: clauses.reduce((e, c) => e.replace(c, ''), real.expression),
      });
      const strict = compileCondition(real);
      const spared = all.filter((p) => lax(p.request) === false && strict(p.request) === true);
      assert.ok(spared.length > 0, `the lax condition spares more (${field} changes)`);
      const denied = spared.filter((p) => {
        const o = outcome('validate', p.request);
        return o.type === 'decided' && !o.decision.allowed;
      });
      assert.ok(denied.length > 0, `and /validate denies some of them (${spared.length} spared)`);
    });
  }
});
