/**
 * The budget of findings per rule (src/policy/finding-budget.ts): a findings-heavy request
 * builds at most MAX_FINDINGS_PER_RULE findings of a rule and counts the rest, and its
 * verdict is the one every finding built gives, in every mode and for every requester. A
 * red-team review: a 250 KiB ApplicationSet naming another tenant's cluster 15,000 times in
 * its list values held /validate for 40-50 ms (a benign body of that size: ~1.5 ms), most
 * of it building and collecting findings an answer never shows.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { listingPolicy } from '../../src/admission/admit.js';
import { evaluate, type KindRulesTable } from '../../src/policy/evaluate.js';
import { MAX_FINDINGS_PER_RULE } from '../../src/policy/finding-budget.js';
import { KIND_RULES } from '../../src/policy/kinds.js';
import type {
  Decision,
  KubeObject,
  PolicyContext,
  PolicyRequest,
  Violation,
} from '../../src/policy/types.js';
import { violation } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { serverKey } from '../../src/tenancy/cluster-url.js';
import { buildRegistry } from '../../src/tenancy/registry.js';
import type { EnforcementMode, Tenant } from '../../src/tenancy/tenant.js';

const MANY = 3 * MAX_FINDINGS_PER_RULE + 7;

function tenant(name: string, enforcement: EnforcementMode): Tenant {
  return {
    name,
    owners: { groups: [`${name}-admins`], users: [] },
    namespaces: [name],
    projects: [name],
    sourceRepos: ['https://github.com/example/*'],
    enforcement,
    clusters: ['dev', 'prod'].map((stage) => {
      const server = `https://${name}-${stage}.example.com`;
      return {
        name: `k8s-${name}-${stage}`,
        server,
        serverKey: serverKey(server),
        audience: `k8s-${name}-${stage}`,
        subject: `tenantguard:k8s-${name}-${stage}`,
        groups: [],
        tokenTTLSeconds: 60,
      };
    }),
  };
}

function contextIn(mode: EnforcementMode): PolicyContext {
  const { registry } = buildRegistry([tenant('team-1', mode), tenant('team-2', 'enforce')]);
  return { registry, settings: resolveSettings({}) };
}

const USERS = {
  owner: { username: 'alice', groups: ['team-1-admins'] },
  admin: { username: 'root', groups: ['platform-admins'] },
  controller: { username: 'system:serviceaccount:argocd:argocd-applicationset-controller', groups: [] },
};

const LABELS = { 'tenantguard.dev/tenant': 'team-1' };

/** Findings of TG-AS-04 (relaxable) by the hundred, and one TG-AS-01 held in every mode. */
function noisyAppSet(): KubeObject {
  const values = Array.from({ length: MANY }, (_, i) => (i % 3 === 0 ? 'in-cluster' : 'k8s-team-2-dev'));
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'noisy', namespace: 'team-1', labels: LABELS },
    spec: {
      goTemplate: true,
      generators: [{ list: { elements: [{ names: values }], values: { more: values } } }],
      template: {
        metadata: { name: '{{.name}}', labels: LABELS },
        spec: {
          project: 'team-2',
          source: { repoURL: 'https://github.com/example/x', path: '.' },
          destination: { name: 'k8s-team-1-dev', namespace: 'n' },
        },
      },
    },
  };
}

/** TG-PRJ-01 by the hundred: foreign destinations and source namespaces. */
function noisyProject(): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AppProject',
    metadata: { name: 'team-1', namespace: 'argocd', labels: LABELS },
    spec: {
      destinations: Array.from({ length: MANY }, (_, i) => ({ name: 'k8s-team-2-dev', namespace: `n${i}` })),
      sourceNamespaces: Array.from({ length: MANY }, (_, i) => `elsewhere-${i}`),
    },
  };
}

function request(object: KubeObject, user: { username: string; groups: string[] }): PolicyRequest {
  const metadata = object.metadata as { name: string; namespace: string };
  const kind = object.kind === 'AppProject' ? 'AppProject' : 'ApplicationSet';
  return {
    uid: 'u',
    kind,
    operation: 'CREATE',
    namespace: metadata.namespace,
    name: metadata.name,
    object,
    user,
    dryRun: false,
  };
}

/** Findings per rule and class (held in every mode or not), a counting line for what it counts. */
function tally(vs: readonly Violation[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of vs) {
    const key = `${v.rule}${v.holdsInEveryMode === true ? ' (every mode)' : ''}`;
    out[key] = (out[key] ?? 0) + (v.unlisted ?? 1);
  }
  return out;
}

