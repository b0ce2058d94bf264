/**
 * The Tenant model (SPEC section 2): one Tenant document validated against the CRD schema
 * (tenant-schema.ts, Ajv as a type guard) and the single-Tenant rules a schema cannot say
 * (no Argo CD namespace, no `default` project, no control-plane cluster, no cluster claim
 * twice within the Tenant), with the spec's defaults applied. What spans Tenants is registry.ts's.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { TenantGuardError } from '../errors.js';
import { isRecord } from '../json.js';
import { explainBadServer, isControlPlaneTarget, serverKey } from './cluster-url.js';
import { explainBadRepoPattern } from './repo-patterns.js';
import { TENANT_API_VERSION, TENANT_KIND, tenantSchema } from './tenant-schema.js';
import { formatCount, MAX_QUOTED_CHARS, nameFirstAndCount, quoteValue } from './verdict-message.js';

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
  /**
   * Repository patterns its Applications and ApplicationSets may fetch (`spec.sourceRepos`,
   * repo-patterns.ts); absent: any repository, as before the field existed.
   */
  readonly sourceRepos?: readonly string[];
  /** `metadata.creationTimestamp` when known: the older Tenant keeps a contested claim. */
  readonly creationTimestamp?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
}

/** One `spec.clusters[]` entry as the schema admits it (before defaults). */
interface TenantClusterDocument {
  name: string;
  server: string;
  caData?: string;
  audience?: string;
  subject?: string;
  groups?: string[];
  tokenTTLSeconds?: number;
  allowedCallers?: string[];
}

/** A Tenant document as `tenantSchema` admits it: what `validateShape` narrows to. */
interface TenantDocument {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  spec: {
    owners?: { groups?: string[]; users?: string[] };
    namespaces: string[];
    projects: string[];
    enforcement?: EnforcementMode;
    allowedCallers?: string[];
    sourceRepos?: string[];
    clusters: TenantClusterDocument[];
  };
  status?: unknown;
}

const ajv = new Ajv({
  allErrors: true,
  verbose: true,
  strict: false,
  validateFormats: false,
  useDefaults: false,
});
/** A type guard: true only for a document of the schema's shape, so the reads below need no casts. */
const validateShape = ajv.compile<TenantDocument>(tenantSchema);

const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `spec.clusters[0].server` from ajv's `/spec/clusters/0/server`. */
function fieldPath(instancePath: string): string {
  let out = '';
  for (const segment of instancePath.split('/').slice(1))
    out += /^\d+$/.test(segment) ? `[${segment}]` : `${out === '' ? '' : '.'}${segment}`;
  return out;
}

/** The value at an ajv instance path (only for messages). */
function valueAt(doc: unknown, instancePath: string): unknown {
  let value = doc;
  for (const segment of instancePath.split('/').slice(1)) {
    if (Array.isArray(value)) value = value[Number(segment)];
    else if (isRecord(value) && Object.hasOwn(value, segment)) value = value[segment];
    else return undefined;
  }
  return value;
}

/** One schema error as a line naming the field, the value and what is allowed. */
function describeAjvError(err: ErrorObject, doc: unknown): string {
  const path = fieldPath(err.instancePath);
  const value = valueAt(doc, err.instancePath);
  const shown =
    typeof value === 'string' ? quoteValue(value) : typeof value === 'number' ? String(value) : undefined;
  const params: Record<string, unknown> = err.params;
  switch (err.keyword) {
    case 'additionalProperties':
      return `${path === '' ? '' : `${path}.`}${String(params.additionalProperty)}: unknown field; remove it`;
    case 'enum':
      return `${path}: ${shown ?? 'the value'} is not allowed; use one of ${(Array.isArray(params.allowedValues) ? params.allowedValues : []).join(', ')}`;
    case 'required':
      return `${path === '' ? '' : `${path}.`}${String(params.missingProperty)}: is required`;
    case 'maxLength': {
      const why =
        path === 'metadata.name' || /^spec\.clusters\[\d+\]\.name$/.test(path)
          ? ' (it is used as a label value)'
          : '';
      const length = typeof value === 'string' ? value.length : 0;
      const what = length <= MAX_QUOTED_CHARS && shown !== undefined ? shown : 'the value';
      return `${path}: ${what} is ${formatCount(length)} characters long; at most ${formatCount(Number(params.limit))} are allowed${why}`;
    }
    case 'maxItems': {
      const n = Array.isArray(value) ? value.length : 0;
      return `${path}: ${formatCount(n)} entries; at most ${formatCount(Number(params.limit))} are allowed (${LIST_BOUND_WHY})`;
    }
    case 'minimum':
    case 'maximum': {
      const schema: unknown = err.parentSchema;
      const bound = (key: string): string =>
        isRecord(schema) && typeof schema[key] === 'number' ? String(schema[key]) : '';
      return `${path}: ${shown ?? 'the value'} is out of range; use ${bound('minimum')}..${bound('maximum')}`;
    }
    case 'pattern':
      if (/^spec\.clusters\[\d+\]\.server$/.test(path) && typeof value === 'string') {
        const bad = explainBadServer(value);
        if (bad !== undefined) return `${path}: ${shown ?? ''} ${bad}; ${SERVER_HELP}`;
      }
      return `${path}: ${shown ?? 'the value'} does not match ${String(params.pattern)}`;
    default:
      return `${path === '' ? '(document)' : path}: ${err.message ?? 'is invalid'}`;
  }
}

