/**
 * fast-check generators for the property tests (issue 8, "Proof, beyond the catalogue"):
 * ApplicationSets, Applications, AppProjects and cluster Secrets of two tenants, written by
 * any kind of requester. Every string that may name a cluster is drawn from POOL, which
 * records whose cluster it names, so the oracle of property (c) never has to ask the
 * code under test what a value means.
 */
import fc from 'fast-check';
import { isRecord } from '../../src/json.js';
import type { KubeObject, Operation, PolicyContext, UserInfo } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';

export const LABEL = 'tenantguard.dev/tenant';
export const CLUSTER_LABEL = 'tenantguard.dev/cluster';

/** team-a enforces; team-b warns (so a mode never weakens another tenant's isolation). */
export const TENANTS_YAML = `
apiVersion: tenantguard.dev/v1alpha1
kind: Tenant
metadata: { name: team-a }
spec:
  owners: { groups: [team-a-admins] }
  namespaces: [team-a]
  projects: [team-a, team-a-2]
  clusters:
    - { name: k8s-a-dev, server: https://a-dev.example.com }
    - { name: k8s-a-prod, server: "https://a-prod.example.com:6443" }
---
apiVersion: tenantguard.dev/v1alpha1
kind: Tenant
metadata: { name: team-b }
spec:
  owners: { groups: [team-b-admins] }
  namespaces: [team-b]
  projects: [team-b]
  enforcement: warn
  clusters:
    - { name: k8s-b-dev, server: https://b-dev.example.com }
    - { name: k8s-b-prod, server: https://b-prod.example.com }
`;

export function propertyContext(): PolicyContext {
  return {
    registry: parseTenantsYaml(TENANTS_YAML, 'test/property/arbitraries.ts', 'argocd'),
    settings: resolveSettings({}),
  };
}

/** Whose target a pool string names: a tenant, the control plane, or nobody. */
export type Owner = 'team-a' | 'team-b' | 'control-plane' | 'none';

/** Every string the generators put where Argo CD may read a destination, with its owner. */
export const POOL: ReadonlyMap<string, Owner> = new Map<string, Owner>([
  ['k8s-a-dev', 'team-a'],
  ['k8s-a-prod', 'team-a'],
  ['https://a-dev.example.com', 'team-a'],
  ['HTTPS://A-Dev.Example.com./', 'team-a'],
  ['https://a-dev.example.com:443', 'team-a'],
  ['https://a-prod.example.com:6443/', 'team-a'],
  ['k8s-b-dev', 'team-b'],
  ['k8s-b-prod', 'team-b'],
  ['https://b-dev.example.com', 'team-b'],
  ['https://B-DEV.example.COM.', 'team-b'],
  ['https://b-dev.example.com:443/', 'team-b'],
  ['https://b-prod.example.com//', 'team-b'],
  ['in-cluster', 'control-plane'],
  ['https://kubernetes.default.svc', 'control-plane'],
  ['https://kubernetes.default.svc.cluster.local', 'control-plane'],
  ['https://KUBERNETES.default.svc.:443/', 'control-plane'],
  ['https://kubernetes.default', 'control-plane'],
  ['https://kubernetes', 'control-plane'],
  ['k8s-elsewhere', 'none'],
  ['https://elsewhere.example.com', 'none'],
  ['dev', 'none'],
  ['{{.server}}', 'none'],
  ['{{.name}}', 'none'],
  ['', 'none'],
]);

const poolValues = [...POOL.keys()];
const target = fc.constantFrom(...poolValues);

/** Keys that look like properties every JS object inherits; the code must read them as data. */
const TRICKY_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];

/** A record with own keys only, even for `__proto__` (as JSON.parse builds it). */
export function ownRecord(entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries)
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

const paramKey = fc.constantFrom('cluster', 'url', 'target', 'env', 'name', 'server', ...TRICKY_KEYS);

/** A parameter value: a pool string at some depth (sometimes deeper than any walk should stop). */
const paramValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: target },
  { weight: 1, arbitrary: fc.integer({ min: -5, max: 5 }) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(1, 3, 8, 40), target).map(([depth, leaf]) => nestValue(depth, leaf)),
  },
  { weight: 1, arbitrary: fc.array(target, { maxLength: 3 }) },
);

