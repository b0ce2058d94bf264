/**
 * Who owns an object and who asks (SPEC section 4): the tenant resolution order and the
 * ownership rules TG-OWN-01..03. Pure.
 */
import type { Settings } from '../settings.js';
import type { TenantRegistry } from '../tenancy/registry.js';
import type { Tenant } from '../tenancy/tenant.js';
import { getLabels, getString, show } from './object-paths.js';
import type { KindRules, KubeObject, PolicyContext, PolicyRequest, RequesterRole, UserInfo, Violation } from './types.js';
import { violation } from './types.js';

/** How the tenant of an object was told. */
export type TenantSource = 'namespace' | 'label' | 'named' | 'requester' | 'none';

export interface TenantResolution {
  readonly tenant: Tenant | undefined;
  readonly source: TenantSource;
  /** TG-OWN-01 findings met on the way (label against namespace, unknown tenant label). */
  readonly violations: Violation[];
}

/** Platform admin, trusted service account, or human (every other requester). */
export function requesterRole(user: UserInfo, settings: Settings): RequesterRole {
  if (user.groups.some((g) => settings.platformAdminGroups.includes(g))) return 'platform-admin';
  if (settings.trustedServiceAccounts.includes(user.username)) return 'trusted-service-account';
  return 'human';
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
  const byNamespace = namespace === '' ? undefined : registry.tenantByNamespace(namespace);
  if (byNamespace !== undefined) {
    if (labelValue !== undefined && labelValue !== byNamespace.name) {
      violations.push(violation('TG-OWN-01', labelPath, `${show(labelValue)} disagrees with the tenant of namespace "${namespace}"; set it to "${byNamespace.name}" or remove it`));
    }
    return { tenant: byNamespace, source: 'namespace', violations };
  }
  if (labelValue !== undefined) {
    const byLabel = registry.tenant(labelValue);
    if (byLabel !== undefined) return { tenant: byLabel, source: 'label', violations };
    violations.push(violation('TG-OWN-01', labelPath, `${show(labelValue)} names no registered tenant; use one of: ${tenantNames(registry)}`));
  }
  const named = rules.namedTenant(object, context);
  if (named !== undefined) return { tenant: named, source: 'named', violations };
  if (requester !== undefined && requester.operation === 'CREATE' && requester.role === 'human') {
    const owned = registry.tenantsOwnedBy(requester.user.username, requester.user.groups);
    if (owned.length === 1 && owned[0] !== undefined) return { tenant: owned[0], source: 'requester', violations };
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
): Violation[] {
  const out: Violation[] = [...subject.violations];
  if (updated !== undefined) {
    for (const v of updated.violations) if (!out.some((o) => o.message === v.message)) out.push(v);
    if (updated.tenant?.name !== subject.tenant?.name && updated.tenant !== undefined) {
      const from = subject.tenant === undefined ? 'the platform' : `tenant "${subject.tenant.name}"`;
      out.push(violation('TG-OWN-01', 'metadata', `moves the object from ${from} to tenant "${updated.tenant.name}"; only a platform admin may move an object between tenants`));
    } else if (updated.tenant === undefined && subject.tenant !== undefined) {
      out.push(violation('TG-OWN-01', 'metadata', `moves the object out of tenant "${subject.tenant.name}"; keep the tenant label "${context.settings.tenantLabel}: ${subject.tenant.name}"`));
    }
  }
  if (role !== 'human') return out;
  const { registry, settings } = context;
  const user = request.user;
  if (subject.tenant === undefined) {
    const choices = registry.tenantsOwnedBy(user.username, user.groups).map((t) => t.name);
    const hint = choices.length > 0 ? `set label "${settings.tenantLabel}" to one of: ${choices.join(', ')}` : `set label "${settings.tenantLabel}" to your tenant; user "${user.username}" owns no tenant`;
    const verb = request.operation === 'CREATE' ? 'belongs to no tenant' : 'is a platform object; only platform admins and trusted service accounts may change or delete it';
    out.push(violation('TG-OWN-02', `${LABELS_PATH}[${JSON.stringify(settings.tenantLabel)}]`, `is missing and the object ${verb}; ${hint}`));
    return out;
  }
  if (!registry.isOwner(subject.tenant, user.username, user.groups)) {
    const ns = request.namespace === '' ? '' : ` in namespace "${request.namespace}"`;
    out.push(violation('TG-OWN-03', 'metadata', `user "${user.username}" is not an owner of tenant "${subject.tenant.name}"${ns}; ask a member of ${describeOwners(subject.tenant)}`));
  }
  return out;
}

function describeOwners(tenant: Tenant): string {
  const parts = [...tenant.owners.groups.map((g) => `group "${g}"`), ...tenant.owners.users.map((u) => `user "${u}"`)];
  return parts.length > 0 ? parts.join(', ') : 'a platform-admin group';
}

/** True when the object is being deleted: its updates must never be blocked. */
export function isTerminating(object: KubeObject | undefined): boolean {
  return getString(object, ['metadata', 'deletionTimestamp']) !== undefined;
}