const LIST_BOUND_WHY =
  "every list of a Tenant is bounded so that it stays far below etcd's 1.5 MiB per object";

const SERVER_HELP =
  "use the https URL of the tenant cluster's API server or kube-oidc-proxy, without user info, query or fragment";

/** Argo CD's built-in project: argocd-server creates it with destinations `*` (SPEC TG-PRJ-02). */
export const DEFAULT_PROJECT = 'default';

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
  if (!isRecord(doc))
    throw new TenantGuardError('ERR_TENANT_INVALID', `${label}: not a mapping; expected a Tenant object`);
  if (doc.apiVersion !== TENANT_API_VERSION)
    problems.push(`apiVersion: "${String(doc.apiVersion)}" is not ${TENANT_API_VERSION}`);
  if (doc.kind !== TENANT_KIND) problems.push(`kind: "${String(doc.kind)}" is not ${TENANT_KIND}`);
  if (name === undefined || name === '') problems.push('metadata.name: is required');
  else if (!NAME_PATTERN.test(name))
    problems.push(
      `metadata.name: "${name}" is not a DNS subdomain name (lower-case letters, digits, '-' and '.')`,
    );
  // The length (a label value) is the schema's, so that the CRD refuses it too.
  if (!validateShape(doc)) {
    for (const err of validateShape.errors ?? []) problems.push(describeAjvError(err, doc));
    throw invalid(label, problems);
  }
  if (name === undefined || problems.length > 0) throw invalid(label, problems);

  const { spec } = doc;
  const owners = spec.owners ?? {};
  const namespaces = spec.namespaces;
  const clustersIn = spec.clusters;
  namespaces.forEach((ns, i) => {
    if (ns === options.argocdNamespace)
      problems.push(
        `spec.namespaces[${i}]: "${ns}" is the Argo CD namespace; list the tenant's own namespaces only`,
      );
  });
  spec.projects.forEach((p, i) => {
    if (p === DEFAULT_PROJECT)
      problems.push(
        `spec.projects[${i}]: "default" is Argo CD's built-in project, shared by the platform; list the tenant's own projects only`,
      );
  });
  spec.sourceRepos?.forEach((pattern, i) => {
    const bad = explainBadRepoPattern(pattern);
    if (bad !== undefined) problems.push(`spec.sourceRepos[${i}]: ${quoteValue(pattern)} ${bad}`);
  });
  const clusters: TenantCluster[] = clustersIn.map((c, i) => {
    const cname = c.name;
    const server = c.server;
    // The schema's pattern has refused a non-https server, user info, a query and a fragment.
    const bad = explainBadServer(server);
    if (bad !== undefined)
      problems.push(`spec.clusters[${i}].server: ${quoteValue(server)} ${bad}; ${SERVER_HELP}`);
    if (isControlPlaneTarget(cname))
      problems.push(`spec.clusters[${i}].name: "${cname}" is the control plane; no tenant may own it`);
    return {
      name: cname,
      server,
      serverKey: serverKey(server),
      ...(c.caData !== undefined && c.caData !== '' ? { caData: c.caData.replace(/\s+/g, '') } : {}),
      audience: c.audience ?? cname,
      subject: c.subject ?? `tenantguard:${cname}`,
      groups: c.groups ?? [],
      tokenTTLSeconds: c.tokenTTLSeconds ?? 60,
      ...(c.allowedCallers !== undefined && c.allowedCallers.length > 0
        ? { allowedCallers: c.allowedCallers }
        : {}),
    };
  });
  problems.push(...duplicateClaims(clusters));
  if (problems.length > 0) throw invalid(label, problems);
  return {
    name,
    owners: { groups: owners.groups ?? [], users: owners.users ?? [] },
    namespaces,
    projects: spec.projects,
    enforcement: spec.enforcement ?? 'enforce',
    clusters,
    ...(spec.allowedCallers !== undefined && spec.allowedCallers.length > 0
      ? { allowedCallers: spec.allowedCallers }
      : {}),
    ...(spec.sourceRepos !== undefined ? { sourceRepos: spec.sourceRepos } : {}),
    ...optionalMeta(meta),
  };
}