function nestValue(depth: number, leaf: unknown): unknown {
  let out = leaf;
  for (let i = 0; i < depth; i++) out = i % 2 === 0 ? { n: out } : [out];
  return out;
}

const paramMap = fc.array(fc.tuple(fc.oneof(paramKey, target), paramValue), { maxLength: 4 }).map(ownRecord);

/** YAML text of elements, the way a tenant may write it for Argo CD's go-yaml. */
const elementsYaml: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.constantFrom('cluster', 'url', 'target'),
      target,
      fc.constantFrom(
        'plain',
        'quoted',
        'binary',
        'str-tag',
        'merge',
        'merge-twice',
        'alias',
        'escape',
        'local-tag',
      ),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((items) => items.map(([key, value, style]) => yamlElement(key, value, style)).join(''));

function yamlElement(key: string, value: string, style: string): string {
  const q = JSON.stringify(value);
  switch (style) {
    case 'quoted':
      return `- ${key}: ${q}\n`;
    case 'binary':
      return `- ${key}: !!binary ${Buffer.from(value, 'utf8').toString('base64') || '""'}\n`;
    case 'str-tag':
      return `- ${key}: !!str ${q}\n`;
    case 'merge':
      return `- env: dev\n  <<: { ${key}: ${q} }\n`;
    case 'merge-twice':
      return `- <<: { ${key}: ${q} }\n  <<: { env: dev }\n`;
    case 'alias':
      return `- &x${key} { ${key}: ${q} }\n- <<: *x${key}\n  env: prod\n`;
    case 'escape':
      return `- ${key}: "${value.replace(/h/g, '\\x68')}"\n`;
    case 'local-tag':
      return `- ${key}: !t ${q}\n`;
    default:
      return `- ${key}: ${q}\n`;
  }
}

const tenantName = fc.constantFrom('team-a', 'team-a', 'team-b', 'team-b', 'team-c', '{{.tenant}}');
const projectName = fc.constantFrom(
  'team-a',
  'team-a',
  'team-a-2',
  'team-b',
  'team-b',
  'default',
  '',
  '{{.project}}',
  'nobody',
);

/** Go's decoder matches keys case-insensitively (and folds ſ to s, K to k): spellings to try. */
const serverKey = fc.constantFrom('server', 'server', 'server', 'Server', 'ſerver');
const destinationKey = fc.constantFrom('destination', 'destination', 'destination', 'Destination');

const destination = fc
  .tuple(
    serverKey,
    fc.record(
      { server: target, name: target, namespace: fc.constant('app') },
      { requiredKeys: ['namespace'] },
    ),
  )
  .map(([key, d]) => ownRecord(Object.entries(d).map(([k, v]) => [k === 'server' ? key : k, v] as const)));

const templateArb = (root: boolean): fc.Arbitrary<Record<string, unknown>> =>
  fc.record(
    {
      metadata: fc.record(
        {
          name: fc.constant('{{.name}}-app'),
          labels: fc
            .array(fc.tuple(fc.constantFrom(LABEL, 'env', '{{.k}}', ...TRICKY_KEYS), tenantName), {
              maxLength: 2,
            })
            .map(ownRecord),
        },
        { requiredKeys: ['name'] },
      ),
      spec: fc
        .tuple(
          destinationKey,
          fc.record(
            {
              project: projectName,
              destination,
              source: fc.constant({ repoURL: 'https://git.example.com/apps.git', path: 'app' }),
            },
            { requiredKeys: root ? ['source'] : [] },
          ),
        )
        .map(([key, spec]) =>
          ownRecord(Object.entries(spec).map(([k, v]) => [k === 'destination' ? key : k, v] as const)),
        ),
    },
    { requiredKeys: root ? ['spec'] : [] },
  );

const selectorArb = fc.record(
  {
    matchLabels: fc
      .array(fc.tuple(fc.constantFrom(LABEL, 'env', '{{.k}}', ...TRICKY_KEYS), tenantName), { maxLength: 2 })
      .map(ownRecord),
    matchExpressions: fc.array(
      fc.record(
        {
          key: fc.constantFrom(LABEL, 'env', '{{.k}}'),
          operator: fc.constantFrom('In', 'NotIn', 'Exists', 'DoesNotExist'),
          values: fc.array(tenantName, { maxLength: 2 }),
        },
        { requiredKeys: ['key', 'operator'] },
      ),
      { maxLength: 2 },
    ),
  },
  { requiredKeys: [] },
);

