/**
 * The Application rules (SPEC section 5): TG-APP-01 (project), TG-APP-02 (destination),
 * TG-APP-03 (who may point an Application at an ApplicationSet), TG-APP-04 (what a sync a
 * human starts deploys, and who writes status: application-sync.ts) and TG-APP-05 (the
 * tenant's repositories: application-repos.ts).
 * These are the authoritative check: every Application an ApplicationSet renders passes
 * here too. Pure.
 */
import { applicationSetControllerUser } from '../settings.js';
import type { Tenant } from '../tenancy/tenant.js';
import { explainForeignTarget, explainPlatformTarget, type DestinationField } from './destination.js';
import { getLabels, getPath, getRecord, show } from './object-paths.js';
import { isRecord, sameJson } from '../json.js';
import { checkHydratorSources, checkSyncInputs } from './application-sync.js';
import { checkRepositories } from './application-repos.js';
import type { Findings, KindRules, KubeObject, PolicyContext, RuleScope, Violation } from './types.js';
import { violation } from './types.js';

const DESTINATION = 'spec.destination';

/** TG-APP-01: a tenant's Application uses one of the tenant's projects. */
function checkProject(object: KubeObject, tenant: Tenant | undefined): Violation[] {
  // A platform object names no tenant-listed project, or it would have resolved to that tenant.
  if (tenant === undefined) return [];
  const project = getPath(object, ['spec', 'project']);
  if (typeof project === 'string' && tenant.projects.includes(project)) return [];
  const found =
    project === undefined || project === ''
      ? 'is empty'
      : `${show(project)} is not a project of tenant "${tenant.name}"`;
  return [violation('TG-APP-01', 'spec.project', `${found}; use one of: ${tenant.projects.join(', ')}`)];
}

/** A destination field as set: undefined when absent or empty (Argo CD's omitempty). */
function readField(
  destination: Record<string, unknown>,
  field: DestinationField,
): { value: string | undefined; bad: unknown } {
  const raw = destination[field];
  if (raw === undefined || raw === null || raw === '') return { value: undefined, bad: undefined };
  if (typeof raw === 'string') return { value: raw, bad: undefined };
  return { value: undefined, bad: raw };
}

/** TG-APP-02: exactly one of server and name, a cluster of the tenant, never the control plane. */
function checkDestination(
  object: KubeObject,
  tenant: Tenant | undefined,
  context: PolicyContext,
): Violation[] {
  const raw = getPath(object, ['spec', 'destination']);
  if (raw !== undefined && !isRecord(raw))
    return [violation('TG-REQ-01', DESTINATION, `is ${show(raw)}, not an object with server or name`)];
  const destination = raw ?? {};
  const out: Violation[] = [];
  const fields: Array<[DestinationField, string]> = [];
  for (const field of ['server', 'name'] as const) {
    const { value, bad } = readField(destination, field);
    if (bad !== undefined)
      out.push(violation('TG-REQ-01', `${DESTINATION}.${field}`, `is ${show(bad)}, not a string`));
    if (value !== undefined) fields.push([field, value]);
  }
  if (out.length > 0) return out;
  if (fields.length === 0) {
    return [
      violation(
        'TG-APP-02',
        DESTINATION,
        'sets neither server nor name; set exactly one of them to a cluster of the tenant',
      ),
    ];
  }
  if (fields.length === 2) {
    out.push(
      violation(
        'TG-APP-02',
        DESTINATION,
        `sets both server ${show(destination.server)} and name ${show(destination.name)}; set exactly one of them`,
      ),
    );
  }
  for (const [field, value] of fields) {
    const why =
      tenant === undefined
        ? explainPlatformTarget(field, value, context.registry)
        : explainForeignTarget(tenant, field, value);
    if (why !== undefined)
      out.push(violation('TG-APP-02', `${DESTINATION}.${field}`, `${show(value)} ${why}`));
  }
  return out;
}

/** The fields that make an ownerReference the same reference (not `blockOwnerDeletion`). */
const REFERENCE_FIELDS = ['apiVersion', 'kind', 'name', 'uid', 'controller'] as const;