/**
 * A cluster name, server (normalised), audience or subject listed twice within one Tenant
 * (defaults applied): a token is scoped to one cluster only while its audience is.
 */
function duplicateClaims(clusters: readonly TenantCluster[]): string[] {
  const problems: string[] = [];
  for (const claim of CLUSTER_CLAIMS) {
    const seen = new Map<string, number>();
    clusters.forEach((c, i) => {
      const key = claim.key(c);
      const first = seen.get(key);
      if (first === undefined) seen.set(key, i);
      else
        problems.push(
          `spec.clusters[${i}].${claim.field}: ${claim.what} ${quoteValue(claim.shown(c))} is already that of spec.clusters[${first}]${claim.note(clusters[first] as TenantCluster)}; each cluster needs its own`,
        );
    });
  }
  return problems;
}

/** What a cluster claims for itself alone, across all Tenants (SPEC section 2). */
export interface ClusterClaim {
  readonly field: 'name' | 'server' | 'audience' | 'subject';
  readonly what: string;
  /** The compared form: servers normalised, the rest as written (defaults applied). */
  key(cluster: TenantCluster): string;
  shown(cluster: TenantCluster): string;
  /** How the holder came by it, when it is a default. */
  note(holder: TenantCluster): string;
}

export const CLUSTER_CLAIMS: readonly ClusterClaim[] = [
  { field: 'name', what: 'cluster name', key: (c) => c.name, shown: (c) => c.name, note: () => '' },
  { field: 'server', what: 'server', key: (c) => c.serverKey, shown: (c) => c.server, note: () => '' },
  {
    field: 'audience',
    what: 'audience',
    key: (c) => c.audience,
    shown: (c) => c.audience,
    note: (h) => (h.audience === h.name ? ', by default its cluster name' : ''),
  },
  {
    field: 'subject',
    what: 'subject',
    key: (c) => c.subject,
    shown: (c) => c.subject,
    note: (h) => (h.subject === `tenantguard:${h.name}` ? ', by default tenantguard:<cluster name>' : ''),
  },
];

function optionalMeta(meta: Record<string, unknown> | undefined): Partial<Tenant> {
  if (meta === undefined) return {};
  const out: { creationTimestamp?: string; uid?: string; resourceVersion?: string; generation?: number } = {};
  if (typeof meta.creationTimestamp === 'string') out.creationTimestamp = meta.creationTimestamp;
  if (typeof meta.uid === 'string') out.uid = meta.uid;
  if (typeof meta.resourceVersion === 'string') out.resourceVersion = meta.resourceVersion;
  if (typeof meta.generation === 'number') out.generation = meta.generation;
  return out;
}

/** Problems named in full before the rest are counted: each is short, unlike lost claims. */
const NAMED_PROBLEMS = 10;

/** The error naming the first problems and counting the rest, within the verdict message bound. */
function invalid(label: string, problems: string[]): TenantGuardError {
  const items = problems.map((text) => ({ text, noun: ['problem', 'problems'] as const, where: '' }));
  return new TenantGuardError(
    'ERR_TENANT_INVALID',
    `${label}: ${nameFirstAndCount(items, { named: NAMED_PROBLEMS })}`,
  );
}