const leafGenerator: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ list: fc.record({ elements: fc.array(paramMap, { maxLength: 3 }) }) }),
  },
  { weight: 3, arbitrary: fc.record({ list: fc.record({ elementsYaml }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      clusters: fc.record({ selector: selectorArb, values: paramMap }, { requiredKeys: [] }),
    }),
  },
  fc.record({
    list: fc.record(
      { elements: fc.array(paramMap, { maxLength: 3 }), elementsYaml, template: templateArb(false) },
      { requiredKeys: [] },
    ),
  }),
  fc.record({
    clusters: fc.record(
      { selector: selectorArb, values: paramMap, template: templateArb(false) },
      { requiredKeys: [] },
    ),
  }),
  fc.constant({
    git: { repoURL: 'https://git.example.com/a.git', revision: 'HEAD', directories: [{ path: '*' }] },
  }),
  fc.record({
    scmProvider: fc.record(
      {
        github: fc.record(
          {
            organization: fc.constant('a'),
            appSecretName: fc.constantFrom('gh-app', ''),
            tokenRef: fc.constant({ secretName: 't', key: 'k' }),
          },
          { requiredKeys: ['organization'] },
        ),
        values: paramMap,
      },
      { requiredKeys: ['github'] },
    ),
  }),
  fc.record({
    pullRequest: fc.record({
      github: fc.record(
        { owner: fc.constant('a'), repo: fc.constant('b'), appSecretName: fc.constant('gh-app') },
        { requiredKeys: ['owner', 'repo'] },
      ),
    }),
  }),
  fc.record({
    plugin: fc.record(
      { configMapRef: fc.constant({ name: 'p' }), values: paramMap },
      { requiredKeys: ['configMapRef'] },
    ),
  }),
  fc.constant({ clusterDecisionResource: { configMapRef: 'ocm' } }),
  fc.constant({ quantum: {} }),
  // Case variants Go's decoder reads as the field inside raw JSON (TG-AS-08 denies them).
  fc
    .tuple(fc.constantFrom('Elements', 'elementS', 'ElementsYaml'), paramMap, elementsYaml)
    .map(([key, map, text]) => ({ list: ownRecord([[key, key === 'ElementsYaml' ? text : [map]]]) })),
  fc.tuple(fc.constantFrom('Values', 'VALUES'), paramMap).map(([key, map]) => ({
    clusters: ownRecord([
      ['selector', { matchLabels: { [LABEL]: 'team-a' } }],
      [key, map],
    ]),
  })),
  fc.record({ Clusters: fc.constant({}) }),
  fc.constantFrom(...TRICKY_KEYS).map((k) => ownRecord([[k, {}]])),
);

/** A generator entry, nested through matrix and merge up to `depth` (Argo CD reads two levels). */
function generatorArb(depth: number): fc.Arbitrary<Record<string, unknown>> {
  if (depth <= 0) return leafGenerator;
  const children = fc.array(generatorArb(depth - 1), { minLength: 1, maxLength: 2 });
  return fc.oneof(
    { weight: 3, arbitrary: leafGenerator },
    {
      weight: 1,
      arbitrary: fc.record({
        matrix: fc.record(
          { generators: children, template: templateArb(false) },
          { requiredKeys: ['generators'] },
        ),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        merge: fc.record({ generators: children, mergeKeys: fc.constant(['cluster']) }),
      }),
    },
  );
}

const pointer = fc.constantFrom(
  '/spec/source/targetRevision',
  '/spec/syncPolicy',
  '/metadata/annotations',
  '/spec/project',
  '/spec/destination',
  '/spec/destination/server',
  '/spec',
  '/metadata',
  '/metadata/labels',
  `/metadata/labels/${LABEL.replace('/', '~1')}`,
  'x/spec/project',
  'x/spec',
  'spec/project',
  '/x/spec',
  '',
);

