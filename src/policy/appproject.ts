/**
 * The AppProject rules (SPEC section 5): TG-PRJ-01 for a project that a tenant lists,
 * TG-PRJ-02 for one that no tenant lists. A project's tenant is the tenant listing it and
 * nothing else (`tenantIsNamedOnly`): never the requester's groups, never its label alone.
 * A project grants what its Applications may reach, so a tenant's project names only the
 * tenant's clusters and namespaces, literally; a platform project names no tenant's cluster
 * literally; and only platform admins and the trusted service accounts may write either.
 * Otherwise a tenant makes a project of its own, whose Applications count as platform
 * objects and may target the control plane. Pure.
 *
 * Argo CD matches project destinations and source namespaces as globs (`*`, `?`, `[...]`,
 * `{...}`) and treats a leading `!` as a deny entry:
 * https://argo-cd.readthedocs.io/en/stable/user-guide/projects/
 */
import type { Tenant } from '../tenancy/tenant.js';
import { explainForeignTarget, type DestinationField } from './destination.js';
import { getPath, joinPath, show } from './object-paths.js';
import { isRecord } from '../json.js';
import type { Findings, KindRules, KubeObject, PolicyContext, RuleScope, Violation } from './types.js';
import { listUnbuilt } from './finding-budget.js';
import { violation } from './types.js';

const GLOB_CHARS = /[*?[\]{}!]/;

/** True when a project entry holds glob syntax (or a `!` deny prefix). */
export function hasGlob(value: string): boolean {
  return GLOB_CHARS.test(value);
}

/**
 * What an entry without glob syntax matches, as Argo CD's glob library (gobwas/glob) reads
 * it: `\` escapes the character after it, so `k8s-team-\b-dev` is the literal
 * `k8s-team-b-dev`. Undefined for an entry with an unescaped glob character (a glob).
 */
export function globLiteral(value: string): string | undefined {
  let literal = '';
  for (let i = 0; i < value.length; i += 1) {
    const char = value.charAt(i);
    if (char === '\\') {
      i += 1;
      literal += value.charAt(i);
    } else if (GLOB_CHARS.test(char)) return undefined;
    else literal += char;
  }
  return literal;
}

/** True for an Argo CD regular-expression entry (`/.../`), as `sourceNamespaces` accept. */
function isRegex(value: string): boolean {
  return value.length >= 2 && value.startsWith('/') && value.endsWith('/');
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
      out.push(violation('TG-REQ-01', at, () => `is ${show(value)}, not a string`));
      continue;
    }
    named += 1;
    if (hasGlob(value)) {
      out.push(
        violation(
          'TG-PRJ-01',
          at,
          `${show(value)} holds glob characters (* ? [ ] { } !); name one of tenant "${tenant.name}"'s clusters exactly`,
        ),
      );
      continue;
    }
    const why = explainForeignTarget(tenant, field, value);
    if (why !== undefined) out.push(violation('TG-PRJ-01', at, () => `${show(value)} ${why}`));
  }
  if (named === 0 && out.length === 0) {
    out.push(
      violation(
        'TG-PRJ-01',
        path,
        `names no cluster; set server or name to one of tenant "${tenant.name}"'s clusters`,
      ),
    );
  }
  return out;
}

/**
 * `check` on every entry of `spec.destinations` (as many as the object-node limit lets in),
 * after the TG-REQ-01 shape checks: a list, of objects.
 */
function eachDestination(
  spec: Record<string, unknown>,
  check: (entry: Record<string, unknown>, path: string) => Violation[],
): Violation[] {
  const raw = spec.destinations;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw))
    return [violation('TG-REQ-01', 'spec.destinations', `is ${show(raw)}, not a list`)];
  // One line for the findings past the request's budget, not one stand-in each.
  return listUnbuilt(
    raw.flatMap((entry: unknown, i) => {
      const path = joinPath('spec.destinations', i);
      if (!isRecord(entry)) return [violation('TG-REQ-01', path, () => `is ${show(entry)}, not an object`)];
      return check(entry, path);
    }),
  );
}

function checkDestinations(spec: Record<string, unknown>, tenant: Tenant): Violation[] {
  return eachDestination(spec, (entry, path) => checkEntry(entry, path, tenant));
}

