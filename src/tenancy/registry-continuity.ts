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
 *
 * What is in force outlives the process: the webhook writes the generation it serves of each
 * Tenant, and the claims that version holds, to the Tenant's `status.inForce`, and a
 * replica's first build continues from what those say (registry-in-force.ts). Before,
 * a replica started after a refused or invalid edit built from scratch: it handed the held
 * cluster to the other Tenant, or carried out the refused edit, while the running replicas
 * did not, and each decided the same request its own way (a red-team review).
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

/** A claim: a cluster's `name`, `server`, `audience` or `subject`, a `namespace` or a `project`. */
export interface Claim {
  readonly kind: string;
  readonly key: string;
}

/** Every claim of a Tenant, as `kind` and `key`. */
function claimsOf(tenant: Tenant): Claim[] {
  const out: Array<{ kind: string; key: string }> = [];
  for (const c of tenant.clusters)
    for (const claim of CLUSTER_CLAIMS) out.push({ kind: claim.field, key: claim.key(c) });
  for (const ns of tenant.namespaces) out.push({ kind: 'namespace', key: ns });
  for (const p of tenant.projects) out.push({ kind: 'project', key: p });
  return out;
}

const id = (c: { kind: string; key: string }): string => `${c.kind}\u0000${c.key}`;

/** What `buildWithLastAccepted` decided. */
export interface ContinuousBuild {
  readonly registry: TenantRegistry;
  readonly rejections: TenantRejection[];
  /** The Tenants served at their previous version, not their current one (by name). */
  readonly kept: ReadonlySet<string>;
  /** The withheld Tenants still out of the registry, with the claims they hold. */
  readonly withheld: ReadonlyMap<string, readonly Claim[]>;
}

/**
 * See the file comment. `invalid`: the Tenants whose current version does not parse, by
 * name; `previous`: the registry in force before; `withheldBefore`: Tenants in force on
 * replicas that ran before whose version in force this one cannot read back
 * (registry-in-force.ts), with the claims they hold. A withheld Tenant is served only at a
 * current version that is valid and takes no claim another holds; until then it is out of the
 * registry and its claims stay held against every other Tenant (fail closed: nothing moves).
 * Once it is deleted, it holds nothing.
 */
export function buildWithLastAccepted(
  tenants: readonly Tenant[],
  invalid: ReadonlyMap<string, string>,
  previous: TenantRegistry | undefined,
  withheldBefore: ReadonlyMap<string, readonly Claim[]> = new Map(),
): ContinuousBuild {
  const current = new Map(tenants.map((t) => [t.name, t]));
  // A withheld Tenant that is deleted (neither a current nor an invalid version) lets go of
  // its claims, as a deleted holder does below. Before, its claims stayed held for good: the
  // replica that withheld it refused a new Tenant listing them until it restarted, while a
  // replica started after the deletion accepted it (a red-team review).
  const withheld = new Map([...withheldBefore].filter(([name]) => current.has(name) || invalid.has(name)));
  if (previous === undefined && withheld.size === 0)
    return { ...buildRegistry(tenants), kept: new Set(), withheld: new Map() };
  const before = previous ?? buildRegistry([]).registry;
  const incumbent = (name: string): boolean => before.tenant(name) !== undefined || withheld.has(name);
  // Who holds what: the previous holders, less what a holder's valid version let go of; and
  // every claim a withheld Tenant holds.
  const held = new Map<string, string>();
  for (const holder of before.tenants) {
    const now = current.get(holder.name);
    if (now === undefined && !invalid.has(holder.name)) continue;
    const still = now === undefined ? undefined : new Set(claimsOf(now).map(id));
    for (const c of claimsOf(holder))
      if (still === undefined || still.has(id(c))) held.set(id(c), holder.name);
  }
  for (const [name, claims] of withheld) for (const c of claims) held.set(id(c), name);
  const kept = new Map<string, Tenant>();
  const out = new Set<string>();
  const refused: TenantRejection[] = [];
  const keep = (name: string): void => {
    const last = before.tenant(name);
    if (last !== undefined) kept.set(name, last);
    else out.add(name);
  };
  const refuse = (tenant: Tenant, taken: { kind: string; key: string }): void => {
    keep(tenant.name);
    refused.push({
      tenant: tenant.name,
      reason: REASONS[taken.kind] ?? 'ClusterNameConflict',
      message: `${taken.kind} "${taken.key}" is held by tenant "${held.get(id(taken))}"; this edit is refused and the last accepted version stays in force until that tenant no longer lists it`,
    });
  };
  // A withheld Tenant not current is invalid (the deleted ones are dropped above).
  for (const name of invalid.keys()) keep(name);
  for (const tenant of tenants) {
    if (kept.has(tenant.name) || out.has(tenant.name)) continue;
    const takes = (c: { kind: string; key: string }): boolean => {
      const holder = held.get(id(c));
      // A newcomer is judged by creation time in the build, except against a withheld
      // holder, which is not in the build.
      return (
        holder !== undefined && holder !== tenant.name && (incumbent(tenant.name) || withheld.has(holder))
      );
    };
    const taken = claimsOf(tenant).find(takes);
    if (taken !== undefined) refuse(tenant, taken);
  }
  const excluded = (t: Tenant): boolean => kept.has(t.name) || out.has(t.name);
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const built = buildRegistry([...tenants.filter((t) => !excluded(t)), ...kept.values()], incumbent);
    const more = built.rejections.filter(
      (r) => incumbent(r.tenant) && !kept.has(r.tenant) && !out.has(r.tenant),
    );
    if (more.length === 0)
      return {
        registry: built.registry,
        rejections: [...refused, ...built.rejections],
        kept: new Set(kept.keys()),
        withheld: new Map([...withheld].filter(([name]) => out.has(name))),
      };
    for (const r of more) keep(r.tenant);
    refused.push(...more);
  }
  return {
    registry: before,
    rejections: refused,
    kept: new Set(before.tenants.map((t) => t.name)),
    withheld: new Map(withheld),
  };
}