const appSetSpec = fc
  .record(
    {
      goTemplate: fc.boolean(),
      generators: fc.array(generatorArb(3), { minLength: 1, maxLength: 3 }),
      template: templateArb(true),
      templatePatch: fc.constantFrom('', 'spec:\n  project: team-b\n'),
      ignoreApplicationDifferences: fc.array(
        fc.record(
          {
            jsonPointers: fc.array(pointer, { maxLength: 2 }),
            jqPathExpressions: fc.array(fc.constant('.spec.destination'), { maxLength: 1 }),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 2 },
      ),
      preservedFields: fc.record({ labels: fc.array(fc.constantFrom('env', LABEL), { maxLength: 2 }) }),
    },
    { requiredKeys: ['generators'] },
  )
  // Most objects carry none of the optional risks, so that allowed ones are common enough
  // for property (c) to judge; the rest carry any mix.
  .chain((spec) =>
    fc
      .boolean()
      .map((plain) =>
        plain ? { goTemplate: spec.goTemplate, generators: spec.generators, template: spec.template } : spec,
      ),
  );

const namespace = fc.constantFrom('team-a', 'team-b', 'argocd', 'elsewhere');
const objectLabels = fc
  .array(fc.tuple(fc.constantFrom(LABEL, 'env'), tenantName), { maxLength: 2 })
  .map(ownRecord);
const deletion = fc.option(fc.constant('2026-01-01T00:00:00Z'), { freq: 8, nil: undefined });

function metadata(kindNamespace: fc.Arbitrary<string>): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .record(
      {
        name: fc.constantFrom('one', 'two'),
        namespace: kindNamespace,
        labels: objectLabels,
        deletionTimestamp: deletion,
      },
      { requiredKeys: ['name', 'namespace'] },
    )
    .map((m) => wire(m));
}

export const applicationSetArb: fc.Arbitrary<KubeObject> = fc
  .record({ metadata: metadata(namespace), spec: appSetSpec })
  .map((o) => ({ apiVersion: 'argoproj.io/v1alpha1', kind: 'ApplicationSet', ...o }));

