import { TenantGuardError } from '../errors.js';
import { serverKey } from '../policy/cluster-url.js';
import type { Tenant, TenantCluster } from './tenant.js';

/** A cluster with the tenant that owns it. */
export interface OwnedCluster {
  readonly tenant: Tenant;
  readonly cluster: TenantCluster;
}

/** Why a Tenant was left out of the registry (written to its status when watched). */
export interface TenantRejection {
  readonly tenant: string;
  readonly reason: 'ClusterNameConflict' | 'ClusterServerConflict' | 'NamespaceConflict' | 'ProjectConflict' | 'DuplicateTenant';
  readonly message: string;
}

/**
 * An immutable, indexed snapshot of accepted Tenants. Every lookup is a map read: no I/O
 * on the request path. Build one with `buildRegistry`.
 */
export class TenantRegistry {
  readonly tenants: readonly Tenant[];
  private readonly byName = new Map<string, Tenant>();
  private readonly byNamespace = new Map<string, Tenant>();
  private readonly byProject = new Map<string, Tenant>();
  private readonly byClusterName = new Map<string, OwnedCluster>();
  private readonly byServer = new Map<string, OwnedCluster>();
  private readonly byGroup = new Map<string, Tenant[]>();
  private readonly byUser = new Map<string, Tenant[]>();

  /** Use `buildRegistry`, which settles conflicts first. */
  constructor(tenants: readonly Tenant[]) {
    this.tenants = tenants;
    for (const tenant of tenants) {
      this.byName.set(tenant.name, tenant);
      for (const ns of tenant.namespaces) this.byNamespace.set(ns, tenant);
      for (const p of tenant.projects) this.byProject.set(p, tenant);
      for (const cluster of tenant.clusters) {
        this.byClusterName.set(cluster.name, { tenant, cluster });
        this.byServer.set(cluster.serverKey, { tenant, cluster });
      }
      for (const g of tenant.owners.groups) pushTo(this.byGroup, g, tenant);
      for (const u of tenant.owners.users) pushTo(this.byUser, u, tenant);
    }
  }

  get size(): number {
    return this.tenants.length;
  }

  tenant(name: string): Tenant | undefined {
    return this.byName.get(name);
  }

  tenantByNamespace(namespace: string): Tenant | undefined {
    return this.byNamespace.get(namespace);
  }

  tenantByProject(project: string): Tenant | undefined {
    return this.byProject.get(project);
  }

  clusterByName(name: string): OwnedCluster | undefined {
    return this.byClusterName.get(name);
  }

  /** Looks a server up by its normalised URL. */
  clusterByServer(server: string): OwnedCluster | undefined {
    return this.byServer.get(serverKey(server));
  }

  /** A cluster by Argo CD name or by server URL. */
  clusterByNameOrServer(value: string): OwnedCluster | undefined {
    return this.byClusterName.get(value) ?? this.byServer.get(serverKey(value));
  }

  /** Tenants whose owners include the user or one of the groups, in registry order. */
  tenantsOwnedBy(username: string, groups: readonly string[]): Tenant[] {
    const found = new Set<Tenant>(this.byUser.get(username) ?? []);
    for (const g of groups) for (const t of this.byGroup.get(g) ?? []) found.add(t);
    return this.tenants.filter((t) => found.has(t));
  }

