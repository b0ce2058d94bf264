import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { applicationSetRules } from '../../src/policy/applicationset.js';
import { rawTokens } from '../../src/policy/applicationset-targets.js';
import type { KubeObject, Operation, PolicyContext, RuleId, RuleScope } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { editObject } from '../../src/policy/object-edit.js';
import { deepFreeze } from '../support/deep-freeze.js';
import { policyContext } from '../support/policy-fixtures.js';

const LABEL = 'tenantguard.dev/tenant';

function contextWith(settings: Record<string, string | boolean> = {}): PolicyContext {
  return policyContext('applicationset', resolveSettings(settings));
}

interface ScopeOptions {
  tenant?: string | null;
  namespace?: string;
  operation?: Operation;
  context?: PolicyContext;
}

function scopeFor(object: KubeObject | undefined, options: ScopeOptions = {}): RuleScope {
  const context = options.context ?? contextWith();
  const tenantName = options.tenant === undefined ? 'team-a' : options.tenant;
  const tenant = tenantName === null ? undefined : context.registry.tenant(tenantName);
  const operation = options.operation ?? 'CREATE';
  return {
    request: {
      uid: 'u1',
      kind: 'ApplicationSet',
      operation,
      namespace: options.namespace ?? 'team-a',
      name: 'apps',
      ...(object === undefined ? {} : operation === 'DELETE' ? { oldObject: object } : { object }),
      user: { username: 'alice', groups: ['team-a-admins'] },
      dryRun: false,
    },
    tenant,
    role: 'human',
    context,
  };
}

/** A clean ApplicationSet of team-a: no violation, one warning (computed destination). */
function appset(spec: Record<string, unknown> = {}, template: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'apps', namespace: 'team-a' },
    spec: {
      goTemplate: true,
      generators: [{ list: { elements: [{ cluster: 'k8s-team-a-dev' }] } }],
      template: {
        metadata: { name: '{{.cluster}}-app', labels: { [LABEL]: 'team-a' } },
        spec: {
          project: 'team-a',
          source: { repoURL: 'https://git.example.com/a.git', path: 'app' },
          destination: { name: '{{.cluster}}', namespace: 'app' },
        },
        ...template,
      },
      ...spec,
    },
  };
}

function withDestination(destination: Record<string, unknown>): KubeObject {
  return appset({}, { spec: { project: 'team-a', destination } });
}

/** A platform ApplicationSet (no tenant label anywhere) with one destination. */
function platformAppset(
  destination: Record<string, unknown>,
  labels: Record<string, string> = {},
  generators: unknown[] = [{ list: { elements: [{ env: 'ops' }] } }],
): KubeObject {
  return appset(
    { generators },
    { metadata: { name: 'ops-{{.env}}', labels }, spec: { project: 'default', destination } },
  );
}

const PLATFORM: ScopeOptions = { tenant: null, namespace: 'argocd' };

/** `{ n: { n: ... leaf } }`, `depth` levels of objects around `leaf`. */
function nest(depth: number, leaf: Record<string, unknown>): Record<string, unknown> {
  let out = leaf;
  for (let i = 0; i < depth; i++) out = { n: out };
  return out;
}

const TENANT_SELECTOR = { matchLabels: { [LABEL]: 'team-a' } };

function clusters(selector: unknown): Record<string, unknown> {
  return { clusters: selector === undefined ? {} : { selector } };
}

interface Case {
  name: string;
  object: KubeObject;
  rules: RuleId[];
  paths?: string[];
  options?: ScopeOptions;
  warnings?: number;
}