const warnedRules = (d: Decision) =>
  [...new Set(d.warnings.map((w) => /^\[([A-Z0-9-]+)\]/.exec(w)?.[1]))].sort();

describe('the budget of findings per rule', () => {
  for (const mode of ['enforce', 'warn', 'audit'] as const)
    for (const [who, user] of Object.entries(USERS))
      for (const [what, object] of Object.entries({ appset: noisyAppSet(), project: noisyProject() }))
        test(`${what}, ${mode} tenant, ${who}: the verdict every finding built gives, from a bounded list`, () => {
          const context = contextIn(mode);
          const full = evaluate(request(object, user), context, KIND_RULES, Number.POSITIVE_INFINITY);
          const capped = evaluate(request(object, user), context);
          assert.equal(capped.allowed, full.allowed);
          const denied = (d: Decision) => (d.allowed ? [] : d.violations);
          assert.deepEqual(tally(denied(capped)), tally(denied(full)), 'the same findings deny');
          assert.deepEqual(tally(capped.audited), tally(full.audited), 'the same findings are audited');
          assert.deepEqual(warnedRules(capped), warnedRules(full), 'the same rules warn');
          const built = [...denied(capped), ...capped.audited].filter((v) => v.unlisted === undefined);
          const perRule = tally(built.map((v) => ({ rule: v.rule, path: v.path, message: v.message })));
          for (const [rule, count] of Object.entries(perRule))
            assert.ok(count <= MAX_FINDINGS_PER_RULE, `${rule}: ${count} findings built`);
          const shown = denied(capped).length + capped.audited.length;
          assert.ok(
            shown <= 2 * (Object.keys(perRule).length + 1) * (MAX_FINDINGS_PER_RULE + 1),
            `${shown} lines`,
          );
          assert.ok(
            capped.warnings.length <= 2 * (MAX_FINDINGS_PER_RULE + 2),
            `${capped.warnings.length} warnings`,
          );
        });

  test('the noisy bodies do find past the budget (else the table above proves nothing)', () => {
    const full = evaluate(request(noisyAppSet(), USERS.owner), contextIn('enforce'), KIND_RULES, Infinity);
    assert.ok(!full.allowed && full.violations.length > 2 * MANY);
    const capped = evaluate(request(noisyAppSet(), USERS.owner), contextIn('enforce'));
    assert.ok(!capped.allowed);
    const line = capped.violations.find((v) => v.unlisted !== undefined);
    assert.equal(line?.rule, 'TG-AS-04');
    assert.equal(line?.unlisted, 2 * MANY - MAX_FINDINGS_PER_RULE);
    assert.match(
      line?.message ?? '',
      /^\.\.\. and \d+ more findings of TG-AS-04, .*check -f FILE lists them all/,
    );
  });

  test('tenant-guard check (listingPolicy) builds every finding', () => {
    const d = listingPolicy.evaluate(request(noisyProject(), USERS.owner), contextIn('enforce'));
    assert.ok(!d.allowed);
    assert.ok(d.violations.filter((v) => v.rule === 'TG-PRJ-01').length >= 2 * MANY);
    assert.ok(d.violations.every((v) => v.unlisted === undefined));
  });

  test('a terminating UPDATE is compared by every finding it may compare, whatever the budget', () => {
    // Findings between the budget and MAX_COMPARED_VIOLATIONS standing on the old object too:
    // excused as before. With the budget applied to the comparison they would not be.
    const standing = 5 * MAX_FINDINGS_PER_RULE;
    const rules: KindRulesTable = {
      ...KIND_RULES,
      Application: {
        ...KIND_RULES.Application,
        validate: () => ({
          violations: Array.from({ length: standing }, (_, i) =>
            violation('TG-APP-02', 'spec.n', `finding ${i}`),
          ),
          warnings: [],
        }),
      },
    };
    const object = (spec: Record<string, unknown>): KubeObject => ({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: {
        name: 'a',
        namespace: 'team-1',
        labels: LABELS,
        deletionTimestamp: '2026-01-01T00:00:00Z',
        finalizers: [],
      },
      spec,
    });
    const update: PolicyRequest = {
      ...request(object({ n: 1 }), USERS.owner),
      kind: 'Application',
      operation: 'UPDATE',
      oldObject: object({ n: 1, other: 2 }),
    };
    const context = contextIn('enforce');
    assert.equal(evaluate(update, context, rules, Infinity).allowed, true, 'uncapped: excused');
    assert.equal(evaluate(update, context, rules).allowed, true, 'with the budget: excused too');
  });
});