/** The controller ownerReferences of an object that point at an ApplicationSet. */
function appSetControllerRefs(
  object: KubeObject | undefined,
): Array<{ index: number; ref: Record<string, unknown> }> {
  const refs = getPath(object, ['metadata', 'ownerReferences']);
  if (!Array.isArray(refs)) return [];
  return refs.flatMap((ref: unknown, index) => {
    if (!isRecord(ref) || ref.kind !== 'ApplicationSet' || ref.controller !== true) return [];
    const apiVersion = typeof ref.apiVersion === 'string' ? ref.apiVersion : '';
    return apiVersion.startsWith('argoproj.io/') ? [{ index, ref }] : [];
  });
}

const sameReference = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  REFERENCE_FIELDS.every((f) => a[f] === b[f]);

/**
 * TG-APP-03: a controller ownerReference to an ApplicationSet is added or changed only by
 * the ApplicationSet controller or a platform admin (the bypass is evaluate's); removing
 * one is allowed. The ApplicationSet controller prunes the Applications it controls and
 * the garbage collector deletes them with their ApplicationSet, so pointing another's
 * Application at an ApplicationSet one controls would let one delete it.
 */
function checkOwnerReference(scope: RuleScope): Violation[] {
  const { request, context } = scope;
  if (request.operation === 'DELETE' || request.operation === 'CONNECT') return [];
  const controller = applicationSetControllerUser(context.settings);
  if (request.user.username === controller) return [];
  const before =
    request.operation === 'UPDATE' ? appSetControllerRefs(request.oldObject).map((r) => r.ref) : [];
  return appSetControllerRefs(request.object).flatMap(({ index, ref }) => {
    if (before.some((b) => sameReference(b, ref))) return [];
    const verb = request.operation === 'UPDATE' && before.length > 0 ? 'changes' : 'adds';
    return [
      violation(
        'TG-APP-03',
        `metadata.ownerReferences[${index}]`,
        `${verb} a controller reference to ApplicationSet ${show(ref.name)}; only the ApplicationSet controller ("${controller}") and platform admins may set it (removing one is allowed)`,
      ),
    ];
  });
}

/**
 * Rules for `argoproj.io/v1alpha1` Application. The tenant named by an Application is the
 * tenant listing its literal `spec.project`. On DELETE only the ownership rules (evaluate's)
 * apply: removing an Application never widens what a tenant can reach.
 */
export const applicationRules: KindRules = {
  kind: 'Application',

  namedTenant(object, context) {
    const project = getPath(object, ['spec', 'project']);
    return typeof project === 'string' && project !== ''
      ? context.registry.tenantByProject(project)
      : undefined;
  },

  hasMaterialChange(oldObject, newObject, context) {
    const label = context.settings.tenantLabel;
    return (
      !sameJson(getPath(oldObject, ['spec']), getPath(newObject, ['spec'])) ||
      getLabels(oldObject)[label] !== getLabels(newObject)[label]
    );
  },

  mutate() {
    // Nothing beyond the tenant label, which evaluate's mutate adds for every kind.
  },

  whoMay: (scope) => [...checkOwnerReference(scope), ...checkSyncInputs(scope)],

  validate(scope: RuleScope): Findings {
    const { request, tenant, context } = scope;
    if (request.operation === 'DELETE' || request.operation === 'CONNECT')
      return { violations: [], warnings: [] };
    const object = request.object;
    if (object === undefined) return { violations: [], warnings: [] };
    if (getRecord(object, ['spec']) === undefined) {
      return {
        violations: [
          violation(
            'TG-REQ-01',
            'spec',
            `is ${show(getPath(object, ['spec']))}; an Application needs a spec with project and destination`,
          ),
        ],
        warnings: [],
      };
    }
    return {
      violations: [
        ...checkProject(object, tenant),
        ...checkDestination(object, tenant, context),
        ...checkRepositories(object, tenant),
        ...checkHydratorSources(object),
      ],
      warnings: [],
    };
  },
};