const cases: Case[] = [
  { name: 'clean tenant ApplicationSet', object: appset(), rules: [], warnings: 1 },
  // TG-AS-01
  {
    name: 'AS-01 allow: second project of the tenant',
    object: appset({}, { spec: { project: 'team-a-extra', destination: { name: 'k8s-team-a-dev' } } }),
    rules: [],
    warnings: 0,
  },
  {
    name: 'AS-01 deny: project of another tenant',
    object: appset({}, { spec: { project: 'team-b', destination: { name: 'k8s-team-a-dev' } } }),
    rules: ['TG-AS-01'],
    paths: ['spec.template.spec.project'],
  },
  {
    name: 'AS-01 deny: templated project',
    object: appset({}, { spec: { project: '{{.project}}', destination: { name: 'k8s-team-a-dev' } } }),
    rules: ['TG-AS-01'],
  },
  {
    name: 'AS-01 deny: missing project',
    object: appset({}, { spec: { destination: { name: 'k8s-team-a-dev' } } }),
    rules: ['TG-AS-01'],
    paths: ['spec.template.spec.project'],
  },
  {
    name: 'AS-01 allow: generator template inherits the project',
    object: appset({
      generators: [{ list: { elements: [], template: { spec: { source: { path: 'x' } } } } }],
    }),
    rules: [],
  },
  {
    name: 'AS-01 deny: generator template names another project',
    object: appset({ generators: [{ list: { elements: [], template: { spec: { project: 'team-b' } } } }] }),
    rules: ['TG-AS-01'],
    paths: ['spec.generators[0].list.template.spec.project'],
  },
  // TG-AS-02
  {
    name: 'AS-02 allow: tenant matchLabels',
    object: appset({ generators: [clusters(TENANT_SELECTOR)] }),
    rules: [],
  },
  {
    name: 'AS-02 allow: In with only the tenant beside the matchLabels mutate adds',
    object: appset({
      generators: [
        clusters({
          ...TENANT_SELECTOR,
          matchExpressions: [{ key: LABEL, operator: 'In', values: ['team-a'] }],
        }),
      ],
    }),
    rules: [],
  },
  {
    name: 'AS-02 deny: In with only the tenant but no matchLabels (validate checks what mutate adds)',
    object: appset({
      generators: [clusters({ matchExpressions: [{ key: LABEL, operator: 'In', values: ['team-a'] }] })],
    }),
    rules: ['TG-AS-02'],
    paths: ['spec.generators[0].clusters.selector.matchLabels'],
  },
  {
    name: 'AS-02 deny: Exists beside the tenant matchLabels says otherwise',
    object: appset({
      generators: [clusters({ ...TENANT_SELECTOR, matchExpressions: [{ key: LABEL, operator: 'Exists' }] })],
    }),
    rules: ['TG-AS-02'],
    paths: ['spec.generators[0].clusters.selector.matchExpressions[0]'],
  },
  {
    name: 'AS-02 deny: clusters {}',
    object: appset({ generators: [{ clusters: {} }] }),
    rules: ['TG-AS-02'],
    paths: ['spec.generators[0].clusters.selector'],
  },
  {
    name: 'AS-02 deny: selector without the tenant label',
    object: appset({ generators: [clusters({ matchLabels: { env: 'dev' } })] }),
    rules: ['TG-AS-02'],
    paths: ['spec.generators[0].clusters.selector.matchLabels'],
  },
  {
    name: 'AS-02 deny: another tenant',
    object: appset({ generators: [clusters({ matchLabels: { [LABEL]: 'team-b' } })] }),
    rules: ['TG-AS-02'],
    paths: [`spec.generators[0].clusters.selector.matchLabels["${LABEL}"]`],
  },
  {
    name: 'AS-02 deny: templated value',
    object: appset({ generators: [clusters({ matchLabels: { [LABEL]: '{{.tenant}}' } })] }),
    rules: ['TG-AS-02'],
  },
  {
    name: 'AS-02 deny: templated key',
    object: appset({ generators: [clusters({ matchLabels: { [LABEL]: 'team-a', '{{.k}}': 'x' } })] }),
    rules: ['TG-AS-02'],
    paths: ['spec.generators[0].clusters.selector.matchLabels["{{.k}}"]'],
  },
  {
    name: 'AS-02 deny: templated expression key',
    object: appset({
      generators: [
        clusters({ ...TENANT_SELECTOR, matchExpressions: [{ key: '{{.k}}', operator: 'Exists' }] }),
      ],
    }),
    rules: ['TG-AS-02'],
    paths: ['spec.generators[0].clusters.selector.matchExpressions[0].key'],
  },
  ...(['NotIn', 'DoesNotExist', 'Exists'] as const).map((operator): Case => ({
    name: `AS-02 deny: ${operator} on the tenant label`,
    object: appset({
      generators: [
        clusters({
          ...TENANT_SELECTOR,
          matchExpressions: [{ key: LABEL, operator, values: operator === 'NotIn' ? ['team-b'] : [] }],
        }),
      ],
    }),
    rules: ['TG-AS-02'],
    paths: ['spec.generators[0].clusters.selector.matchExpressions[0]'],
  })),
  {
    name: 'AS-02 deny: In with another tenant',
    object: appset({
      generators: [
        clusters({ matchExpressions: [{ key: LABEL, operator: 'In', values: ['team-a', 'team-b'] }] }),
      ],
    }),
    rules: ['TG-AS-02'],
  },
  {
    name: 'AS-02 deny: nested two levels deep',
    object: appset({
      generators: [
        {
          matrix: {
            generators: [
              { list: { elements: [] } },
              { merge: { mergeKeys: ['name'], generators: [{ clusters: {} }] } },
            ],
          },
        },
      ],
    }),
    rules: ['TG-AS-02'],
    paths: ['spec.generators[0].matrix.generators[1].merge.generators[0].clusters.selector'],
  },
  {
    name: 'AS-02 allow: a post-filter selector is no clusters selector',
    object: appset({ generators: [{ list: { elements: [] }, selector: { matchLabels: { env: 'dev' } } }] }),
    rules: [],
  },
  // TG-AS-03
  {
    name: 'AS-03 allow: own cluster by name',
    object: withDestination({ name: 'k8s-team-a-prod' }),
    rules: [],
    warnings: 0,
  },
  {
    name: 'AS-03 allow: own server spelled otherwise',
    object: withDestination({ server: 'HTTPS://Team-A-Prod.example.com.:6443/' }),
    rules: [],
  },
  {
    name: "AS-03 deny: another tenant's cluster",
    object: withDestination({ name: 'k8s-team-b-dev' }),
    rules: ['TG-AS-03'],
    paths: ['spec.template.spec.destination.name'],
  },
  {
    name: "AS-03 deny: another tenant's server",
    object: withDestination({ server: 'https://team-b-dev.example.com:443' }),
    rules: ['TG-AS-03'],
  },
  { name: 'AS-03 deny: in-cluster', object: withDestination({ name: 'in-cluster' }), rules: ['TG-AS-03'] },
  {
    name: 'AS-03 deny: control plane, long spelling',
    object: withDestination({ server: 'https://kubernetes.default.svc.cluster.local.' }),
    rules: ['TG-AS-03'],
  },
  {
    name: 'AS-03 deny: both server and name',
    object: withDestination({ name: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' }),
    rules: ['TG-AS-03'],
    paths: ['spec.template.spec.destination'],
  },
  {
    name: 'AS-03 deny: generator template destination',
    object: appset({
      generators: [
        {
          list: {
            elements: [],
            template: { spec: { destination: { server: 'https://team-b-dev.example.com' } } },
          },
        },
      ],
    }),
    rules: ['TG-AS-03'],
    paths: ['spec.generators[0].list.template.spec.destination.server'],
  },
  {
    name: "AS-03 platform deny: a tenant's cluster",
    object: platformAppset({ name: 'k8s-team-a-dev' }),
    options: PLATFORM,
    rules: ['TG-AS-03'],
  },
  {
    name: "AS-03 platform deny: a tenant's server",
    object: platformAppset({ server: 'https://team-b-dev.example.com/' }),
    options: PLATFORM,
    rules: ['TG-AS-03'],
  },
  {
    name: 'AS-03 platform allow: the control plane',
    object: platformAppset({ name: 'in-cluster' }),
    options: PLATFORM,
    rules: [],
  },
  // TG-AS-04
  {
    name: 'AS-04 allow: own clusters and plain values',
    object: appset({
      generators: [
        {
          list: {
            elements: [{ cluster: 'k8s-team-a-dev', url: 'https://team-a-dev.example.com', env: 'dev' }],
          },
        },
      ],
    }),
    rules: [],
  },
  {
    name: "AS-04 deny: another tenant's cluster in an element",
    object: appset({ generators: [{ list: { elements: [{ cluster: 'k8s-team-b-dev' }] } }] }),
    rules: ['TG-AS-04'],
    paths: ['spec.generators[0].list.elements[0].cluster'],
  },
  {
    name: 'AS-04 deny: nested element value',
    object: appset({
      generators: [{ list: { elements: [{ values: { url: 'https://TEAM-B-dev.example.com/' } }] } }],
    }),
    rules: ['TG-AS-04'],
    paths: ['spec.generators[0].list.elements[0].values.url'],
  },
  {
    name: 'AS-04 deny: the control plane in an element',
    object: appset({ generators: [{ list: { elements: [{ url: 'https://kubernetes.default.svc' }] } }] }),
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 deny: elementsYaml',
    object: appset({
      generators: [
        { list: { elementsYaml: '- cluster: k8s-team-a-dev\n- url: "https://team-b-dev.example.com"\n' } },
      ],
    }),
    rules: ['TG-AS-04'],
    paths: ['spec.generators[0].list.elementsYaml[1].url'],
  },
  {
    name: 'AS-04 deny: templated elementsYaml with a literal foreign cluster',
    object: appset({ generators: [{ list: { elementsYaml: '{{ .x | toJson }}\n- name: k8s-team-b-dev' } }] }),
    rules: ['TG-AS-04'],
    paths: ['spec.generators[0].list.elementsYaml'],
    warnings: 2,
  },
  {
    name: 'AS-04 allow: templated elementsYaml is warned',
    object: appset({ generators: [{ list: { elementsYaml: '{{ .envs | toJson }}' } }] }),
    rules: [],
    warnings: 2,
  },
  {
    name: 'AS-04 deny: clusters values',
    object: appset({
      generators: [{ clusters: { selector: TENANT_SELECTOR, values: { target: 'k8s-team-b-dev' } } }],
    }),
    rules: ['TG-AS-04'],
    paths: ['spec.generators[0].clusters.values.target'],
  },
  {
    name: "AS-04 platform deny: a tenant's cluster",
    object: appset(
      { generators: [{ list: { elements: [{ cluster: 'k8s-team-a-dev' }] } }] },
      { metadata: { name: 'x' } },
    ),
    options: { tenant: null, namespace: 'argocd' },
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 platform allow: the control plane',
    object: appset(
      { generators: [{ list: { elements: [{ cluster: 'in-cluster' }] } }] },
      { metadata: { name: 'x' } },
    ),
    options: { tenant: null, namespace: 'argocd' },
    rules: [],
  },
  // TG-AS-05
  {
    name: 'AS-05 allow: git',
    object: appset({
      generators: [
        { git: { repoURL: 'https://git.example.com/a.git', revision: 'HEAD', directories: [{ path: '*' }] } },
      ],
    }),
    rules: [],
  },
  {
    name: 'AS-05 allow: scmProvider in the tenant namespace',
    object: appset({ generators: [{ scmProvider: { github: { organization: 'a' } } }] }),
    rules: [],
  },
  {
    name: 'AS-05 deny: scmProvider in the Argo CD namespace',
    object: appset({ generators: [{ scmProvider: { github: { organization: 'a' } } }] }),
    options: { namespace: 'argocd' },
    rules: ['TG-AS-05'],
    paths: ['spec.generators[0].scmProvider'],
  },
  {
    name: 'AS-05 deny: pullRequest and plugin in the Argo CD namespace',
    object: appset({
      generators: [
        { pullRequest: { github: { owner: 'a', repo: 'b' } } },
        { plugin: { configMapRef: { name: 'p' } } },
      ],
    }),
    options: { namespace: 'argocd', context: contextWith({ tenantPluginConfigMaps: 'p' }) },
    rules: ['TG-AS-05', 'TG-AS-05'],
  },
  {
    name: 'AS-05 deny: each kind of a multi-kind entry',
    object: appset({ generators: [{ list: { elements: [] }, plugin: { configMapRef: { name: 'p' } } }] }),
    options: { namespace: 'argocd', context: contextWith({ tenantPluginConfigMaps: 'p' }) },
    rules: ['TG-AS-05'],
    paths: ['spec.generators[0].plugin'],
  },
  // Found by a red-team review: Argo CD reads a plugin generator's ConfigMap and token
  // Secret in its own namespace (applicationset/generators/plugin.go), whatever the
  // ApplicationSet's, so a tenant could call any platform plugin with the platform's token.
  {
    name: 'AS-05 deny: a plugin in the tenant namespace that the settings offer no tenant',
    object: appset({ generators: [{ plugin: { configMapRef: { name: 'platform-inventory' } } }] }),
    rules: ['TG-AS-05'],
    paths: ['spec.generators[0].plugin.configMapRef.name'],
  },
  {
    name: 'AS-05 allow: a plugin the settings offer tenants, in the tenant namespace',
    object: appset({
      generators: [{ plugin: { configMapRef: { name: 'inventory' }, input: { parameters: {} } } }],
    }),
    options: { context: contextWith({ tenantPluginConfigMaps: 'inventory,other' }) },
    rules: [],
  },
  {
    name: 'AS-05 deny: an offered plugin named through a template, a case variant beside it, or nested in a matrix',
    object: appset({
      generators: [
        { plugin: { configMapRef: { name: '{{.plugin}}' } } },
        { plugin: { configMapRef: { name: 'inventory' }, ConfigMapRef: { name: 'platform' } } },
        {
          matrix: {
            generators: [{ list: { elements: [] } }, { plugin: { configMapRef: { name: 'platform' } } }],
          },
        },
      ],
    }),
    options: { context: contextWith({ tenantPluginConfigMaps: 'inventory' }) },
    rules: ['TG-AS-05', 'TG-AS-05', 'TG-AS-05', 'TG-AS-08'],
  },
  {
    name: "AS-05 deny: scmProvider awsCodeCommit (the controller's own AWS identity)",
    object: appset({
      generators: [
        { scmProvider: { awsCodeCommit: { region: 'eu-west-1', role: 'arn:aws:iam::2:role/x' } } },
      ],
    }),
    rules: ['TG-AS-05'],
    paths: ['spec.generators[0].scmProvider.awsCodeCommit'],
  },
  {
    name: 'AS-05 platform deny: scmProvider of no tenant',
    object: platformAppset({ name: 'in-cluster' }, {}, [{ scmProvider: { github: { organization: 'a' } } }]),
    options: PLATFORM,
    rules: ['TG-AS-05'],
  },
  {
    name: 'AS-05 deny: clusterDecisionResource by default',
    object: appset({ generators: [{ clusterDecisionResource: { configMapRef: 'ocm' } }] }),
    rules: ['TG-AS-05'],
  },
  {
    name: 'AS-05 allow: clusterDecisionResource when the setting allows it',
    object: appset({ generators: [{ clusterDecisionResource: { configMapRef: 'ocm' } }] }),
    options: { context: contextWith({ allowClusterDecisionResource: true }) },
    rules: [],
  },
  {
    name: 'AS-05 deny: unknown generator',
    object: appset({ generators: [{ quantum: {} }] }),
    rules: ['TG-AS-05'],
    paths: ['spec.generators[0].quantum'],
  },
  {
    name: 'AS-05 deny: entry with no generator',
    object: appset({ generators: [{ selector: { matchLabels: { a: 'b' } } }] }),
    rules: ['TG-AS-05'],
    paths: ['spec.generators[0]'],
  },
  // TG-AS-06
  {
    name: 'AS-06 deny: templatePatch',
    object: appset({ templatePatch: 'spec:\n  project: team-b\n' }),
    rules: ['TG-AS-06'],
    paths: ['spec.templatePatch'],
  },
  { name: 'AS-06 allow: empty templatePatch', object: appset({ templatePatch: '' }), rules: [] },
  // TG-AS-07
  {
    name: 'AS-07 deny: tenant label missing',
    object: appset({}, { metadata: { name: 'x' } }),
    rules: ['TG-AS-07'],
    paths: [`spec.template.metadata.labels["${LABEL}"]`],
  },
  {
    name: 'AS-07 deny: another tenant label',
    object: appset({}, { metadata: { labels: { [LABEL]: 'team-b' } } }),
    rules: ['TG-AS-07'],
  },
  {
    name: 'AS-07 deny: generator template sets it',
    object: appset({
      generators: [{ list: { elements: [], template: { metadata: { labels: { [LABEL]: 'team-a' } } } } }],
    }),
    rules: ['TG-AS-07'],
    paths: [`spec.generators[0].list.template.metadata.labels["${LABEL}"]`],
  },
  {
    name: 'AS-07 deny: templated label key',
    object: appset({}, { metadata: { labels: { [LABEL]: 'team-a', '{{.k}}': 'v' } } }),
    rules: ['TG-AS-07'],
    paths: ['spec.template.metadata.labels["{{.k}}"]'],
  },
  {
    name: 'AS-07 allow: other labels in a generator template',
    object: appset({
      generators: [{ list: { elements: [], template: { metadata: { labels: { env: '{{.env}}' } } } } }],
    }),
    rules: [],
  },
  {
    name: 'AS-07 platform deny: template claims a tenant',
    object: platformAppset({ name: 'in-cluster' }, { [LABEL]: 'team-a' }),
    options: { tenant: null, namespace: 'argocd' },
    rules: ['TG-AS-07'],
  },
  // TG-AS-08
  {
    name: 'AS-08 allow: exact keys in raw children',
    object: appset({
      generators: [
        {
          matrix: {
            generators: [
              { list: { elements: [{ Any: 'x', KEY: 'y' }] } },
              {
                merge: {
                  mergeKeys: ['a'],
                  generators: [
                    { clusters: { selector: TENANT_SELECTOR, values: { Foo: 'bar' } } },
                    { git: { repoURL: 'r', revision: 'HEAD', files: [{ path: 'a.json' }] } },
                  ],
                },
              },
            ],
          },
        },
      ],
    }),
    rules: [],
  },
  {
    name: 'AS-08 deny: case variant generator in raw JSON',
    object: appset({
      generators: [
        {
          matrix: {
            generators: [{ list: { elements: [] } }, { matrix: { generators: [{ Clusters: {} }] } }],
          },
        },
      ],
    }),
    rules: ['TG-AS-08'],
    paths: ['spec.generators[0].matrix.generators[1].matrix.generators[0].Clusters'],
  },
  {
    name: 'AS-08 deny: second selector spelled differently',
    object: appset({
      generators: [
        {
          matrix: {
            generators: [
              { list: { elements: [] } },
              { matrix: { generators: [{ clusters: { selector: TENANT_SELECTOR, Selector: {} } }] } },
            ],
          },
        },
      ],
    }),
    rules: ['TG-AS-08'],
  },
  {
    name: 'AS-08 deny: Go folds the long s',
    object: appset({
      generators: [
        {
          matrix: {
            generators: [
              { list: { elements: [] } },
              { matrix: { generators: [{ clusters: { selector: TENANT_SELECTOR, ſelector: {} } }] } },
            ],
          },
        },
      ],
    }),
    rules: ['TG-AS-08'],
  },
  {
    name: 'AS-08 deny: unknown key in raw JSON',
    object: appset({
      generators: [
        {
          matrix: {
            generators: [
              { list: { elements: [] } },
              { merge: { mergeKeys: ['a'], generators: [{ list: { elements: [], extra: true } }] } },
            ],
          },
        },
      ],
    }),
    rules: ['TG-AS-08'],
    paths: ['spec.generators[0].matrix.generators[1].merge.generators[0].list.extra'],
  },
  {
    name: 'AS-08 deny: template in a nested merge',
    object: appset({
      generators: [
        {
          matrix: {
            generators: [
              { list: { elements: [] } },
              {
                merge: {
                  mergeKeys: ['a'],
                  template: { metadata: {} },
                  generators: [{ list: { elements: [] } }],
                },
              },
            ],
          },
        },
      ],
    }),
    rules: ['TG-AS-08'],
  },
  {
    name: 'AS-08 deny: matrix three levels deep',
    object: appset({
      generators: [
        {
          matrix: {
            generators: [
              { list: { elements: [] } },
              { matrix: { generators: [{ matrix: { generators: [{ list: { elements: [] } }] } }] } },
            ],
          },
        },
      ],
    }),
    rules: ['TG-AS-08'],
  },
  {
    name: 'AS-08 deny: case variant at a typed level',
    object: appset(
      {},
      { spec: { project: 'team-a', Project: 'team-b', destination: { name: 'k8s-team-a-dev' } } },
    ),
    rules: ['TG-AS-08'],
    paths: ['spec.template.spec.Project'],
  },
  // TG-AS-09 (issue 8 item 3): fields the controller leaves alone, JSON pointers read as Argo CD's json-patch does
  ...[
    '/spec/project',
    '/spec/destination',
    '/spec/destination/server',
    '/spec',
    '/metadata',
    '/metadata/labels',
    `/metadata/labels/${LABEL.replace('/', '~1')}`,
    'x/spec/project',
    '/spec/destination/',
    'x/spec',
    'evil/metadata/labels',
    '~/spec',
  ].map((pointer): Case => ({
    name: `AS-09 deny: jsonPointer ${JSON.stringify(pointer)}`,
    object: appset({
      ignoreApplicationDifferences: [{ jsonPointers: ['/spec/source/targetRevision', pointer] }],
    }),
    rules: ['TG-AS-09'],
    paths: ['spec.ignoreApplicationDifferences[0].jsonPointers[1]'],
  })),
  ...[
    '/spec/source/targetRevision',
    '/spec/syncPolicy',
    '/metadata/annotations',
    '/metadata/labels/env',
    `/metadata/labels/${LABEL}`,
    '/spec/projects',
    '/specs/project',
    'spec',
    '',
    'spec/project',
    '/spec~1project',
    '/spec/destination~0',
    '/metadata/labels/tenantguard.dev~01tenant',
  ].map((pointer): Case => ({
    name: `AS-09 allow: jsonPointer ${JSON.stringify(pointer)}`,
    object: appset({ ignoreApplicationDifferences: [{ name: 'one', jsonPointers: [pointer] }] }),
    rules: [],
  })),
  {
    name: 'AS-09 deny: jqPathExpressions',
    object: appset({ ignoreApplicationDifferences: [{ jqPathExpressions: ['.spec.source.helm.values'] }] }),
    rules: ['TG-AS-09'],
    paths: ['spec.ignoreApplicationDifferences[0].jqPathExpressions'],
  },
  {
    name: 'AS-09 allow: empty jqPathExpressions',
    object: appset({
      ignoreApplicationDifferences: [{ jqPathExpressions: [], jsonPointers: ['/spec/syncPolicy'] }],
    }),
    rules: [],
  },
  {
    name: 'AS-09 deny: preservedFields.labels names the tenant label',
    object: appset({ preservedFields: { labels: ['env', LABEL], annotations: [LABEL] } }),
    rules: ['TG-AS-09'],
    paths: ['spec.preservedFields.labels[1]'],
  },
  {
    name: 'AS-09 allow: other preserved labels',
    object: appset({
      preservedFields: { labels: ['env', 'tenantguard.dev/Tenant'], annotations: ['notified'] },
    }),
    rules: [],
  },
  {
    name: 'AS-09 platform deny: a platform ApplicationSet may not keep them either',
    object: appset(
      {
        generators: [{ list: { elements: [{ env: 'ops' }] } }],
        ignoreApplicationDifferences: [{ jsonPointers: ['/spec'] }],
      },
      { metadata: { name: 'ops' }, spec: { project: 'default', destination: { name: 'in-cluster' } } },
    ),
    options: PLATFORM,
    rules: ['TG-AS-09'],
  },
  {
    name: 'REQ-01: ignoreApplicationDifferences of the wrong shape',
    object: appset({
      ignoreApplicationDifferences: [{ jsonPointers: '/spec' }, 'x', { jsonPointers: [7] }],
      preservedFields: { labels: 'x' },
    }),
    rules: ['TG-REQ-01', 'TG-REQ-01', 'TG-REQ-01', 'TG-REQ-01'],
  },
  // TG-AS-04 and -05 (issue 8 item 7): inspection limits and parsers
  {
    name: 'AS-04 deny: a foreign server nested deeper than the walk inspects',
    object: appset({
      generators: [{ list: { elements: [nest(40, { url: 'https://team-b-dev.example.com' })] } }],
    }),
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 deny: anything nested deeper than the walk inspects, foreign or not',
    object: appset({
      generators: [{ list: { elements: [nest(40, { url: 'https://team-a-dev.example.com' })] } }],
    }),
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 allow: nesting within the walk',
    object: appset({
      generators: [{ list: { elements: [nest(20, { url: 'https://team-a-dev.example.com' })] } }],
    }),
    rules: [],
  },
  {
    name: 'AS-04 deny: clusters values nested too deep',
    object: appset({
      generators: [{ clusters: { selector: TENANT_SELECTOR, values: nest(40, { a: 'b' }) } }],
    }),
    rules: ['TG-AS-04'],
  },
  {
    name: "AS-04 deny: another tenant's cluster as an element key",
    object: appset({ generators: [{ list: { elements: [{ 'k8s-team-b-dev': 'x' }] } }] }),
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 deny: elementsYaml !!binary hides a foreign server',
    object: appset({
      generators: [
        {
          list: {
            elementsYaml: `- url: !!binary ${Buffer.from('https://team-b-dev.example.com').toString('base64')}\n`,
          },
        },
      ],
    }),
    rules: ['TG-AS-04'],
    paths: ['spec.generators[0].list.elementsYaml[0].url'],
  },
  {
    name: 'AS-04 deny: elementsYaml !!binary of an own server is still a tag',
    object: appset({
      generators: [
        {
          list: {
            elementsYaml: `- url: !!binary ${Buffer.from('https://team-a-dev.example.com').toString('base64')}\n`,
          },
        },
      ],
    }),
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 deny: elementsYaml local tag',
    object: appset({ generators: [{ list: { elementsYaml: '- url: !x k8s-team-a-dev\n' } }] }),
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 deny: elementsYaml !!map tag',
    object: appset({ generators: [{ list: { elementsYaml: '- !!map {url: k8s-team-a-dev}\n' } }] }),
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 allow: elementsYaml core scalar tags',
    object: appset({
      generators: [
        {
          list: {
            elementsYaml:
              '- url: !!str k8s-team-a-dev\n  n: !!int 3\n  f: !!float 1.5\n  b: !!bool true\n  z: !!null ~\n',
          },
        },
      ],
    }),
    rules: [],
  },
  {
    name: 'AS-04 deny: a second merge key hides a foreign server from a last-key-wins reading',
    object: appset({
      generators: [{ list: { elementsYaml: '- <<: {target: k8s-team-b-dev}\n  <<: {env: dev}\n' } }],
    }),
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 deny: merged in through an alias',
    object: appset({
      generators: [
        {
          list: {
            elementsYaml: '- &base {target: "https://team-b-dev.example.com"}\n- <<: *base\n  env: dev\n',
          },
        },
      ],
    }),
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 deny: a double-quoted escape spells a foreign server',
    object: appset({
      generators: [{ list: { elementsYaml: '- target: "\\x68ttps://team-b-dev.example.com"\n' } }],
    }),
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 deny: untemplated elementsYaml that does not parse',
    object: appset({ generators: [{ list: { elementsYaml: '- a: [unclosed\n' } }] }),
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 deny: elementsYaml nested too deep',
    object: appset({ generators: [{ list: { elementsYaml: `- ${'['.repeat(40)}x${']'.repeat(40)}\n` } }] }),
    rules: ['TG-AS-04'],
  },
  {
    name: 'AS-04 deny: templated elementsYaml that parses is walked: !!binary beside a template',
    object: appset({
      generators: [
        {
          list: {
            elementsYaml: `- cluster: "{{.server}}"\n- cluster: !!binary ${Buffer.from('k8s-team-b-dev').toString('base64')}\n`,
          },
        },
      ],
    }),
    rules: ['TG-AS-04'],
    paths: ['spec.generators[0].list.elementsYaml[1].cluster'],
    warnings: 2,
  },
  {
    name: 'AS-04 deny: templated elementsYaml that does not parse: a tag token',
    object: appset({
      generators: [
        {
          list: {
            elementsYaml: `{{ .x }}: [\n- cluster: !!binary ${Buffer.from('k8s-team-b-dev').toString('base64')}\n`,
          },
        },
      ],
    }),
    rules: ['TG-AS-04'],
    paths: ['spec.generators[0].list.elementsYaml'],
    warnings: 2,
  },
  {
    name: 'AS-05 deny: scmProvider appSecretName',
    object: appset({
      generators: [{ scmProvider: { github: { organization: 'a', appSecretName: 'github-app' } } }],
    }),
    rules: ['TG-AS-05'],
    paths: ['spec.generators[0].scmProvider.github.appSecretName'],
  },
  {
    name: 'AS-05 deny: pullRequest appSecretName in a nested merge',
    object: appset({
      generators: [
        {
          matrix: {
            generators: [
              { list: { elements: [] } },
              {
                merge: {
                  mergeKeys: ['a'],
                  generators: [
                    { pullRequest: { github: { owner: 'a', repo: 'b', appSecretName: 'github-app' } } },
                  ],
                },
              },
            ],
          },
        },
      ],
    }),
    rules: ['TG-AS-05'],
  },
  {
    name: 'AS-05 allow: scmProvider with tokenRef',
    object: appset({
      generators: [
        { scmProvider: { github: { organization: 'a', tokenRef: { secretName: 'gh', key: 'token' } } } },
      ],
    }),
    rules: [],
  },
  // TG-REQ-01: never throw on a malformed object
  {
    name: 'REQ-01: spec is not an object',
    object: { metadata: {}, spec: 'x' },
    rules: ['TG-REQ-01'],
    paths: ['spec'],
  },
  {
    name: 'REQ-01: generators is not a list',
    object: appset({ generators: { list: {} } }),
    rules: ['TG-REQ-01'],
    paths: ['spec.generators'],
  },
  {
    name: 'REQ-01: entry is not an object',
    object: appset({ generators: ['list'] }),
    rules: ['TG-REQ-01'],
    paths: ['spec.generators[0]'],
  },
  {
    name: 'REQ-01: nested generators is not a list',
    object: appset({ generators: [{ matrix: { generators: 3 } }] }),
    rules: ['TG-REQ-01'],
    paths: ['spec.generators[0].matrix.generators'],
  },
  {
    name: 'REQ-01: clusters is a string',
    object: appset({ generators: [{ clusters: 'all' }] }),
    rules: ['TG-REQ-01'],
    paths: ['spec.generators[0].clusters'],
  },
  {
    name: 'REQ-01: selector is a list',
    object: appset({ generators: [{ clusters: { selector: [] } }] }),
    rules: ['TG-REQ-01'],
  },
  {
    name: 'REQ-01: template is a list',
    object: appset({ template: [] }),
    rules: ['TG-REQ-01'],
    paths: ['spec.template'],
  },
];

describe('applicationSetRules.validate', () => {
  for (const c of cases) {
    test(c.name, () => {
      const findings = applicationSetRules.validate(scopeFor(c.object, c.options));
      assert.deepEqual(
        findings.violations.map((v) => v.rule).sort(),
        [...c.rules].sort(),
        findings.violations.map((v) => v.message).join('\n'),
      );
      if (c.paths !== undefined)
        assert.deepEqual(
          findings.violations.map((v) => v.path),
          c.paths,
        );
      for (const v of findings.violations) assert.ok(v.message.startsWith(`${v.path} `), v.message);
      if (c.warnings !== undefined)
        assert.equal(findings.warnings.length, c.warnings, findings.warnings.join('\n'));
    });
  }

  test('reports every violation, not only the first', () => {
    const object = appset(
      { templatePatch: 'x', generators: [{ clusters: {} }, { quantum: {} }] },
      { metadata: {}, spec: { project: 'team-b', destination: { name: 'in-cluster' } } },
    );
    const rules = applicationSetRules
      .validate(scopeFor(object))
      .violations.map((v) => v.rule)
      .sort();
    assert.deepEqual(rules, ['TG-AS-01', 'TG-AS-02', 'TG-AS-03', 'TG-AS-05', 'TG-AS-06', 'TG-AS-07']);
  });

  test('a denial line names the value and what is allowed', () => {
    const [v] = applicationSetRules.validate(
      scopeFor(appset({}, { spec: { project: 'team-b' } })),
    ).violations;
    assert.equal(
      v?.message,
      'spec.template.spec.project "team-b" is not a project of tenant "team-a"; use one of: team-a, team-a-extra',
    );
  });

  test('a computed destination is warned about, not denied', () => {
    const findings = applicationSetRules.validate(scopeFor(withDestination({ server: '{{.server}}' })));
    assert.deepEqual(findings.violations, []);
    assert.equal(findings.warnings.length, 1);
    assert.match(
      findings.warnings[0] ?? '',
      /^\[TG-AS-03\] spec\.template\.spec\.destination\.server "\{\{\.server\}\}" is computed/,
    );
  });

  test('DELETE carries no kind violations', () => {
    const findings = applicationSetRules.validate(
      scopeFor(appset({ templatePatch: 'x' }), { operation: 'DELETE' }),
    );
    assert.deepEqual(findings, { violations: [], warnings: [] });
  });

  test('UPDATE is checked on the new object', () => {
    const findings = applicationSetRules.validate(
      scopeFor(appset({ templatePatch: 'x' }), { operation: 'UPDATE' }),
    );
    assert.deepEqual(
      findings.violations.map((v) => v.rule),
      ['TG-AS-06'],
    );
  });

  test('never throws on malformed input', () => {
    const junk: unknown[] = [
      null,
      1,
      'x',
      [],
      {},
      { generators: null },
      {
        generators: [
          null,
          [],
          { matrix: null },
          { matrix: [] },
          {
            merge: {
              generators: [
                { clusters: { selector: { matchLabels: 'x', matchExpressions: [null, { key: 1 }] } } },
              ],
            },
          },
        ],
      },
      { template: { metadata: { labels: [] }, spec: { destination: 'x' } } },
      { template: { spec: [] }, generators: [{ list: { elements: 'x', elementsYaml: ': : :' } }] },
    ];
    for (const spec of junk) {
      const object: KubeObject = { metadata: { name: 'x' }, spec };
      assert.doesNotThrow(() => applicationSetRules.validate(scopeFor(object)));
      assert.doesNotThrow(() => applicationSetRules.validate(scopeFor(object, { tenant: null })));
      const scope = scopeFor(object);
      assert.doesNotThrow(() =>
        applicationSetRules.mutate(editObject(deepFreeze(structuredClone(object))), {
          ...scope,
          tenant: scope.tenant ?? assert.fail('no tenant'),
        }),
      );
      assert.ok(applicationSetRules.validate(scopeFor(object)).violations.length > 0, JSON.stringify(spec));
    }
  });
});

describe('applicationSetRules.namedTenant and hasMaterialChange', () => {
  const context = contextWith();
  test('names the tenant of a literal project', () => {
    assert.equal(
      applicationSetRules.namedTenant(appset({}, { spec: { project: 'team-a-extra' } }), context)?.name,
      'team-a',
    );
    assert.equal(
      applicationSetRules.namedTenant(appset({}, { spec: { project: 'team-b' } }), context)?.name,
      'team-b',
    );
  });
  test('names no tenant for a templated, unknown or missing project', () => {
    for (const project of ['{{.p}}', 'default', '', undefined]) {
      assert.equal(
        applicationSetRules.namedTenant(appset({}, { spec: { project } }), context),
        undefined,
        String(project),
      );
    }
    assert.equal(applicationSetRules.namedTenant({ spec: 'x' }, context), undefined);
  });
  test('a spec change or the tenant label is material; annotations and status are not', () => {
    const base = appset();
    const annotated = {
      ...structuredClone(base),
      status: { conditions: [] },
      metadata: { name: 'apps', namespace: 'team-a', annotations: { a: 'b' } },
    };
    assert.equal(applicationSetRules.hasMaterialChange(base, annotated, context), false);
    assert.equal(applicationSetRules.hasMaterialChange(base, appset({ goTemplate: false }), context), true);
    assert.equal(
      applicationSetRules.hasMaterialChange(
        base,
        { ...base, metadata: { name: 'apps', labels: { [LABEL]: 'team-b' } } },
        context,
      ),
      true,
    );
  });
});

describe('rawTokens (elementsYaml that does not parse, compared token by token)', () => {
  test('each token loses its leading dashes and trailing colons, as /^-+|:+$/g takes them, in one pass', () => {
    // The regex tried `:+$` at every colon of a run: quadratic, 8 KiB of `:` ~55 ms (a red-team review).
    const regexReading = (text: string) =>
      text
        .split(/[\s"'`,[\]{}()|]+/)
        .map((t) => t.replace(/^-+|:+$/g, ''))
        .filter((t) => t !== '');
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('-', ':', 'a', 'b', ' ', ',', '"', '-:', ':-'), { maxLength: 30 }),
        (parts) => {
          const text = parts.join('');
          assert.deepEqual(rawTokens(text), regexReading(text));
        },
      ),
      { numRuns: 3_000 },
    );
    assert.deepEqual(rawTokens(`{{ ${':'.repeat(60_000)}x ---server:: https://a.example:443:`), [
      `${':'.repeat(60_000)}x`,
      'server',
      'https://a.example:443',
    ]);
  });
});
