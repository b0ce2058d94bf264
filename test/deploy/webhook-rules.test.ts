import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import { compileCondition, conditionsOf } from './cel-conditions.js';
import { kustomizeBuild, type KubeObject } from './manifest-checks.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A CREATE of an Application in team-a by `username`, as the API server would send it. */
function createBy(username: string): Record<string, unknown> {
  return {
    uid: 'u',
    operation: 'CREATE',
    namespace: 'team-a',
    name: 'guestbook',
    kind: { group: 'argoproj.io', version: 'v1alpha1', kind: 'Application' },
    resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'applications' },
    userInfo: { username, groups: ['system:authenticated'] },
    object: {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'guestbook', namespace: 'team-a' },
      spec: { project: 'team-a' },
    },
    oldObject: null,
  };
}

const SPARED = [
  'system:serviceaccount:tenant-guard:tenant-guard-webhook',
  'system:serviceaccount:kube-system:generic-garbage-collector',
  'system:serviceaccount:kube-system:namespace-controller',
];
const JUDGED = [
  'alice',
  'system:admin',
  'system:serviceaccount:team-a:deployer',
  'system:serviceaccount:argocd:argocd-applicationset-controller',
  'system:serviceaccount:argocd:argocd-server',
  'system:serviceaccount:argocd:argocd-application-controller',
  'system:serviceaccount:tenant-guard:tenant-guard-broker',
  'system:serviceaccount:tenant-guard:tenant-guard-webhook-2',
  'system:serviceaccount:kube-systems:impostor',
  // Found by a red-team review: the condition spared every kube-system account, so an
  // operator installed there (Sealed Secrets is, by default) skipped TG-CS-02/03/04, which
  // hold for every requester. Only the system controllers of the setting are spared.
  'system:serviceaccount:kube-system:sealed-secrets-controller',
  'system:serviceaccount:kube-system:generic-garbage-collector-2',
];

/** `group/resource OPERATION` for every rule of every webhook, and which webhook. */
function coverage(config: KubeObject): Map<string, string[]> {
  const covered = new Map<string, string[]>();
  for (const w of config.webhooks) {
    for (const r of w.rules) {
      for (const g of r.apiGroups)
        for (const res of r.resources)
          for (const op of r.operations) {
            const key = `${g === '' ? 'core' : g}/${res} ${op}`;
            covered.set(key, [...(covered.get(key) ?? []), w.name]);
          }
    }
  }
  return covered;
}

function expected(operations: readonly string[]): string[] {
  const kinds = [
    'argoproj.io/applicationsets',
    'argoproj.io/applications',
    'argoproj.io/appprojects',
    'core/secrets',
  ];
  return kinds.flatMap((k) => operations.map((op) => `${k} ${op}`)).sort();
}

describe('webhook configurations against SPEC section 5', () => {
  let mutating: KubeObject;
  let validating: KubeObject;

  before(() => {
    const objects = kustomizeBuild(join(root, 'webhook-config', 'webhooks'));
    const m = objects.find((o) => o.kind === 'MutatingWebhookConfiguration');
    const v = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration');
    assert.ok(m !== undefined && v !== undefined);
    mutating = m;
    validating = v;
  });

  test('/validate sees exactly ApplicationSets, Applications, AppProjects (argoproj.io) and Secrets, on CREATE, UPDATE and DELETE, and the ApplicationSet status subresource on UPDATE', () => {
    // Found by a red-team review: the ApplicationSet CRD has a status subresource, and writes
    // through it never reached the webhook (a non-owner may change nothing, not its status).
    assert.deepEqual(
      [...coverage(validating).keys()].sort(),
      [...expected(['CREATE', 'UPDATE', 'DELETE']), 'argoproj.io/applicationsets/status UPDATE'].sort(),
    );
    for (const [key, hooks] of coverage(validating))
      assert.equal(hooks.length, 1, `${key} is sent once, not by ${hooks.join(' and ')}`);
    for (const w of validating.webhooks) assert.equal(w.clientConfig.service.path, '/validate');
  });

  test('/mutate sees the same kinds on CREATE and UPDATE (it never patches a DELETE)', () => {
    assert.deepEqual([...coverage(mutating).keys()].sort(), expected(['CREATE', 'UPDATE']));
    for (const w of mutating.webhooks) assert.equal(w.clientConfig.service.path, '/mutate');
  });

  test('Secrets only when labelled argocd.argoproj.io/secret-type=cluster, in a webhook of their own; argoproj.io kinds unfiltered', () => {
    for (const config of [mutating, validating]) {
      for (const w of config.webhooks) {
        const groups = new Set(w.rules.flatMap((r: { apiGroups: string[] }) => r.apiGroups));
        if (groups.has('')) {
          assert.deepEqual([...groups], [''], `${w.name}: Secrets share no webhook with other groups`);
          assert.deepEqual(
            w.rules.flatMap((r: { resources: string[] }) => r.resources),
            ['secrets'],
          );
          assert.deepEqual(
            w.rules.flatMap((r: { apiVersions: string[] }) => r.apiVersions),
            ['v1'],
          );
          assert.deepEqual(w.objectSelector, {
            matchLabels: { 'argocd.argoproj.io/secret-type': 'cluster' },
          });
        } else {
          assert.deepEqual([...groups], ['argoproj.io']);
          assert.equal(
            w.objectSelector,
            undefined,
            `${w.name}: no objectSelector could let a tenant skip the webhook`,
          );
        }
        assert.equal(
          w.namespaceSelector,
          undefined,
          `${w.name}: no namespaceSelector could let a tenant skip the webhook`,
        );
      }
    }
  });

  test('failurePolicy Fail, sideEffects None, a short timeout, matchPolicy Equivalent, AdmissionReview v1', () => {
    for (const w of [...mutating.webhooks, ...validating.webhooks]) {
      assert.equal(w.failurePolicy, 'Fail', w.name);
      assert.equal(w.sideEffects, 'None', w.name);
      assert.ok(
        Number.isInteger(w.timeoutSeconds) && w.timeoutSeconds >= 1 && w.timeoutSeconds <= 10,
        `${w.name}: timeoutSeconds ${w.timeoutSeconds}`,
      );
      assert.equal(w.matchPolicy, 'Equivalent', w.name);
      assert.deepEqual(w.admissionReviewVersions, ['v1'], w.name);
    }
  });

  test("matchConditions spare only the webhook's own service account and the system controllers, never all service accounts (evaluated as CEL)", () => {
    for (const w of [...mutating.webhooks, ...validating.webhooks]) {
      assert.ok(
        Array.isArray(w.matchConditions) && w.matchConditions.length > 0,
        `${w.name} has matchConditions`,
      );
      const decide = conditionsOf(w);
      for (const user of SPARED)
        assert.equal(decide(createBy(user)).verdict, 'skipped', `${w.name}: ${user} is spared`);
      for (const user of JUDGED)
        assert.equal(decide(createBy(user)).verdict, 'called', `${w.name}: ${user} is judged`);
    }
  });

  test('the check itself: a condition sparing every service account is caught', () => {
    const lax = compileCondition({
      name: 'lax',
      expression: "!request.userInfo.username.startsWith('system:serviceaccount:')",
    });
    assert.ok(
      JUDGED.some((u) => lax(createBy(u)) === false),
      'the lax condition would spare judged users',
    );
  });
});
