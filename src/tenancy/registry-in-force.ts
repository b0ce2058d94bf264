/**
 * What the stored statuses say is in force, for a replica's first build: the webhook records
 * in each Tenant's `status.inForce` the generation it serves and the claims that version holds
 * (tenant-status.ts), and a replica that starts later continues from them, so that it hands no
 * claim to another Tenant and carries out no edit that the replicas before it refused
 * (registry-continuity.ts). A Tenant in force at its current generation is served at it; one
 * in force at an older version (an edit refused or invalid), whose spec is gone, is withheld:
 * out of the registry, its recorded claims held against every other Tenant, until its current
 * version is valid and takes no claim another holds. Pure.
 */
import { isRecord } from '../json.js';
import { buildRegistry, type TenantRegistry } from './registry.js';
import { buildWithLastAccepted, type Claim, type ContinuousBuild } from './registry-continuity.js';
import type { TenantObject } from './tenant-list.js';
import { TENANT_BOUNDS } from './tenant-schema.js';
import type { InForceRecord } from './tenant-status.js';
import type { Tenant } from './tenant.js';

/** The record of a Tenant's version: what `status.inForce` holds. */
export function recordOf(tenant: Tenant): InForceRecord {
  return {
    generation: tenant.generation ?? 0,
    clusters: tenant.clusters.map((c) => ({
      name: c.name,
      server: c.serverKey,
      audience: c.audience,
      subject: c.subject,
    })),
    namespaces: [...tenant.namespaces],
    projects: [...tenant.projects],
  };
}

/** The claims a record holds, as registry-continuity.ts counts a Tenant's (`claimsOf`). */
export function claimsOfRecord(record: InForceRecord): Claim[] {
  return [
    ...record.clusters.flatMap((c) => [
      { kind: 'name', key: c.name },
      { kind: 'server', key: c.server },
      { kind: 'audience', key: c.audience },
      { kind: 'subject', key: c.subject },
    ]),
    ...record.namespaces.map((key) => ({ kind: 'namespace', key })),
    ...record.projects.map((key) => ({ kind: 'project', key })),
  ];
}

const strings = (v: unknown, max: number): v is string[] =>
  Array.isArray(v) && v.length <= max && v.every((s) => typeof s === 'string');

/** `status.inForce` of a Tenant object, when it is well formed and within the schema's bounds. */
export function inForceOf(object: TenantObject): InForceRecord | undefined {
  const status = object.status;
  const r = isRecord(status) ? status.inForce : undefined;
  if (!isRecord(r) || typeof r.generation !== 'number') return undefined;
  const { clusters, namespaces, projects } = r;
  if (!Array.isArray(clusters) || clusters.length > TENANT_BOUNDS.clusters) return undefined;
  if (!strings(namespaces, TENANT_BOUNDS.namespaces) || !strings(projects, TENANT_BOUNDS.projects))
    return undefined;
  const read: InForceRecord['clusters'] = [];
  for (const c of clusters as unknown[]) {
    if (!isRecord(c)) return undefined;
    const { name, server, audience, subject } = c;
    if (typeof name !== 'string' || typeof server !== 'string') return undefined;
    if (typeof audience !== 'string' || typeof subject !== 'string') return undefined;
    read.push({ name, server, audience, subject });
  }
  return { generation: r.generation, clusters: read, namespaces, projects };
}

/** The previous registry and withheld Tenants a first build continues from. */
export interface StoredInForce {
  /** The Tenants in force at their current generation; undefined when none is. */
  readonly previous: TenantRegistry | undefined;
  readonly withheld: Map<string, Claim[]>;
  /** Every record read, by name. */
  readonly records: Map<string, InForceRecord>;
}

/**
 * What the stored statuses say is in force, given the watched objects and the valid current
 * versions among them; undefined when no status records anything (a new install).
 */
export function storedInForce(
  objects: readonly TenantObject[],
  tenants: readonly Tenant[],
): StoredInForce | undefined {
  const current = new Map(tenants.map((t) => [t.name, t]));
  const served: Tenant[] = [];
  const withheld = new Map<string, Claim[]>();
  const records = new Map<string, InForceRecord>();
  for (const object of objects) {
    const name = object.metadata?.name;
    const record = inForceOf(object);
    if (name === undefined || record === undefined) continue;
    records.set(name, record);
    const now = current.get(name);
    if (now !== undefined && record.generation === object.metadata?.generation) served.push(now);
    else withheld.set(name, claimsOfRecord(record));
  }
  if (records.size === 0) return undefined;
  return {
    previous: served.length === 0 ? undefined : buildRegistry(served).registry,
    withheld,
    records,
  };
}

/**
 * What is in force after a build, as the statuses record it: each Tenant served (at its
 * current or kept version) with that version's generation and claims, and each withheld one
 * with the claims it still holds.
 */
export function recordsInForce(
  build: Pick<ContinuousBuild, 'registry' | 'withheld'>,
  before: ReadonlyMap<string, InForceRecord>,
): Map<string, InForceRecord> {
  const out = new Map<string, InForceRecord>();
  for (const tenant of build.registry.tenants) out.set(tenant.name, recordOf(tenant));
  for (const name of build.withheld.keys()) {
    const record = before.get(name);
    if (record !== undefined) out.set(name, record);
  }
  return out;
}

/** What a watched registry carries from one build to the next, besides the registry itself. */
export interface InForceState {
  readonly withheld: ReadonlyMap<string, readonly Claim[]>;
  /** What each Tenant's status records as in force. */
  readonly records: ReadonlyMap<string, InForceRecord>;
}

/**
 * A build of the watched Tenants that continues from `previous` and `state`; the first (no
 * registry yet) continues from what the stored statuses say is in force.
 */
export function continueBuild(
  objects: readonly TenantObject[],
  tenants: readonly Tenant[],
  invalid: ReadonlyMap<string, string>,
  previous: TenantRegistry | undefined,
  state: InForceState,
): { build: ContinuousBuild; state: InForceState } {
  const stored = previous === undefined ? storedInForce(objects, tenants) : undefined;
  const build = buildWithLastAccepted(
    tenants,
    invalid,
    previous ?? stored?.previous,
    stored?.withheld ?? state.withheld,
  );
  const records = recordsInForce(build, stored?.records ?? state.records);
  return { build, state: { withheld: build.withheld, records } };
}
