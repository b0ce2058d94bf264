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

const dnsLabel = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const dnsSubdomain = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const stringList = (pattern?: string, maxLength = 253) => ({
  type: 'array',
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
      maxLength: 2048,
      pattern: '^https://[^\\s?#@]+$',
      description:
        "https URL of the cluster's kube-oidc-proxy or API server; no user info, query or fragment.",
    },
    caData: {
      type: 'string',
      maxLength: 65536,
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
    groups: { ...stringList(), description: 'Extra groups claim values.' },
    tokenTTLSeconds: {
      type: 'integer',
      minimum: 30,
      maximum: 900,
      default: 60,
      description: 'Token lifetime in seconds, 30..900.',
    },
    allowedCallers: {
      ...stringList(),
      maxItems: 16,
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
        groups: { ...stringList(), description: "Groups whose members own this tenant's objects." },
        users: { ...stringList(), description: "Users who own this tenant's objects." },
      },
    },
    namespaces: {
      ...stringList(dnsLabel, 63),
      description: 'Control-plane namespaces whose Argo CD objects belong to this tenant.',
    },
    projects: {
      ...stringList(),
      minItems: 1,
      description: 'Argo CD AppProjects this tenant may use; the first is the default.',
    },
    enforcement: {
      type: 'string',
      enum: ['enforce', 'warn', 'audit'],
      default: 'enforce',
      description: 'enforce, warn or audit, like Pod Security Admission.',
    },
    allowedCallers: {
      ...stringList(),
      maxItems: 16,
      description:
        "User names allowed to obtain the tokens of every cluster of this Tenant from the broker, besides the broker's allowed callers (e.g. system:serviceaccount:argocd:argocd-server).",
    },
    clusters: {
      type: 'array',
      items: tenantClusterSchema,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    },
  },
} as const;

/**
 * What tenant-guard writes. The messages are bounded where they are made (verdict-message.ts)
 * and here, so the API server refuses a longer one from any writer.
 */
export const tenantStatusSchema = {
  type: 'object',
  properties: {
    accepted: { type: 'boolean' },
    reason: { type: 'string' },
    message: {
      type: 'string',
      maxLength: MAX_VERDICT_MESSAGE_CHARS,
      description:
        'Why the Tenant is or is not in the registry: the first few problems or lost claims, and a count of the rest.',
    },
    observedGeneration: { type: 'integer' },
    clusterCount: {
      type: 'integer',
      description: 'How many clusters spec.clusters lists (a printer column).',
    },
    conditions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['type', 'status'],
        properties: {
          type: { type: 'string' },
          status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
          reason: { type: 'string' },
          message: { type: 'string', maxLength: MAX_VERDICT_MESSAGE_CHARS },
          lastTransitionTime: { type: 'string', format: 'date-time' },
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
