/**
 * The openAPIV3Schema of the Tenant CRD (`tenants.tenantguard.dev/v1alpha1`): the single
 * source of the shape of one Tenant. The file-backed registry validates each document
 * against it (ajv), and the CRD manifest under webhook-config/ is generated from it
 * (`npm run gen:crd`; a test fails when the two drift). What spans Tenants (a cluster or
 * namespace claimed twice) is the registry's to check.
 */
import { MAX_VERDICT_MESSAGE_CHARS } from './verdict-message.js';

export const TENANT_GROUP = 'tenantguard.dev';
export const TENANT_VERSION = 'v1alpha1';
export const TENANT_API_VERSION = `${TENANT_GROUP}/${TENANT_VERSION}`;
export const TENANT_KIND = 'Tenant';
export const TENANT_PLURAL = 'tenants';
/** The Tenant resource as `plural.group`: how the watch names its source in logs and messages. */
export const TENANT_RESOURCE = `${TENANT_PLURAL}.${TENANT_GROUP}`;

/** Tenant and cluster names are label values (the tenant label, Argo CD's cluster labels). */
export const MAX_LABEL_VALUE_LENGTH = 63;

/**
 * How many entries each list of a Tenant may have, and the longest CA bundle. They are chosen
 * so that the largest Tenant the schema admits, every list full and every string at its
 * maxLength, stays within MAX_TENANT_JSON_BYTES (a test builds that Tenant from this schema
 * and measures it): half of etcd's 1.5 MiB per object, leaving the other half to what the
 * schema cannot bound (annotations, up to 256 KiB by the API server's rule; managedFields,
 * which repeat every entry of a set). So a Tenant can always be stored with its status, and
 * the registry's memory per Tenant has a known ceiling (a red-team review, F6, filled the
 * heap with ~80 schema-valid Tenants of 1 MiB each).
 *
 * Against real needs: SPEC section 2's tenant has a vCluster in a dev and a prod cluster;
 * a platform with regions and stages has dozens (4 stages in 8 regions is 32). Beyond that,
 * split the tenant. A CA bundle of 14 KiB holds 5-8 base64 PEM certificates (a cloud API
 * server's CA is one, ~2 KiB; OpenShift's bundle 4-5, ~7 KiB; a public chain 2, ~5 KiB);
 * 64 KiB never fitted the webhook's 64 KiB bound on a cluster Secret's config, which
 * carries it. A server URL is a few dozen characters; 1,024 is far past any. The rest are a
 * few in practice (owner groups, projects, extra token groups and broker callers: the
 * Tenant-wide list takes 16 more); namespaces are cheap (63 characters) and a large tenant
 * may have many. With these the largest Tenant is ~764 KiB, of which the CA bundles are 448
 * and the claims its status records as in force (status.inForce) 76.
 */
export const TENANT_BOUNDS = {
  clusters: 32,
  caDataChars: 14_336,
  serverChars: 1024,
  namespaces: 256,
  projects: 32,
  ownerGroups: 32,
  ownerUsers: 32,
  allowedCallers: 16,
  clusterGroups: 8,
  clusterAllowedCallers: 8,
  sourceRepos: 16,
  sourceRepoChars: 200,
  conditions: 8,
} as const;

/** The largest Tenant (spec and status as JSON) TENANT_BOUNDS may admit: half of etcd's 1.5 MiB. */
export const MAX_TENANT_JSON_BYTES = 768 * 1024;

const dnsLabel = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const dnsSubdomain = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const stringList = (maxItems: number, pattern?: string, maxLength = 253) => ({
  type: 'array',
  maxItems,
  items:
    pattern === undefined
      ? { type: 'string', minLength: 1, maxLength }
      : { type: 'string', minLength: 1, maxLength, pattern },
  'x-kubernetes-list-type': 'set',
});

export const tenantClusterSchema = {
  type: 'object',
  required: ['name', 'server'],
  additionalProperties: false,
  properties: {
    name: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_LABEL_VALUE_LENGTH,
      pattern: dnsSubdomain,
      description:
        'Argo CD cluster name, and the broker target name; at most 63 characters, as it is also a label value.',
    },
    server: {
      type: 'string',
      minLength: 9,
      maxLength: TENANT_BOUNDS.serverChars,
      pattern: '^https://[^\\s?#@]+$',
      description:
        "https URL of the cluster's kube-oidc-proxy or API server; no user info, query or fragment.",
    },
    caData: {
      type: 'string',
      maxLength: TENANT_BOUNDS.caDataChars,
      pattern: '^[A-Za-z0-9+/=\\s]*$',
      description: 'Base64 PEM CA bundle for server.',
    },
    audience: { type: 'string', minLength: 1, maxLength: 253, description: 'Token aud. Default: name.' },
    subject: {
      type: 'string',
      minLength: 1,
      maxLength: 253,
      description: 'Token sub the remote side binds RBAC to. Default: tenantguard:<name>.',
    },
    groups: { ...stringList(TENANT_BOUNDS.clusterGroups), description: 'Extra groups claim values.' },
    tokenTTLSeconds: {
      type: 'integer',
      minimum: 30,
      maximum: 900,
      default: 60,
      description: 'Token lifetime in seconds, 30..900.',
    },
    allowedCallers: {
      ...stringList(TENANT_BOUNDS.clusterAllowedCallers),
      description:
        "User names allowed to obtain this cluster's tokens from the broker, besides the broker's allowed callers and the Tenant's (e.g. system:serviceaccount:argocd:argocd-server).",
    },
  },
} as const;

