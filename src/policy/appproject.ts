/**
 * The AppProject rule (SPEC section 5): TG-PRJ-01, for a project that a tenant lists.
 * A project grants what its Applications may reach, so a tenant's project names only the
 * tenant's clusters and namespaces, literally, and only platform admins and the trusted
 * service accounts may write it. Projects no tenant lists are the platform's. Pure.
 *
 * Argo CD matches project destinations and source namespaces as globs (`*`, `?`, `[...]`,
 * `{...}`) and treats a leading `!` as a deny entry:
 * https://argo-cd.readthedocs.io/en/stable/user-guide/projects/
 */
import type { Tenant } from '../tenancy/tenant.js';
import { explainForeignTarget, type DestinationField } from './destination.js';
import { getLabels, getPath, isRecord, joinPath, show } from './object-paths.js';
import type { Findings, KindRules, KubeObject, PolicyContext, RuleScope, Violation } from './types.js';
import { violation } from './types.js';

const GLOB_CHARS = /[*?[\]{}!]/;

/** True when a project entry holds glob syntax (or a `!` deny prefix). */
export function hasGlob(value: string): boolean {
  return GLOB_CHARS.test(value);
}

/** The tenant that lists the project of this name, if any. */
function listingTenant(object: KubeObject, context: PolicyContext): Tenant | undefined {
  const name = getPath(object, ['metadata', 'name']);
  return typeof name === 'string' && name !== '' ? context.registry.tenantByProject(name) : undefined;
}

function checkEntry(entry: Record<string, unknown>, path: string, tenant: Tenant): Violation[] {
  const out: Violation[] = [];
  let named = 0;
  for (const field of ['server', 'name'] as const satisfies readonly DestinationField[]) {
    const value = entry[field];
    if (value === undefined || value === null || value === '') continue;
    const at = `${path}.${field}`;
    if (typeof value !== 'string') {
      out.push(violation('TG-REQ-01', at, `is ${show(value)}, not a string`));
      continue;
    }
    named += 1;
    if (hasGlob(value)) {
      out.push(violation('TG-PRJ-01', at, `${show(value)} holds glob characters (* ? [ ] { } !); name one of tenant "${tenant.name}"'s clusters exactly`));
      continue;
    }
    const why = explainForeignTarget(tenant, field, value);
    if (why !== undefined) out.push(violation('TG-PRJ-01', at, `${show(value)} ${why}`));
  }
  if (named === 0 && out.length === 0) {
    out.push(violation('TG-PRJ-01', path, `names no cluster; set server or name to one of tenant "${tenant.name}"'s clusters`));
  }
  return out;
}

function checkDestinations(spec: Record<string, unknown>, tenant: Tenant): Violation[] {
  const raw = spec.destinations;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return [violation('TG-REQ-01', 'spec.destinations', `is ${show(raw)}, not a list`)];
  return raw.flatMap((entry: unknown, i) => {
    const path = joinPath('spec.destinations', i);
    if (!isRecord(entry)) return [violation('TG-REQ-01', path, `is ${show(entry)}, not an object`)];
    return checkEntry(entry, path, tenant);
  });
}

function checkSourceNamespaces(spec: Record<string, unknown>, tenant: Tenant): Violation[] {
  const raw = spec.sourceNamespaces;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return [violation('TG-REQ-01', 'spec.sourceNamespaces', `is ${show(raw)}, not a list`)];
  const allowed = tenant.namespaces.length === 0 ? '(tenant has no namespaces)' : tenant.namespaces.join(', ');
  return raw.flatMap((ns: unknown, i) => {
    const path = joinPath('spec.sourceNamespaces', i);
    if (typeof ns !== 'string') return [violation('TG-REQ-01', path, `is ${show(ns)}, not a string`)];
    if (hasGlob(ns)) return [violation('TG-PRJ-01', path, `${show(ns)} holds glob characters (* ? [ ] { } !); list tenant "${tenant.name}"'s namespaces exactly: ${allowed}`)];
    if (!tenant.namespaces.includes(ns)) return [violation('TG-PRJ-01', path, `${show(ns)} is not a namespace of tenant "${tenant.name}"; use one of: ${allowed}`)];
    return [];
  });
}

/**
 * Rules for `argoproj.io/v1alpha1` AppProject. The tenant named by a project is the tenant
 * listing it in `spec.projects`; its destinations are checked against that tenant.
 */
export const appProjectRules: KindRules = {
  kind: 'AppProject',

  namedTenant: listingTenant,

  hasMaterialChange(oldObject, newObject, context) {
    const label = context.settings.tenantLabel;
    return JSON.stringify(getPath(oldObject, ['spec'])) !== JSON.stringify(getPath(newObject, ['spec'])) || getLabels(oldObject)[label] !== getLabels(newObject)[label];
  },

  mutate() {
    // Nothing to add: a project's destinations are written by the platform.
  },

  validate(scope: RuleScope): Findings {
    const { request, context, role } = scope;
    const subject = request.operation === 'DELETE' ? request.oldObject : request.object;
    if (subject === undefined || request.operation === 'CONNECT') return { violations: [], warnings: [] };
    const tenant = listingTenant(subject, context);
    if (tenant === undefined) return { violations: [], warnings: [] };
    const out: Violation[] = [];
    if (role === 'human') {
      const verb = request.operation === 'CREATE' ? 'create' : request.operation === 'DELETE' ? 'delete' : 'change';
      out.push(violation('TG-PRJ-01', 'metadata.name', `${show(request.name === '' ? getPath(subject, ['metadata', 'name']) : request.name)} is a project of tenant "${tenant.name}"; user "${request.user.username}" may not ${verb} it: only platform admins and the trusted service accounts may`));
    }
    if (request.operation === 'DELETE') return { violations: out, warnings: [] };
    if (scope.tenant !== undefined && scope.tenant.name !== tenant.name) {
      const labelPath = `metadata.labels[${JSON.stringify(context.settings.tenantLabel)}]`;
      out.push(violation('TG-PRJ-01', labelPath, `puts the project in tenant "${scope.tenant.name}", but tenant "${tenant.name}" lists it; set it to "${tenant.name}"`));
    }
    const spec = getPath(subject, ['spec']);
    if (spec === undefined || spec === null) return { violations: out, warnings: [] };
    if (!isRecord(spec)) return { violations: [...out, violation('TG-REQ-01', 'spec', `is ${show(spec)}, not an object`)], warnings: [] };
    out.push(...checkDestinations(spec, tenant), ...checkSourceNamespaces(spec, tenant));
    return { violations: out, warnings: [] };
  },
};
