/**
 * Who owns an object and who asks (SPEC section 4): the tenant resolution order and the
 * ownership rules TG-OWN-01..03. Pure.
 */
import type { Settings, TrustScope } from '../settings.js';
import type { TenantRegistry } from '../tenancy/registry.js';
import type { Tenant } from '../tenancy/tenant.js';
import { getLabels, getPath, getString, show } from './object-paths.js';
import { isRecord, sameJson } from '../json.js';
import type {
  KindRules,
  KubeObject,
  PolicyContext,
  PolicyRequest,
  RequesterRole,
  UserInfo,
  Violation,
} from './types.js';
import { violation } from './types.js';

/** How the tenant of an object was told. */
export type TenantSource = 'namespace' | 'label' | 'named' | 'requester' | 'none';

export interface TenantResolution {
  readonly tenant: Tenant | undefined;
  readonly source: TenantSource;
  /** TG-OWN-01 findings met on the way (label against namespace, unknown tenant label). */
  readonly violations: Violation[];
  /** True for a kind whose tenant is only what it names (an AppProject: the tenant listing it). */
  readonly namedOnly?: boolean;
}

/**
 * Who a requester is by name alone: platform admin, system controller, trusted service
 * account (scoped or not), or human. `classifyRequester` narrows this by the request.
 */
export function requesterRole(user: UserInfo, settings: Settings): RequesterRole {
  if (user.groups.some((g) => settings.platformAdminGroups.includes(g))) return 'platform-admin';
  if (settings.systemControllers.includes(user.username)) return 'system-controller';
  if (settings.trustedServiceAccounts.some((a) => a.username === user.username))
    return 'trusted-service-account';
  return 'human';
}

/** How a request's requester is treated, and, for a listed account treated as a human, why. */
export interface Requester {
  readonly role: RequesterRole;
  /** Set when a system controller or scoped service account went beyond what it may do. */
  readonly beyond?: string;
}

/** Metadata the API server maintains on every write: no requester's change. */
const SERVER_METADATA: readonly string[] = ['resourceVersion', 'generation', 'managedFields'];

/** A shallow copy without the given top-level and metadata keys (and the server's metadata). */
function without(object: KubeObject, top: readonly string[], metadataKeys: readonly string[]): KubeObject {
  const copy: KubeObject = { ...object };
  for (const key of top) delete copy[key];
  if (isRecord(copy.metadata)) {
    const metadata = { ...copy.metadata };
    for (const key of [...SERVER_METADATA, ...metadataKeys]) delete metadata[key];
    copy.metadata = metadata;
  }
  return copy;
}

const SCOPE_FIELDS: Readonly<Record<TrustScope, { top: string[]; metadata: string[] }>> = {
  annotations: { top: [], metadata: ['annotations'] },
  finalizers: { top: [], metadata: ['finalizers'] },
  status: { top: ['status'], metadata: [] },
};

/** True for an UPDATE that changes only the fields of `scope`. */
function isWithinScope(request: PolicyRequest, scope: readonly TrustScope[]): boolean {
  if (request.operation !== 'UPDATE' || request.object === undefined || request.oldObject === undefined)
    return false;
  const top = scope.flatMap((s) => SCOPE_FIELDS[s].top);
  const metadata = scope.flatMap((s) => SCOPE_FIELDS[s].metadata);
  return sameJson(without(request.oldObject, top, metadata), without(request.object, top, metadata));
}

function listOf(object: KubeObject, key: string): unknown[] {
  const value = getPath(object, ['metadata', key]);
  return Array.isArray(value) ? value : [];
}

/** True when every entry of `after` is an entry of `before` (as a multiset): only removals. */
function onlyRemoves(
  before: unknown[],
  after: unknown[],
  same: (a: unknown, b: unknown) => boolean,
): boolean {
  const left = [...before];
  for (const entry of after) {
    const at = left.findIndex((b) => same(b, entry));
    if (at < 0) return false;
    left.splice(at, 1);
  }
  return true;
}

/**
 * The same ownerReference, or the garbage collector unblocking it: it may drop
 * `blockOwnerDeletion` (set it false), never set it.
 */
