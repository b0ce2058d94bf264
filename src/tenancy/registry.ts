/**
 * The tenant registry: an immutable, indexed snapshot of accepted Tenants (lookups by name,
 * namespace, project, cluster name and normalised server), built by settling claims that span
 * Tenants (the oldest Tenant keeps a contested claim; the other is rejected whole). The file
 * and watch sources (file-registry.ts, watch-source.ts) provide it through RegistryProvider.
 */
import { TenantGuardError } from '../errors.js';
import { connectedServerUrl } from './cluster-url.js';
import { CLUSTER_CLAIMS, type ClusterClaim, type Tenant, type TenantCluster } from './tenant.js';
import { nameFirstAndCount, quoteValue, type MessageItem } from './verdict-message.js';

/** A cluster with the tenant that owns it. */
export interface OwnedCluster {
  readonly tenant: Tenant;
  readonly cluster: TenantCluster;
}

/** Why a Tenant was left out of the registry (written to its status when watched). */
export interface TenantRejection {
  readonly tenant: string;
  readonly reason:
    | 'ClusterNameConflict'
    | 'ClusterServerConflict'
    | 'AudienceConflict'
    | 'SubjectConflict'
    | 'NamespaceConflict'
    | 'ProjectConflict'
    | 'DuplicateTenant';
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
  /**
   * The longest cluster name and server key held: a longer value cannot match, so it is not
   * looked up (hashing a key reads all of it, and the rules look up every string of a list
   * generator, long values included).
   */
  private longestClusterName = 0;
  private longestServerKey = 0;

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
        this.longestClusterName = Math.max(this.longestClusterName, cluster.name.length);
        this.longestServerKey = Math.max(this.longestServerKey, cluster.serverKey.length);
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
    return name.length > this.longestClusterName ? undefined : this.byClusterName.get(name);
  }

  /**
   * The cluster registered at `server` in any spelling: normalised as `serverKey` and without
   * user info, query or fragment, which change what is sent, not where (a registered server
   * carries none of them). This answers whose a server is, and so what a rule denies: a
   * platform object or another tenant naming `https://x@team-b-dev.example.com` names
   * team-b's cluster, as TG-CS-08 already read it (a red-team review found the platform
   * target check reading it as no cluster). Whether a tenant's own destination is one of its
   * clusters stays a comparison of `serverKey`s, which keeps those parts: Argo CD looks a
   * cluster up by its text, and another text is not the tenant's cluster Secret.
   */
  clusterByServer(server: string): OwnedCluster | undefined {
    const key = connectedServerUrl(server) ?? server.trim();
    return key.length > this.longestServerKey ? undefined : this.byServer.get(key);
  }

  /** A cluster by Argo CD name or by server URL. */
  clusterByNameOrServer(value: string): OwnedCluster | undefined {
    return this.clusterByName(value) ?? this.clusterByServer(value);
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

/**
 * Oldest first; of two created in the same second (the resolution of creationTimestamp), the
 * one already accepted (`incumbent`), then by name. Tenants without a creation time keep
 * their given order, after dated ones.
 */
function byAge(tenants: readonly Tenant[], incumbent: (name: string) => boolean): Tenant[] {
  return tenants
    .map((t, i) => ({ t, i }))
    .sort((a, b) => {
      const ta =
        a.t.creationTimestamp === undefined ? Number.POSITIVE_INFINITY : Date.parse(a.t.creationTimestamp);
      const tb =
        b.t.creationTimestamp === undefined ? Number.POSITIVE_INFINITY : Date.parse(b.t.creationTimestamp);
      if (ta !== tb) return ta < tb ? -1 : 1;
      if (
        a.t.creationTimestamp === b.t.creationTimestamp &&
        a.t.name !== b.t.name &&
        a.t.creationTimestamp !== undefined
      ) {
        // A GitOps sync creates many Tenants within one second: a newcomer must not evict
        // the one that holds a claim because its name sorts first (a red-team review).
        const held = Number(incumbent(b.t.name)) - Number(incumbent(a.t.name));
        if (held !== 0) return held;
        return a.t.name < b.t.name ? -1 : 1;
      }
      return a.i - b.i;
    })
    .map((x) => x.t);
}

const CLAIM_REASONS: Record<ClusterClaim['field'], TenantRejection['reason']> = {
  name: 'ClusterNameConflict',
  server: 'ClusterServerConflict',
  audience: 'AudienceConflict',
  subject: 'SubjectConflict',
};

/** Who holds a claim: the tenant and the field of its spec. */
interface Holder {
  readonly tenant: string;
  readonly field: string;
  readonly note: string;
}

/**
 * Settles what spans Tenants: a cluster name, a server (normalised), an audience or a subject
 * (defaults applied), a namespace or a project claimed twice (SPEC section 2). The Tenant
 * created first keeps the claim; the other is left out whole and its rejection names every
 * claim it lost, the field, and the Tenant holding it.
 */
export function buildRegistry(
  tenants: readonly Tenant[],
  incumbent: (name: string) => boolean = () => false,
): {
  registry: TenantRegistry;
  rejections: TenantRejection[];
} {
  const accepted: Tenant[] = [];
  const rejections: TenantRejection[] = [];
  const names = new Set<string>();
  const clusterClaims = new Map<ClusterClaim['field'], Map<string, Holder>>(
    CLUSTER_CLAIMS.map((c) => [c.field, new Map()]),
  );
  const namespaces = new Map<string, Holder>();
  const projects = new Map<string, Holder>();
  for (const tenant of byAge(tenants, incumbent)) {
    if (names.has(tenant.name)) {
      rejections.push({
        tenant: tenant.name,
        reason: 'DuplicateTenant',
        message: `Tenant "${tenant.name}" is defined twice`,
      });
      continue;
    }
    const conflicts: Array<{ reason: TenantRejection['reason'] } & MessageItem> = [];
    const heldBy = (h: Holder): string => `held by tenant "${h.tenant}"`;
    for (const [i, c] of tenant.clusters.entries()) {
      for (const claim of CLUSTER_CLAIMS) {
        const holder = clusterClaims.get(claim.field)?.get(claim.key(c));
        if (holder === undefined) continue;
        const what = claim.what === 'cluster name' ? 'cluster' : claim.what;
        conflicts.push({
          reason: CLAIM_REASONS[claim.field],
          text: `spec.clusters[${i}].${claim.field}: ${what} ${quoteValue(claim.shown(c))} is already claimed by tenant "${holder.tenant}" (${holder.field}${holder.note}); ${claim.field === 'name' || claim.field === 'server' ? 'a cluster belongs to one tenant' : `each cluster needs its own ${claim.what}`}`,
          noun: [claim.what, `${claim.what}s`],
          where: heldBy(holder),
        });
      }
    }
    for (const [i, ns] of tenant.namespaces.entries()) {
      const holder = namespaces.get(ns);
      if (holder !== undefined)
        conflicts.push({
          reason: 'NamespaceConflict',
          text: `spec.namespaces[${i}]: namespace "${ns}" is already owned by tenant "${holder.tenant}" (${holder.field}); a namespace belongs to one tenant`,
          noun: ['namespace', 'namespaces'],
          where: heldBy(holder),
        });
    }
    for (const [i, p] of tenant.projects.entries()) {
      const holder = projects.get(p);
      if (holder !== undefined)
        conflicts.push({
          reason: 'ProjectConflict',
          text: `spec.projects[${i}]: project ${quoteValue(p)} is already listed by tenant "${holder.tenant}" (${holder.field}); a project belongs to one tenant`,
          noun: ['project', 'projects'],
          where: heldBy(holder),
        });
    }
    const first = conflicts[0];
    if (first !== undefined) {
      // The first few lost claims in full and a count of the rest (verdict-message.ts).
      rejections.push({ tenant: tenant.name, reason: first.reason, message: nameFirstAndCount(conflicts) });
      continue;
    }
    accepted.push(tenant);
    names.add(tenant.name);
    for (const [i, c] of tenant.clusters.entries()) {
      for (const claim of CLUSTER_CLAIMS)
        clusterClaims.get(claim.field)?.set(claim.key(c), {
          tenant: tenant.name,
          field: `spec.clusters[${i}].${claim.field}`,
          note: claim.note(c),
        });
    }
    tenant.namespaces.forEach((ns, i) =>
      namespaces.set(ns, { tenant: tenant.name, field: `spec.namespaces[${i}]`, note: '' }),
    );
    tenant.projects.forEach((p, i) =>
      projects.set(p, { tenant: tenant.name, field: `spec.projects[${i}]`, note: '' }),
    );
  }
  return { registry: new TenantRegistry(accepted), rejections };
}

/**
 * Builds a registry that must hold every Tenant given (the file-backed case).
 * @throws TenantGuardError ERR_TENANT_CONFLICT naming each Tenant and field in conflict.
 */
export function buildStrictRegistry(tenants: readonly Tenant[], source: string): TenantRegistry {
  const { registry, rejections } = buildRegistry(tenants);
  if (rejections.length > 0) {
    throw new TenantGuardError(
      'ERR_TENANT_CONFLICT',
      `${source}: ${rejections.map((r) => `Tenant "${r.tenant}" ${r.message}`).join('; ')}`,
    );
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