export const applicationArb: fc.Arbitrary<KubeObject> = fc
  .record({
    metadata: metadata(namespace),
    spec: fc.record(
      {
        project: projectName,
        destination,
        source: fc.constant({ repoURL: 'https://git.example.com/apps.git', path: 'app' }),
      },
      { requiredKeys: ['source'] },
    ),
  })
  .map((o) => ({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', ...o }));

export const appProjectArb: fc.Arbitrary<KubeObject> = fc
  .record({
    metadata: metadata(fc.constant('argocd')).chain((m) =>
      fc.constantFrom('team-a', 'team-a-2', 'team-b', 'default', 'nobody').map((name) => ({ ...m, name })),
    ),
    spec: fc.record(
      {
        destinations: fc.array(
          fc.record(
            {
              server: fc.oneof(target, fc.constant('*')),
              name: fc.oneof(target, fc.constant('*')),
              namespace: fc.constant('*'),
            },
            { requiredKeys: ['namespace'] },
          ),
          { maxLength: 3 },
        ),
        sourceNamespaces: fc.array(fc.constantFrom('team-a', 'team-b', 'argocd', '*'), { maxLength: 2 }),
      },
      { requiredKeys: [] },
    ),
  })
  .map((o) => ({ apiVersion: 'argoproj.io/v1alpha1', kind: 'AppProject', ...o }));

const PLUGIN_CONFIG = (name: string) =>
  JSON.stringify({
    execProviderConfig: {
      command: '/custom-tools/tenant-guard-credential',
      args: [
        'https://tenant-guard-broker.argocd.svc',
        name,
        '/var/run/secrets/tenantguard/token',
        '--ca-file',
        '/var/run/secrets/tenantguard/ca.crt',
      ],
      apiVersion: 'client.authentication.k8s.io/v1',
      provideClusterInfo: true,
    },
  });

export const clusterSecretArb: fc.Arbitrary<KubeObject> = fc
  .record({
    labels: fc.array(fc.tuple(fc.constantFrom(LABEL, CLUSTER_LABEL), fc.oneof(tenantName, target)), {
      maxLength: 2,
    }),
    name: target,
    server: fc.option(target, { nil: undefined }),
    config: fc.constantFrom('none', 'plugin', 'bearer', 'empty'),
    deletionTimestamp: deletion,
  })
  .map(({ labels, name, server, config, deletionTimestamp }) => {
    const data: Record<string, string> = { name: b64(name) };
    if (server !== undefined) data.server = b64(server);
    if (config === 'plugin') data.config = b64(PLUGIN_CONFIG(name));
    if (config === 'bearer') data.config = b64(JSON.stringify({ bearerToken: 'static-token' }));
    if (config === 'empty') data.config = b64('{}');
    const meta: Record<string, unknown> = {
      name: `cluster-${name.replace(/[^a-z0-9-]/g, '') || 'x'}`,
      namespace: 'argocd',
      labels: { 'argocd.argoproj.io/secret-type': 'cluster', ...Object.fromEntries(labels) },
    };
    if (deletionTimestamp !== undefined) meta.deletionTimestamp = deletionTimestamp;
    return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: meta, data };
  });

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Who asks: owners of A or B, both, nobody's owner, trusted service accounts, admins, system controllers. */
export const REQUESTERS: readonly UserInfo[] = [
  { username: 'alice', groups: ['team-a-admins'] },
  { username: 'bob', groups: ['team-b-admins'] },
  { username: 'carol', groups: ['team-a-admins', 'team-b-admins'] },
  { username: 'mallory', groups: ['developers'] },
  { username: 'system:serviceaccount:team-a:deployer', groups: ['system:serviceaccounts'] },
  {
    username: 'system:serviceaccount:argocd:argocd-applicationset-controller',
    groups: ['system:serviceaccounts'],
  },
  { username: 'system:serviceaccount:argocd:argocd-server', groups: ['system:serviceaccounts'] },
  {
    username: 'system:serviceaccount:argocd:argocd-application-controller',
    groups: ['system:serviceaccounts'],
  },
  {
    username: 'system:serviceaccount:argocd:argocd-notifications-controller',
    groups: ['system:serviceaccounts'],
  },
  { username: 'root', groups: ['platform-admins'] },
  {
    username: 'system:serviceaccount:kube-system:generic-garbage-collector',
    groups: ['system:serviceaccounts'],
  },
];

export const requesterArb = fc.constantFrom(...REQUESTERS);

export function isPlatformAdmin(user: UserInfo): boolean {
  return user.groups.includes('platform-admins');
}

/** One write: an object of one kind, an old object of the same kind, an operation, a requester. */
export interface Write {
  readonly operation: Operation;
  readonly user: UserInfo;
  readonly object?: KubeObject;
  readonly oldObject?: KubeObject;
}

/** A write of one kind. UPDATE takes either another object or the same one slightly edited. */
export function writeArb(objectArb: fc.Arbitrary<KubeObject>): fc.Arbitrary<Write> {
  return fc
    .record({
      operation: fc.constantFrom<Operation>('CREATE', 'CREATE', 'CREATE', 'UPDATE', 'UPDATE', 'DELETE'),
      user: requesterArb,
      object: objectArb,
      other: objectArb,
      sameOld: fc.boolean(),
    })
    .map(({ operation, user, object, other, sameOld }): Write => {
      const old = sameOld ? withAnnotation(wire(object)) : wire(other);
      if (operation === 'CREATE') return { operation, user, object: wire(object) };
      if (operation === 'DELETE') return { operation, user, oldObject: old };
      return { operation, user, object: wire(object), oldObject: old };
    });
}

function withAnnotation(object: KubeObject): KubeObject {
  const meta = object.metadata;
  if (isRecord(meta)) meta.annotations = { touched: 'yes' };
  return object;
}

/** What the API server sends: JSON, so `__proto__` is an own key like any other. */
function wire(value: Record<string, unknown>): Record<string, unknown> {
  const parsed: unknown = JSON.parse(JSON.stringify(value));
  if (!isRecord(parsed)) throw new Error('a record stays a record through JSON');
  return parsed;
}

/** Every kind, in the shares the properties run them. */
export const anyWriteArb: fc.Arbitrary<Write> = fc.oneof(
  { weight: 4, arbitrary: writeArb(applicationSetArb) },
  { weight: 2, arbitrary: writeArb(applicationArb) },
  { weight: 1, arbitrary: writeArb(appProjectArb) },
  { weight: 2, arbitrary: writeArb(clusterSecretArb) },
);