function sameOrUnblocked(before: unknown, after: unknown): boolean {
  if (!isRecord(before) || !isRecord(after)) return sameJson(before, after);
  const { blockOwnerDeletion: b1, ...restBefore } = before;
  const { blockOwnerDeletion: b2, ...restAfter } = after;
  return sameJson(restBefore, restAfter) && (b2 !== true || b1 === true);
}

/**
 * True for what a Kubernetes system controller may do (SPEC section 4): DELETE, or an
 * UPDATE that only removes finalizers or ownerReferences.
 */
export function isSystemControllerWrite(request: PolicyRequest): boolean {
  if (request.operation === 'DELETE') return true;
  if (request.operation !== 'UPDATE' || request.object === undefined || request.oldObject === undefined)
    return false;
  const rest = ['finalizers', 'ownerReferences'];
  if (!sameJson(without(request.oldObject, [], rest), without(request.object, [], rest))) return false;
  return (
    onlyRemoves(listOf(request.oldObject, 'finalizers'), listOf(request.object, 'finalizers'), sameJson) &&
    onlyRemoves(
      listOf(request.oldObject, 'ownerReferences'),
      listOf(request.object, 'ownerReferences'),
      sameOrUnblocked,
    )
  );
}

/**
 * How the requester of this request is treated (SPEC section 4, "who is who"): a system
 * controller or a scoped trusted service account that goes beyond what it may do is
 * treated as a human. Judge the request as sent (before /mutate's additions).
 */
export function classifyRequester(request: PolicyRequest, settings: Settings): Requester {
  const role = requesterRole(request.user, settings);
  if (role === 'system-controller') {
    if (isSystemControllerWrite(request)) return { role };
    return {
      role: 'human',
      beyond: 'a Kubernetes system controller may only delete, or remove finalizers or ownerReferences',
    };
  }
  if (role !== 'trusted-service-account') return { role };
  const account = settings.trustedServiceAccounts.find((a) => a.username === request.user.username);
  if (account?.scope === undefined || isWithinScope(request, account.scope)) return { role };
  return {
    role: 'human',
    beyond: `trusted service account "${account.username}" may change only ${account.scope.join(', ')}`,
  };
}

const LABELS_PATH = 'metadata.labels';

/**
 * Resolves the tenant of one object by the first rule of SPEC section 4 that applies:
 * namespace, tenant label, what it names, and (on CREATE by a human) the requester's groups.
 */
export function resolveTenant(
  object: KubeObject,
  namespace: string,
  rules: KindRules,
  context: PolicyContext,
  requester?: { user: UserInfo; role: RequesterRole; operation: PolicyRequest['operation'] },
): TenantResolution {
  const { registry, settings } = context;
  const violations: Violation[] = [];
  const labelPath = `${LABELS_PATH}[${JSON.stringify(settings.tenantLabel)}]`;
  const labelValue = getLabels(object)[settings.tenantLabel];
  if (rules.tenantIsNamedOnly === true) {
    const named = rules.namedTenant(object, context);
    if (labelValue !== undefined && labelValue !== named?.name) {
      const fix =
        named === undefined
          ? 'no tenant lists it, so it is a platform object; remove the label'
          : `set it to "${named.name}" or remove it`;
      violations.push(
        violation(
          'TG-OWN-01',
          labelPath,
          `${show(labelValue)} is not the tenant that lists this ${rules.kind}; ${fix}`,
        ),
      );
    }
    return { tenant: named, source: named === undefined ? 'none' : 'named', violations, namedOnly: true };
  }
  const byNamespace = namespace === '' ? undefined : registry.tenantByNamespace(namespace);
  if (byNamespace !== undefined) {
    if (labelValue !== undefined && labelValue !== byNamespace.name) {
      violations.push(
        violation(
          'TG-OWN-01',
          labelPath,
          `${show(labelValue)} disagrees with the tenant of namespace "${namespace}"; set it to "${byNamespace.name}" or remove it`,
        ),
      );
    }
    return { tenant: byNamespace, source: 'namespace', violations };
  }
  if (labelValue !== undefined) {
    const byLabel = registry.tenant(labelValue);
    if (byLabel !== undefined) return { tenant: byLabel, source: 'label', violations };
    violations.push(
      violation(
        'TG-OWN-01',
        labelPath,
        `${show(labelValue)} names no registered tenant; use one of: ${tenantNames(registry)}`,
      ),
    );
  }
  const named = rules.namedTenant(object, context);
  if (named !== undefined) return { tenant: named, source: 'named', violations };
  if (requester !== undefined && requester.operation === 'CREATE' && requester.role === 'human') {
    const owned = registry.tenantsOwnedBy(requester.user.username, requester.user.groups);
    if (owned.length === 1 && owned[0] !== undefined)
      return { tenant: owned[0], source: 'requester', violations };
  }
  return { tenant: undefined, source: 'none', violations };
}