function checkSourceNamespaces(spec: Record<string, unknown>, tenant: Tenant): Violation[] {
  const raw = spec.sourceNamespaces;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw))
    return [violation('TG-REQ-01', 'spec.sourceNamespaces', `is ${show(raw)}, not a list`)];
  const allowed =
    tenant.namespaces.length === 0 ? '(tenant has no namespaces)' : tenant.namespaces.join(', ');
  const found = raw.flatMap((ns: unknown, i) => {
    const path = joinPath('spec.sourceNamespaces', i);
    if (typeof ns !== 'string') return [violation('TG-REQ-01', path, () => `is ${show(ns)}, not a string`)];
    if (isRegex(ns))
      return [
        violation(
          'TG-PRJ-01',
          path,
          () =>
            `${show(ns)} is a regular expression; list tenant "${tenant.name}"'s namespaces exactly: ${allowed}`,
        ),
      ];
    if (hasGlob(ns))
      return [
        violation(
          'TG-PRJ-01',
          path,
          () =>
            `${show(ns)} holds glob characters (* ? [ ] { } !); list tenant "${tenant.name}"'s namespaces exactly: ${allowed}`,
        ),
      ];
    if (!tenant.namespaces.includes(ns))
      return [
        violation(
          'TG-PRJ-01',
          path,
          () => `${show(ns)} is not a namespace of tenant "${tenant.name}"; use one of: ${allowed}`,
        ),
      ];
    return [];
  });
  return listUnbuilt(found);
}

/**
 * TG-PRJ-02 for a project no tenant lists: no literal destination entry names a tenant's
 * cluster, escaped characters read as Argo CD's glob library reads them (`k8s-team-\b-dev`
 * is `k8s-team-b-dev`). A glob names none (argocd-server creates `default` with `*` at
 * start); what Applications in such a project target is TG-APP-02's to guard.
 */
function checkPlatformDestinations(spec: Record<string, unknown>, context: PolicyContext): Violation[] {
  return eachDestination(spec, (entry, path) =>
    (['server', 'name'] as const).flatMap((field) => {
      const value = entry[field];
      const literal = typeof value === 'string' && value !== '' ? globLiteral(value) : undefined;
      if (literal === undefined) return [];
      const owned =
        field === 'name'
          ? context.registry.clusterByName(literal)
          : context.registry.clusterByServer(literal);
      if (owned === undefined) return [];
      return [
        violation(
          'TG-PRJ-02',
          `${path}.${field}`,
          `${show(value)} is cluster "${owned.cluster.name}" of tenant "${owned.tenant.name}"; a project no tenant lists (a platform project) may not name a tenant's cluster: remove the entry, or use a project of tenant "${owned.tenant.name}": ${owned.tenant.projects.join(', ')}`,
        ),
      ];
    }),
  );
}

/** The who-may clauses of TG-PRJ-01 and TG-PRJ-02: only platform admins and trusted service accounts write projects. */
function checkWhoMay(scope: RuleScope): Violation[] {
  const { request, role, context } = scope;
  if (role !== 'human' || request.operation === 'CONNECT') return [];
  const subject = request.operation === 'CREATE' ? request.object : request.oldObject;
  if (subject === undefined) return [];
  const tenant = listingTenant(subject, context);
  const verb =
    request.operation === 'CREATE' ? 'create' : request.operation === 'DELETE' ? 'delete' : 'change';
  const name = show(request.name === '' ? getPath(subject, ['metadata', 'name']) : request.name);
  const who = `user "${request.user.username}" may not ${verb} it: only platform admins and the trusted service accounts may`;
  if (tenant !== undefined)
    return [
      violation('TG-PRJ-01', 'metadata.name', `${name} is a project of tenant "${tenant.name}"; ${who}`),
    ];
  return [
    violation(
      'TG-PRJ-02',
      'metadata.name',
      `${name} is a project no tenant lists (a platform project); ${who}`,
    ),
  ];
}

/**
 * Rules for `argoproj.io/v1alpha1` AppProject. The tenant of a project is the tenant listing
 * it in `spec.projects`, nothing else; a listed project's destinations are checked against
 * that tenant (TG-PRJ-01), an unlisted one's against every tenant (TG-PRJ-02).
 */
export const appProjectRules: KindRules = {
  kind: 'AppProject',

  namedTenant: listingTenant,

  tenantIsNamedOnly: true,

  hasMaterialChange(oldObject, newObject) {
    return JSON.stringify(getPath(oldObject, ['spec'])) !== JSON.stringify(getPath(newObject, ['spec']));
  },

  mutate() {
    // Nothing to add: a project's destinations are written by the platform.
  },

  whoMay: checkWhoMay,

  validate(scope: RuleScope): Findings {
    const { request, context } = scope;
    if (request.operation === 'DELETE' || request.operation === 'CONNECT' || request.object === undefined)
      return { violations: [], warnings: [] };
    const subject = request.object;
    const spec = getPath(subject, ['spec']);
    if (spec === undefined || spec === null) return { violations: [], warnings: [] };
    if (!isRecord(spec))
      return {
        violations: [violation('TG-REQ-01', 'spec', `is ${show(spec)}, not an object`)],
        warnings: [],
      };
    const tenant = listingTenant(subject, context);
    if (tenant === undefined) return { violations: checkPlatformDestinations(spec, context), warnings: [] };
    return {
      violations: [...checkDestinations(spec, tenant), ...checkSourceNamespaces(spec, tenant)],
      warnings: [],
    };
  },
};
