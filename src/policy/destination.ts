/**
 * Destination helpers shared by the Application (TG-APP-02) and AppProject (TG-PRJ-01) rules:
 * is a literal cluster name or server one of a tenant's clusters, the control plane, or
 * another tenant's cluster. Pure.
 */
import type { TenantRegistry } from '../tenancy/registry.js';
import type { Tenant, TenantCluster } from '../tenancy/tenant.js';
import { isControlPlaneTarget, serverKey } from '../tenancy/cluster-url.js';

/** The tenant's cluster with exactly this Argo CD name. */
export function tenantClusterByName(tenant: Tenant, name: string): TenantCluster | undefined {
  return tenant.clusters.find((c) => c.name === name);
}

/** The tenant's cluster whose server equals this one, compared normalised (see `serverKey`). */
export function tenantClusterByServer(tenant: Tenant, server: string): TenantCluster | undefined {
  const key = serverKey(server);
  return tenant.clusters.find((c) => c.serverKey === key);
}

/**
 * `text` built once per tenant, not per call: a message may list a tenant's clusters in
 * every one of thousands of findings. A Tenant is immutable, and the cache holds it weakly.
 */
export function oncePerTenant(text: (tenant: Tenant) => string): (tenant: Tenant) => string {
  const cache = new WeakMap<Tenant, string>();
  return (tenant) => {
    let found = cache.get(tenant);
    if (found === undefined) {
      found = text(tenant);
      cache.set(tenant, found);
    }
    return found;
  };
}

/** `k8s-team-a-dev, k8s-team-a-prod`, or a note that the tenant has none. */
export const listClusterNames = oncePerTenant((t) =>
  t.clusters.length === 0 ? '(tenant has no clusters)' : t.clusters.map((c) => c.name).join(', '),
);

/** `https://a.example.com, https://b.example.com`, or a note that the tenant has none. */
export const listClusterServers = oncePerTenant((t) =>
  t.clusters.length === 0 ? '(tenant has no clusters)' : t.clusters.map((c) => c.server).join(', '),
);

/** Which field of a destination names the cluster. */
export type DestinationField = 'name' | 'server';

/**
 * Why a literal destination `name` or `server` is not one of the tenant's clusters, or
 * undefined when it is. The control plane is always refused.
 */
export function explainForeignTarget(
  tenant: Tenant,
  field: DestinationField,
  value: string,
): string | undefined {
  if (isControlPlaneTarget(value))
    return `is the control plane; tenant "${tenant.name}" may target only its own clusters: ${listFor(tenant, field)}`;
  const own = field === 'name' ? tenantClusterByName(tenant, value) : tenantClusterByServer(tenant, value);
  if (own !== undefined) return undefined;
  // Which other tenant owns it is not said: one tenant need not learn another's clusters.
  return `is not a cluster of tenant "${tenant.name}"; use one of: ${listFor(tenant, field)}`;
}

/**
 * Why a platform object's literal destination is refused (it targets some tenant's cluster),
 * or undefined. The control plane is allowed for platform objects.
 */
export function explainPlatformTarget(
  field: DestinationField,
  value: string,
  registry: TenantRegistry,
): string | undefined {
  const owned = field === 'name' ? registry.clusterByName(value) : registry.clusterByServer(value);
  if (owned === undefined) return undefined;
  return `is cluster "${owned.cluster.name}" of tenant "${owned.tenant.name}"; an object of no tenant (a platform object) may not target a tenant's cluster; label it "${owned.tenant.name}" and use one of its projects: ${owned.tenant.projects.join(', ')}`;
}

function listFor(tenant: Tenant, field: DestinationField): string {
  return field === 'name' ? listClusterNames(tenant) : listClusterServers(tenant);
}
