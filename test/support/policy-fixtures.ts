/**
 * The shared tenant sets of the tests (YAML under test/fixtures/tenants/), loaded as a
 * registry or a PolicyContext, and the AdmissionReview envelope the API server POSTs.
 */
import { readFileSync } from 'node:fs';
import { evaluate } from '../../src/policy/evaluate.js';
import type { KubeObject, PolicyContext, PolicyRequest, Violation } from '../../src/policy/types.js';
import { resolveSettings, type Settings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import type { TenantRegistry } from '../../src/tenancy/registry.js';

const TENANTS_DIR = new URL('../fixtures/tenants/', import.meta.url);

/** The tenant sets, by file name under test/fixtures/tenants/ (each file says what it is for). */
export type TenantSet =
  | 'applicationset'
  | 'broker'
  | 'dev-only'
  | 'extra-namespace'
  | 'owner-user-warn'
  | 'prod-ca'
  | 'team-b-warn'
  | 'two-teams';

/** The text of a tenant set (for tests that edit it before parsing). */
export function tenantsYaml(name: TenantSet): string {
  return readFileSync(new URL(`${name}.yaml`, TENANTS_DIR), 'utf8');
}

/** A tenant set parsed into a strict registry, as the file source builds it. */
export function loadTenants(name: TenantSet, argocdNamespace = 'argocd'): TenantRegistry {
  return parseTenantsYaml(tenantsYaml(name), `test/fixtures/tenants/${name}.yaml`, argocdNamespace);
}

/** A PolicyContext over a tenant set; default settings unless given. */
export function policyContext(name: TenantSet, settings: Settings = resolveSettings({})): PolicyContext {
  return { registry: loadTenants(name, settings.argocdNamespace), settings };
}

/** `{ group: 'argoproj.io', version: 'v1alpha1', kind }`: the GVK of an Argo CD kind. */
export function argoKind(kind: string): { group: string; version: string; kind: string } {
  return { group: 'argoproj.io', version: 'v1alpha1', kind };
}

/** An `admission.k8s.io/v1` AdmissionReview around `request`, as the API server POSTs it. */
export function admissionReview(request: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request };
}

/** A decision of `evaluate`, as `RULE path` lines: what denies, what was audited, the warnings. */
export interface JudgedLines {
  readonly allowed: boolean;
  readonly denying: string[];
  readonly audited: string[];
  readonly warnings: string[];
}

/**
 * `evaluate` of a request that names at least its kind, object and user: a CREATE, or an
 * UPDATE when it has an old object; namespace from the object, uid and name filled in.
 */
export function judgeLines(
  context: PolicyContext,
  request: Partial<PolicyRequest> & Pick<PolicyRequest, 'kind' | 'object' | 'user'>,
): JudgedLines {
  const metadata = request.object?.metadata as { namespace?: string; name?: string } | undefined;
  const decision = evaluate(
    {
      uid: 'u',
      operation: request.oldObject === undefined ? 'CREATE' : 'UPDATE',
      namespace: metadata?.namespace ?? '',
      name: metadata?.name ?? '',
      dryRun: false,
      ...request,
    },
    context,
  );
  const lines = (vs: readonly Violation[]) => vs.map((v) => `${v.rule} ${v.path}`);
  return {
    allowed: decision.allowed,
    denying: decision.allowed ? [] : lines(decision.violations),
    audited: lines(decision.audited),
    warnings: decision.warnings,
  };
}

/**
 * A tenant's Application named guestbook in its namespace, labelled with it, in its project,
 * fetching `source`, deployed to the tenant's `-dev` cluster; `spec` and `extra` (top-level
 * fields such as `operation` or `status`) on top.
 */
export function tenantApplication(
  tenant: string,
  source: object,
  spec: object = {},
  extra: object = {},
): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'guestbook', namespace: tenant, labels: { 'tenantguard.dev/tenant': tenant } },
    spec: {
      project: tenant,
      source,
      destination: { name: `k8s-${tenant}-dev`, namespace: 'guestbook' },
      ...spec,
    },
    ...extra,
  };
}
