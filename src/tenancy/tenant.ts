import { Ajv, type ErrorObject } from 'ajv';
import { TenantGuardError } from '../errors.js';
import { explainBadServer, serverKey } from '../policy/cluster-url.js';
import { TENANT_API_VERSION, TENANT_KIND, tenantSchema } from './tenant-schema.js';

export type EnforcementMode = 'enforce' | 'warn' | 'audit';

/** One cluster of a tenant, with the spec's defaults applied. */
export interface TenantCluster {
  /** Argo CD cluster name and broker target name. */
  readonly name: string;
  /** Server URL as registered. */
  readonly server: string;
  /** Normalised server URL (see `normalizeServerUrl`), used for lookups. */
  readonly serverKey: string;
  readonly caData?: string;
  readonly audience: string;
  readonly subject: string;
  readonly groups: readonly string[];
  /** Token lifetime in seconds, 30..900. */
  readonly tokenTTLSeconds: number;
  /** Extra broker callers for this cluster's tokens (`spec.clusters[].allowedCallers`). */
  readonly allowedCallers?: readonly string[];
}

export interface Tenant {
  /** The tenant id: `metadata.name`. */
  readonly name: string;
  readonly owners: { readonly groups: readonly string[]; readonly users: readonly string[] };
  readonly namespaces: readonly string[];
  /** Projects; the first is the default. */
  readonly projects: readonly string[];
  readonly enforcement: EnforcementMode;
  readonly clusters: readonly TenantCluster[];
  /** Extra broker callers for every cluster of this Tenant (`spec.allowedCallers`). */
  readonly allowedCallers?: readonly string[];
  /** `metadata.creationTimestamp` when known: the older Tenant keeps a contested claim. */
  readonly creationTimestamp?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
}

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, useDefaults: false });
const validateShape = ajv.compile(tenantSchema);

const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function describeAjvError(err: ErrorObject): string {
  const path = err.instancePath === '' ? '' : err.instancePath.slice(1).replaceAll('/', '.');
  if (err.keyword === 'additionalProperties') {
    const extra = String((err.params as { additionalProperty?: unknown }).additionalProperty);
    return `${path === '' ? '' : `${path}.`}${extra}: unknown field; remove it`;
  }
  if (err.keyword === 'enum') {
    const allowed = (err.params as { allowedValues?: unknown[] }).allowedValues ?? [];
    return `${path}: must be one of ${allowed.join(', ')}`;
  }
  if (err.keyword === 'required') {
    const missing = String((err.params as { missingProperty?: unknown }).missingProperty);
    return `${path === '' ? '' : `${path}.`}${missing}: is required`;
  }
  return `${path === '' ? '(document)' : path}: ${err.message ?? 'is invalid'}`;
}

/** Options for `parseTenant`. */
export interface ParseTenantOptions {
  /** How the document is named in errors, e.g. `tenants.yaml document 2`. */
  source: string;
  /** The Argo CD namespace, which no tenant may list. */
  argocdNamespace: string;
}

/**
 * Parses and validates one Tenant document against the CRD schema and the single-Tenant
 * rules of SPEC section 2 that a schema cannot say.
 * @throws TenantGuardError ERR_TENANT_INVALID listing every problem with its field.
 */
export function parseTenant(doc: unknown, options: ParseTenantOptions): Tenant {
  const problems: string[] = [];
  const meta = isRecord(doc) && isRecord(doc.metadata) ? doc.metadata : undefined;
  const name = meta !== undefined && typeof meta.name === 'string' ? meta.name : undefined;
  const label = `${options.source}${name === undefined ? '' : ` (Tenant "${name}")`}`;
  if (!isRecord(doc)) throw new TenantGuardError('ERR_TENANT_INVALID', `${label}: not a mapping; expected a Tenant object`);
  if (doc.apiVersion !== TENANT_API_VERSION) problems.push(`apiVersion: "${String(doc.apiVersion)}" is not ${TENANT_API_VERSION}`);
  if (doc.kind !== TENANT_KIND) problems.push(`kind: "${String(doc.kind)}" is not ${TENANT_KIND}`);
  if (name === undefined || name === '') problems.push('metadata.name: is required');
  else if (name.length > 253 || !NAME_PATTERN.test(name)) problems.push(`metadata.name: "${name}" is not a DNS subdomain name`);
  if (!validateShape(doc)) for (const err of validateShape.errors ?? []) problems.push(describeAjvError(err));
  if (problems.length > 0) throw invalid(label, problems);

  const spec = doc.spec as Record<string, unknown>;
  const owners = (spec.owners ?? {}) as { groups?: string[]; users?: string[] };
  const namespaces = spec.namespaces as string[];
  const clustersIn = spec.clusters as Array<Record<string, unknown>>;
  namespaces.forEach((ns, i) => {
    if (ns === options.argocdNamespace) problems.push(`spec.namespaces[${i}]: "${ns}" is the Argo CD namespace; list the tenant's own namespaces only`);
  });
  const seenNames = new Set<string>();
  const clusters: TenantCluster[] = clustersIn.map((c, i) => {
    const cname = c.name as string;
    const server = c.server as string;
    const bad = explainBadServer(server);
    if (bad !== undefined) problems.push(`spec.clusters[${i}].server: "${server}" ${bad}; use the https URL of the tenant cluster's API server or kube-oidc-proxy`);
    if (cname === 'in-cluster') problems.push(`spec.clusters[${i}].name: "in-cluster" is the control plane; no tenant may own it`);
    if (seenNames.has(cname)) problems.push(`spec.clusters[${i}].name: "${cname}" is listed twice`);
    seenNames.add(cname);
    return {
      name: cname,
      server,
      serverKey: serverKey(server),
      ...(typeof c.caData === 'string' && c.caData !== '' ? { caData: c.caData.replace(/\s+/g, '') } : {}),
      audience: typeof c.audience === 'string' ? c.audience : cname,
      subject: typeof c.subject === 'string' ? c.subject : `tenantguard:${cname}`,
      groups: Array.isArray(c.groups) ? (c.groups as string[]) : [],
      tokenTTLSeconds: typeof c.tokenTTLSeconds === 'number' ? c.tokenTTLSeconds : 60,
      ...(Array.isArray(c.allowedCallers) && c.allowedCallers.length > 0 ? { allowedCallers: c.allowedCallers as string[] } : {}),
    };
  });
  if (problems.length > 0) throw invalid(label, problems);
  return {
    name: name as string,
    owners: { groups: owners.groups ?? [], users: owners.users ?? [] },
    namespaces,
    projects: spec.projects as string[],
    enforcement: (spec.enforcement as EnforcementMode | undefined) ?? 'enforce',
    clusters,
    ...(Array.isArray(spec.allowedCallers) && spec.allowedCallers.length > 0 ? { allowedCallers: spec.allowedCallers as string[] } : {}),
    ...optionalMeta(meta),
  };
}

function optionalMeta(meta: Record<string, unknown> | undefined): Partial<Tenant> {
  if (meta === undefined) return {};
  const out: { creationTimestamp?: string; uid?: string; resourceVersion?: string; generation?: number } = {};
  if (typeof meta.creationTimestamp === 'string') out.creationTimestamp = meta.creationTimestamp;
  if (typeof meta.uid === 'string') out.uid = meta.uid;
  if (typeof meta.resourceVersion === 'string') out.resourceVersion = meta.resourceVersion;
  if (typeof meta.generation === 'number') out.generation = meta.generation;
  return out;
}

function invalid(label: string, problems: string[]): TenantGuardError {
  return new TenantGuardError('ERR_TENANT_INVALID', `${label}: ${problems.join('; ')}`);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
