/**
 * Decisions that no test pinned: a review changed each of these branches of the policy one
 * at a time (mutation testing) and every test still passed. Each case of
 * test/fixtures/decision-gaps.json is the AdmissionRequest that tells the branch from its
 * change, with the decision the SPEC asks for; most of them are denials a weakened rule
 * would have let through (a human deleting a platform object, an ownerReferences-only
 * UPDATE of an out-of-bounds Application, a server spelled in another case).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { admit, defaultPolicy, mutateThenValidate } from '../../src/admission/admit.js';
import { parseAdmissionReview, readAdmissionRequest } from '../../src/admission/review.js';
import { isTenantGuardError } from '../../src/errors.js';
import { resolveSettings } from '../../src/settings.js';
import { isControlPlaneServer } from '../../src/tenancy/cluster-url.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { loadTenants, tenantsYaml } from '../support/policy-fixtures.js';

interface GapCase {
  readonly id: string;
  readonly why: string;
  readonly tenants: 'two-teams';
  readonly endpoint: 'validate' | 'check';
  readonly request: Record<string, unknown>;
  readonly expect: {
    readonly allowed: boolean;
    readonly denying: readonly string[];
    readonly audited: readonly string[];
    readonly patched: boolean;
  };
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/decision-gaps.json', import.meta.url), 'utf8'),
) as { cases: GapCase[] };

describe('decisions pinned after mutation testing (test/fixtures/decision-gaps.json)', () => {
  const settings = resolveSettings({});
  const deps = { policy: defaultPolicy, registry: loadTenants('two-teams'), settings };
  const lines = (violations: ReadonlyArray<{ rule: string; path: string }>) =>
    violations.map((v) => `${v.rule} ${v.path}`);

  for (const c of fixture.cases) {
    test(`${c.id}: ${c.why}`, () => {
      const body = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { uid: c.id, ...c.request },
      };
      const request = readAdmissionRequest(parseAdmissionReview(body));
      const mutation = admit('mutate', request, deps);
      const patch = mutation.type === 'patched' ? mutation.patch : [];
      assert.equal(patch.length > 0, c.expect.patched, `/mutate: ${JSON.stringify(patch)}`);
      const outcome =
        c.endpoint === 'check' ? mutateThenValidate(request, deps).outcome : admit('validate', request, deps);
      assert.equal(outcome.type, 'decided');
      if (outcome.type !== 'decided') return;
      const decision = outcome.decision;
      assert.equal(decision.allowed, c.expect.allowed);
      assert.deepEqual(decision.allowed ? [] : lines(decision.violations), c.expect.denying);
      assert.deepEqual(lines(decision.audited), c.expect.audited);
    });
  }

  test('cu-05: the bare host https://kubernetes is the control plane, for the registry too', () => {
    assert.equal(isControlPlaneServer('https://kubernetes'), true);
    assert.equal(isControlPlaneServer('https://KUBERNETES:443/'), true);
    const yaml = `${tenantsYaml('two-teams')}\n---\n${[
      'apiVersion: tenantguard.dev/v1alpha1',
      'kind: Tenant',
      'metadata: { name: team-c }',
      'spec:',
      '  owners: { groups: [team-c-admins] }',
      '  namespaces: [team-c]',
      '  projects: [team-c]',
      '  clusters: [{ name: k8s-team-c-dev, server: "https://kubernetes" }]',
    ].join('\n')}`;
    assert.throws(
      () => parseTenantsYaml(yaml, 'tenants.yaml', 'argocd'),
      (err) =>
        isTenantGuardError(err) && err.code === 'ERR_TENANT_INVALID' && /control plane/.test(err.message),
    );
  });
});