export const tenantSpecSchema = {
  type: 'object',
  required: ['owners', 'namespaces', 'projects', 'clusters'],
  additionalProperties: false,
  properties: {
    owners: {
      type: 'object',
      additionalProperties: false,
      properties: {
        groups: {
          ...stringList(TENANT_BOUNDS.ownerGroups),
          description: "Groups whose members own this tenant's objects.",
        },
        users: {
          ...stringList(TENANT_BOUNDS.ownerUsers),
          description: "Users who own this tenant's objects.",
        },
      },
    },
    namespaces: {
      ...stringList(TENANT_BOUNDS.namespaces, dnsLabel, 63),
      description: 'Control-plane namespaces whose Argo CD objects belong to this tenant.',
    },
    projects: {
      ...stringList(TENANT_BOUNDS.projects),
      minItems: 1,
      description: 'Argo CD AppProjects this tenant may use; the first is the default.',
    },
    sourceRepos: {
      ...stringList(TENANT_BOUNDS.sourceRepos, undefined, TENANT_BOUNDS.sourceRepoChars),
      description:
        "Repositories (Git, Helm, OCI) this tenant's Applications and ApplicationSets may fetch, spelled as an AppProject's sourceRepos: * within a segment, ** a whole segment. Absent: any.",
    },
    enforcement: {
      type: 'string',
      enum: ['enforce', 'warn', 'audit'],
      default: 'enforce',
      description: 'enforce, warn or audit, like Pod Security Admission.',
    },
    allowedCallers: {
      ...stringList(TENANT_BOUNDS.allowedCallers),
      description:
        "User names allowed to obtain the tokens of every cluster of this Tenant from the broker, besides the broker's allowed callers (e.g. system:serviceaccount:argocd:argocd-server).",
    },
    clusters: {
      type: 'array',
      maxItems: TENANT_BOUNDS.clusters,
      items: tenantClusterSchema,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    },
  },
} as const;

/** A status or condition reason: a CamelCase word (`NamespaceConflict`). */
const MAX_REASON_CHARS = 128;

/**
 * What tenant-guard writes. The messages are bounded where they are made (verdict-message.ts)
 * and here, so the API server refuses a longer one from any writer.
 */
export const tenantStatusSchema = {
  type: 'object',
  properties: {
    accepted: { type: 'boolean' },
    reason: { type: 'string', maxLength: MAX_REASON_CHARS },
    message: {
      type: 'string',
      maxLength: MAX_VERDICT_MESSAGE_CHARS,
      description:
        'Why the Tenant is or is not in the registry: the first few problems or lost claims, and a count of the rest.',
    },
    observedGeneration: { type: 'integer' },
    inForce: {
      type: 'object',
      description:
        'The generation the registry serves and the claims it holds, so that a replica started later holds the same (written by the webhook).',
      properties: {
        generation: { type: 'integer' },
        clusters: {
          type: 'array',
          maxItems: TENANT_BOUNDS.clusters,
          items: {
            type: 'object',
            properties: {
              name: { type: 'string', maxLength: MAX_LABEL_VALUE_LENGTH },
              server: { type: 'string', maxLength: TENANT_BOUNDS.serverChars },
              audience: { type: 'string', maxLength: 253 },
              subject: { type: 'string', maxLength: 253 },
            },
          },
        },
        namespaces: stringList(TENANT_BOUNDS.namespaces, undefined, 63),
        projects: stringList(TENANT_BOUNDS.projects),
      },
    },
    clusterCount: {
      type: 'integer',
      description: 'How many clusters spec.clusters lists (a printer column).',
    },
    conditions: {
      type: 'array',
      maxItems: TENANT_BOUNDS.conditions,
      items: {
        type: 'object',
        required: ['type', 'status'],
        properties: {
          // metav1.Condition's bound on type; reasons are CamelCase words.
          type: { type: 'string', maxLength: 316 },
          status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
          reason: { type: 'string', maxLength: MAX_REASON_CHARS },
          message: { type: 'string', maxLength: MAX_VERDICT_MESSAGE_CHARS },
          lastTransitionTime: { type: 'string', format: 'date-time', maxLength: 64 },
          observedGeneration: { type: 'integer' },
        },
      },
    },
  },
} as const;

/**
 * The CRD's openAPIV3Schema. An unknown top-level field is refused like any other (the CRD
 * generator drops `additionalProperties` beside `properties`; the API server prunes and
 * `kubectl apply`'s strict field validation refuses instead). In `metadata` a CRD may only
 * restrict `name` and `generateName`.
 */
export const tenantSchema = {
  type: 'object',
  required: ['spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object', properties: { name: { type: 'string', maxLength: MAX_LABEL_VALUE_LENGTH } } },
    spec: tenantSpecSchema,
    status: tenantStatusSchema,
  },
} as const;