  /** True when the user or one of the groups owns the tenant. */
  isOwner(tenant: Tenant, username: string, groups: readonly string[]): boolean {
    return tenant.owners.users.includes(username) || groups.some((g) => tenant.owners.groups.includes(g));
  }
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** Oldest first; Tenants without a creation time keep their given order, after dated ones. */
function byAge(tenants: readonly Tenant[]): Tenant[] {
  return tenants
    .map((t, i) => ({ t, i }))
    .sort((a, b) => {
      const ta = a.t.creationTimestamp === undefined ? Number.POSITIVE_INFINITY : Date.parse(a.t.creationTimestamp);
      const tb = b.t.creationTimestamp === undefined ? Number.POSITIVE_INFINITY : Date.parse(b.t.creationTimestamp);
      if (ta !== tb) return ta < tb ? -1 : 1;
      if (a.t.creationTimestamp === b.t.creationTimestamp && a.t.name !== b.t.name && a.t.creationTimestamp !== undefined) return a.t.name < b.t.name ? -1 : 1;
      return a.i - b.i;
    })
    .map((x) => x.t);
}

/**
 * Settles what spans Tenants: a cluster name, a server (normalised), a namespace or a
 * project claimed twice. The Tenant created first keeps the claim; the other is left out
 * whole and its rejection says why.
 */
export function buildRegistry(tenants: readonly Tenant[]): { registry: TenantRegistry; rejections: TenantRejection[] } {
  const accepted: Tenant[] = [];
  const rejections: TenantRejection[] = [];
  const names = new Map<string, string>();
  const clusterNames = new Map<string, string>();
  const servers = new Map<string, string>();
  const namespaces = new Map<string, string>();
  const projects = new Map<string, string>();
  for (const tenant of byAge(tenants)) {
    const conflict = findConflict(tenant, { names, clusterNames, servers, namespaces, projects });
    if (conflict !== undefined) {
      rejections.push(conflict);
      continue;
    }
    accepted.push(tenant);
    names.set(tenant.name, tenant.name);
    for (const c of tenant.clusters) {
      clusterNames.set(c.name, tenant.name);
      servers.set(c.serverKey, tenant.name);
    }
    for (const ns of tenant.namespaces) namespaces.set(ns, tenant.name);
    for (const p of tenant.projects) projects.set(p, tenant.name);
  }
  return { registry: new TenantRegistry(accepted), rejections };
}

interface Claims {
  names: Map<string, string>;
  clusterNames: Map<string, string>;
  servers: Map<string, string>;
  namespaces: Map<string, string>;
  projects: Map<string, string>;
}

function findConflict(tenant: Tenant, claims: Claims): TenantRejection | undefined {
  const reject = (reason: TenantRejection['reason'], message: string): TenantRejection => ({ tenant: tenant.name, reason, message });
  if (claims.names.has(tenant.name)) return reject('DuplicateTenant', `Tenant "${tenant.name}" is defined twice`);
  for (const [i, c] of tenant.clusters.entries()) {
    const byName = claims.clusterNames.get(c.name);
    if (byName !== undefined) return reject('ClusterNameConflict', `spec.clusters[${i}].name: cluster "${c.name}" is already claimed by tenant "${byName}"`);
    const byServer = claims.servers.get(c.serverKey);
    if (byServer !== undefined) return reject('ClusterServerConflict', `spec.clusters[${i}].server: server "${c.server}" is already claimed by tenant "${byServer}"`);
  }
  for (const [i, ns] of tenant.namespaces.entries()) {
    const owner = claims.namespaces.get(ns);
    if (owner !== undefined) return reject('NamespaceConflict', `spec.namespaces[${i}]: namespace "${ns}" is already owned by tenant "${owner}"`);
  }
  for (const [i, p] of tenant.projects.entries()) {
    const owner = claims.projects.get(p);
    if (owner !== undefined) return reject('ProjectConflict', `spec.projects[${i}]: project "${p}" is already listed by tenant "${owner}"`);
  }
  return undefined;
}

/**
 * Builds a registry that must hold every Tenant given (the file-backed case).
 * @throws TenantGuardError ERR_TENANT_CONFLICT naming each Tenant and field in conflict.
 */
export function buildStrictRegistry(tenants: readonly Tenant[], source: string): TenantRegistry {
  const { registry, rejections } = buildRegistry(tenants);
  if (rejections.length > 0) {
    throw new TenantGuardError('ERR_TENANT_CONFLICT', `${source}: ${rejections.map((r) => `Tenant "${r.tenant}" ${r.message}`).join('; ')}`);
  }
  return registry;
}

/** Where the request path reads the current registry from; undefined until first synced. */
export interface RegistryProvider {
  current(): TenantRegistry | undefined;
}

/** A provider that always answers the same registry (file-backed, tests). */
export function staticRegistry(registry: TenantRegistry): RegistryProvider {
  return { current: () => registry };
}