function tenantNames(registry: TenantRegistry, limit = 10): string {
  const names = registry.tenants.slice(0, limit).map((t) => t.name);
  if (names.length === 0) return '(no tenants registered)';
  return registry.size > limit ? `${names.join(', ')}, ...` : names.join(', ');
}

/**
 * The ownership rules for a request whose tenant is resolved: TG-OWN-01 (tenant changes on
 * UPDATE), TG-OWN-02 (a human's object of no known tenant) and TG-OWN-03 (a human who does
 * not own the tenant). The platform-admin bypass is applied by the caller.
 */
export function checkOwnership(
  request: PolicyRequest,
  role: RequesterRole,
  subject: TenantResolution,
  updated: TenantResolution | undefined,
  context: PolicyContext,
  beyond?: string,
): Violation[] {
  const out: Violation[] = [...subject.violations];
  if (updated !== undefined) {
    for (const v of updated.violations)
      if (!out.some((o) => o.rule === v.rule && o.message === v.message)) out.push(v);
    if (updated.tenant?.name !== subject.tenant?.name && updated.tenant !== undefined) {
      const from = subject.tenant === undefined ? 'the platform' : `tenant "${subject.tenant.name}"`;
      out.push(
        violation(
          'TG-OWN-01',
          'metadata',
          `moves the object from ${from} to tenant "${updated.tenant.name}"; only a platform admin may move an object between tenants`,
        ),
      );
    } else if (updated.tenant === undefined && subject.tenant !== undefined) {
      out.push(
        violation(
          'TG-OWN-01',
          'metadata',
          `moves the object out of tenant "${subject.tenant.name}"; keep the tenant label "${context.settings.tenantLabel}: ${subject.tenant.name}"`,
        ),
      );
    }
  }
  if (role !== 'human') return out;
  const { registry, settings } = context;
  const user = request.user;
  if (subject.tenant === undefined) {
    const choices = registry.tenantsOwnedBy(user.username, user.groups).map((t) => t.name);
    const hint =
      subject.namedOnly === true
        ? `no tenant lists it: a platform admin adds it to a Tenant's spec.projects first`
        : choices.length > 0
          ? `set label "${settings.tenantLabel}" to one of: ${choices.join(', ')}`
          : `set label "${settings.tenantLabel}" to your tenant; user "${user.username}" owns no tenant`;
    const verb =
      request.operation === 'CREATE'
        ? 'belongs to no tenant'
        : `is a platform object; only platform admins and trusted service accounts may change or delete it${beyond === undefined ? '' : ` (${beyond})`}`;
    out.push(
      violation(
        'TG-OWN-02',
        `${LABELS_PATH}[${JSON.stringify(settings.tenantLabel)}]`,
        `is missing and the object ${verb}; ${hint}`,
      ),
    );
    return out;
  }
  if (!registry.isOwner(subject.tenant, user.username, user.groups)) {
    const ns = request.namespace === '' ? '' : ` in namespace "${request.namespace}"`;
    const why = beyond === undefined ? '' : ` (${beyond})`;
    out.push(
      violation(
        'TG-OWN-03',
        'metadata',
        `user "${user.username}" is not an owner of tenant "${subject.tenant.name}"${ns}${why}; ask a member of ${describeOwners(subject.tenant)}`,
      ),
    );
  }
  return out;
}

function describeOwners(tenant: Tenant): string {
  const parts = [
    ...tenant.owners.groups.map((g) => `group "${g}"`),
    ...tenant.owners.users.map((u) => `user "${u}"`),
  ];
  return parts.length > 0 ? parts.join(', ') : 'a platform-admin group';
}

/** True when the object is being deleted: its updates must never be blocked. */
export function isTerminating(object: KubeObject | undefined): boolean {
  return getString(object, ['metadata', 'deletionTimestamp']) !== undefined;
}
