/**
 * The watched registry rebuilt from the Tenants as they are now, without letting any claim
 * (a cluster's name, server, audience or subject, a namespace, a project) move from the
 * Tenant that holds it to another, unless the holder lets go of it: its valid current version
 * no longer lists it, or it is deleted. SPEC section 2: the Tenant created first keeps a
 * claim; section 4: a cluster moves between tenants only as a platform operation. Pure.
 *
 * - A Tenant accepted before whose current version is invalid keeps its last accepted
 *   version, claims and all (a typo must not hand its clusters to a newer Tenant).
 * - A Tenant accepted before whose edit takes a claim another Tenant holds is refused: it
 *   keeps its last accepted version, and its status names the holder. This holds whatever
 *   the creation times (two created in the same second: the holder keeps it).
 * - Any Tenant accepted before that the build still rejects keeps its last version too, a
 *   few rounds at most; past them nothing changes at all (the previous registry stands).
 *
 * Red-team reviews found each of these moving a cluster: an invalid older Tenant dropped
 * whole, an edit refused only once another was kept, and two Tenants of the same second.
 */
import { buildRegistry, type TenantRegistry, type TenantRejection } from './registry.js';
import { CLUSTER_CLAIMS, type Tenant } from './tenant.js';

/** Rounds of the build at most before the previous registry stands as it was. */
const MAX_ROUNDS = 8;

const REASONS: Record<string, TenantRejection['reason']> = {
  name: 'ClusterNameConflict',
  server: 'ClusterServerConflict',
  audience: 'AudienceConflict',
  subject: 'SubjectConflict',
  namespace: 'NamespaceConflict',
  project: 'ProjectConflict',
};

/** Every claim of a Tenant, as `kind` and `key`. */
function claimsOf(tenant: Tenant): Array<{ kind: string; key: string }> {
  const out: Array<{ kind: string; key: string }> = [];
  for (const c of tenant.clusters)
    for (const claim of CLUSTER_CLAIMS) out.push({ kind: claim.field, key: claim.key(c) });
  for (const ns of tenant.namespaces) out.push({ kind: 'namespace', key: ns });
  for (const p of tenant.projects) out.push({ kind: 'project', key: p });
  return out;
}

const id = (c: { kind: string; key: string }): string => `${c.kind}\u0000${c.key}`;

/** See the file comment. `invalid`: the Tenants whose current version does not parse, by name. */
export function buildWithLastAccepted(
  tenants: readonly Tenant[],
  invalid: ReadonlyMap<string, string>,
  previous: TenantRegistry | undefined,
): { registry: TenantRegistry; rejections: TenantRejection[] } {
  if (previous === undefined) return buildRegistry(tenants);
  const incumbent = (name: string): boolean => previous.tenant(name) !== undefined;
  const current = new Map(tenants.map((t) => [t.name, t]));
  // Who holds what: the previous holders, less what a holder's valid version let go of.
  const held = new Map<string, string>();
  for (const holder of previous.tenants) {
    const now = current.get(holder.name);
    if (now === undefined && !invalid.has(holder.name)) continue;
    const still = now === undefined ? undefined : new Set(claimsOf(now).map(id));
    for (const c of claimsOf(holder))
      if (still === undefined || still.has(id(c))) held.set(id(c), holder.name);
  }
  const kept = new Map<string, Tenant>();
  const refused: TenantRejection[] = [];
  const keep = (name: string): void => {
    const last = previous.tenant(name);
    if (last !== undefined) kept.set(name, last);
  };
  for (const name of invalid.keys()) keep(name);
  for (const tenant of tenants) {
    if (!incumbent(tenant.name) || kept.has(tenant.name)) continue;
    const taken = claimsOf(tenant).find((c) => {
      const holder = held.get(id(c));
      return holder !== undefined && holder !== tenant.name;
    });
    if (taken === undefined) continue;
    keep(tenant.name);
    refused.push({
      tenant: tenant.name,
      reason: REASONS[taken.kind] ?? 'ClusterNameConflict',
      message: `${taken.kind} "${taken.key}" is held by tenant "${held.get(id(taken))}"; this edit is refused and the last accepted version stays in force until that tenant no longer lists it`,
    });
  }
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const built = buildRegistry([...tenants.filter((t) => !kept.has(t.name)), ...kept.values()], incumbent);
    const more = built.rejections.filter((r) => incumbent(r.tenant) && !kept.has(r.tenant));
    if (more.length === 0) return { registry: built.registry, rejections: [...refused, ...built.rejections] };
    for (const r of more) keep(r.tenant);
    refused.push(...more);
  }
  return { registry: previous, rejections: refused };
}
