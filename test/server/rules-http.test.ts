/**
 * One allow and one deny case for every rule id of SPEC sections 4 and 5, through the real
 * webhook app: POST /mutate, the patch applied, POST /validate (supertest). Each answer is
 * checked as an AdmissionReview: the uid echoed, `allowed`, code 403 on denial, and a denial
 * line that starts with `[RULE-ID] ` followed by the JSON path. The pure functions are run on
 * the same write and must agree.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RULE_ORDER, type KubeObject, type RuleId, type UserInfo } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { runHttp, runPure, webhookApp, type WriteRequest } from '../attacks/admission-flow.js';
import { foldStringData } from '../attacks/catalogue.js';
import { loadTenants } from '../support/policy-fixtures.js';

const settings = resolveSettings({});
const registry = loadTenants('prod-ca', settings.argocdNamespace);
const LABEL = settings.tenantLabel;
const CLUSTER_LABEL = settings.clusterLabel;
const TENANT_LABEL_PATH = `metadata.labels[${JSON.stringify(LABEL)}]`;

const ALICE: UserInfo = { username: 'alice', groups: ['team-a-admins', 'system:authenticated'] };
const BOB: UserInfo = { username: 'bob', groups: ['team-b-admins', 'system:authenticated'] };
const NOBODY: UserInfo = { username: 'nobody', groups: ['system:authenticated'] };
const ADMIN: UserInfo = { username: 'root', groups: ['platform-admins'] };
const APPSET_CONTROLLER: UserInfo = {
  username: 'system:serviceaccount:argocd:argocd-applicationset-controller',
  groups: ['system:serviceaccounts'],
};
const ARGOCD_SERVER: UserInfo = {
  username: 'system:serviceaccount:argocd:argocd-server',
  groups: ['system:serviceaccounts'],
};

const SOURCE = { repoURL: 'https://github.com/team-a/apps.git', targetRevision: 'HEAD', path: 'guestbook' };

function application(
  namespace: string,
  spec: Record<string, unknown>,
  labels: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'guestbook', namespace, labels },
    spec: {
      project: 'team-a',
      source: SOURCE,
      destination: { name: 'k8s-team-a-dev', namespace: 'guestbook' },
      ...spec,
    },
  };
}

function template(
  spec: Record<string, unknown> = {},
  labels?: Record<string, string>,
): Record<string, unknown> {
  return {
    metadata: { name: '{{.name}}-guestbook', ...(labels === undefined ? {} : { labels }) },
    spec: {
      project: 'team-a',
      source: SOURCE,
      destination: { server: '{{.server}}', namespace: 'guestbook' },
      ...spec,
    },
  };
}

function applicationSet(spec: Record<string, unknown>, namespace = 'team-a'): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'guestbook', namespace },
    spec: { goTemplate: true, generators: [{ clusters: {} }], template: template(), ...spec },
  };
}

const GIT = {
  git: { repoURL: 'https://github.com/team-a/apps.git', revision: 'HEAD', directories: [{ path: 'apps/*' }] },
};
const LIST = (elements: Array<Record<string, string>>) => ({ list: { elements } });

function execConfig(name: string, command = settings.pluginCommand): Record<string, unknown> {
  return {
    command,
    args: [settings.brokerUrl, name, settings.callerTokenPath, '--ca-file', settings.brokerCaPath],
    apiVersion: 'client.authentication.k8s.io/v1',
    provideClusterInfo: true,
  };
}

/** A cluster Secret as the API server sends it: `data` only. */
function clusterSecret(
  fields: Record<string, string | Record<string, unknown>>,
  labels: Record<string, string> = {},
  name = 'cluster-secret',
): KubeObject {
  const stringData = Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  );
  return foldStringData({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name,
      namespace: 'argocd',
      labels: { 'argocd.argoproj.io/secret-type': 'cluster', ...labels },
    },
    stringData,
  });
}

/** A project no tenant lists. */
function platformProject(name: string, destinations: unknown[]): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AppProject',
    metadata: { name, namespace: 'argocd' },
    spec: { sourceRepos: ['*'], destinations },
  };
}

/** The object with a controller ownerReference to the ApplicationSet `name`. */
function ownedBy(object: KubeObject, name: string): KubeObject {
  const metadata = {
    ...(object.metadata as Record<string, unknown>),
    ownerReferences: [
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'ApplicationSet',
        name,
        uid: `uid-${name}`,
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  };
  return { ...object, metadata };
}

function appProject(spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AppProject',
    metadata: { name: 'team-a', namespace: 'argocd', labels: { [LABEL]: 'team-a' } },
    spec: {
      sourceRepos: ['https://github.com/team-a/*'],
      sourceNamespaces: ['team-a'],
      destinations: [{ name: 'k8s-team-a-dev', namespace: '*' }],
      ...spec,
    },
  };
}

type Write = Omit<WriteRequest, 'uid'>;
const create = (user: UserInfo, object: KubeObject): Write => ({ operation: 'CREATE', user, object });

interface RuleCase {
  readonly rule: RuleId;
  readonly allow: { readonly name: string; readonly write: Write };
  readonly deny: {
    readonly name: string;
    readonly write: Write;
    readonly path: string;
    readonly rules?: readonly RuleId[];
  };
}

const A_SECRET = { name: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' };

const CASES: readonly RuleCase[] = [
  {
    rule: 'TG-OWN-01',
    allow: {
      name: 'tenant label agrees with the namespace',
      write: create(ALICE, application('team-a', {}, { [LABEL]: 'team-a' })),
    },
    deny: {
      name: 'tenant label names another tenant than the namespace',
      write: create(ALICE, application('team-a', {}, { [LABEL]: 'team-b' })),
      path: TENANT_LABEL_PATH,
    },
  },
  {
    rule: 'TG-OWN-02',
    allow: {
      name: 'a human object in argocd whose tenant label says whose it is',
      write: create(ALICE, application('argocd', {}, { [LABEL]: 'team-a' })),
    },
    deny: {
      name: 'a human object in argocd whose tenant cannot be told',
      write: create(
        NOBODY,
        application('argocd', { project: 'default', destination: { name: 'in-cluster', namespace: 'x' } }),
      ),
      path: TENANT_LABEL_PATH,
    },
  },
  {
    rule: 'TG-OWN-03',
    allow: {
      name: 'an owner writes in the tenant namespace',
      write: create(ALICE, application('team-a', {})),
    },
    deny: {
      name: 'a non-owner writes in the tenant namespace',
      write: create(BOB, application('team-a', {})),
      path: 'metadata',
    },
  },
  {
    rule: 'TG-AS-01',
    allow: { name: 'a project of the tenant', write: create(ALICE, applicationSet({})) },
    deny: {
      name: "another tenant's project",
      write: create(ALICE, applicationSet({ template: template({ project: 'team-b' }) })),
      path: 'spec.template.spec.project',
    },
  },
  {
    rule: 'TG-AS-02',
    allow: {
      name: 'clusters: {} gets the tenant selector from /mutate',
      write: create(ALICE, applicationSet({ generators: [{ clusters: {} }] })),
    },
    deny: {
      name: 'a selector naming another tenant',
      write: create(
        ALICE,
        applicationSet({ generators: [{ clusters: { selector: { matchLabels: { [LABEL]: 'team-b' } } } }] }),
      ),
      path: `spec.generators[0].clusters.selector.matchLabels[${JSON.stringify(LABEL)}]`,
    },
  },
  {
    rule: 'TG-AS-03',
    allow: {
      name: 'a literal destination of the tenant',
      write: create(
        ALICE,
        applicationSet({
          generators: [GIT],
          template: template({ destination: { name: 'k8s-team-a-dev', namespace: 'x' } }),
        }),
      ),
    },
    deny: {
      name: 'a literal destination of another tenant',
      write: create(
        ALICE,
        applicationSet({
          generators: [GIT],
          template: template({ destination: { name: 'k8s-team-b-dev', namespace: 'x' } }),
        }),
      ),
      path: 'spec.template.spec.destination.name',
    },
  },
  {
    rule: 'TG-AS-04',
    allow: {
      name: "list elements naming the tenant's servers",
      write: create(
        ALICE,
        applicationSet({ generators: [LIST([{ name: 'dev', server: 'https://team-a-dev.example.com' }])] }),
      ),
    },
    deny: {
      name: "a list element naming another tenant's server",
      write: create(
        ALICE,
        applicationSet({ generators: [LIST([{ name: 'x', server: 'https://team-b-dev.example.com' }])] }),
      ),
      path: 'spec.generators[0].list.elements[0].server',
    },
  },
  {
    rule: 'TG-AS-05',
    allow: {
      name: 'a git generator',
      write: create(
        ALICE,
        applicationSet({
          generators: [GIT],
          template: template({ destination: { name: 'k8s-team-a-dev', namespace: 'x' } }),
        }),
      ),
    },
    deny: {
      name: 'a clusterDecisionResource generator',
      write: create(
        ALICE,
        applicationSet({ generators: [{ clusterDecisionResource: { configMapRef: 'cm', name: 'quak' } }] }),
      ),
      path: 'spec.generators[0].clusterDecisionResource',
    },
  },
  {
    rule: 'TG-AS-06',
    allow: {
      name: 'a platform admin may use templatePatch',
      write: create(ADMIN, applicationSet({ templatePatch: 'metadata:\n  annotations:\n    x: y\n' })),
    },
    deny: {
      name: 'a tenant may not use templatePatch',
      write: create(ALICE, applicationSet({ templatePatch: 'metadata:\n  annotations:\n    x: y\n' })),
      path: 'spec.templatePatch',
    },
  },
  {
    rule: 'TG-AS-09',
    allow: {
      name: 'ignoring a field below spec.source',
      write: create(
        ALICE,
        applicationSet({ ignoreApplicationDifferences: [{ jsonPointers: ['/spec/source/targetRevision'] }] }),
      ),
    },
    deny: {
      name: 'ignoring spec.destination, which adoption would keep',
      write: create(
        ALICE,
        applicationSet({ ignoreApplicationDifferences: [{ jsonPointers: ['/spec/destination'] }] }),
      ),
      path: 'spec.ignoreApplicationDifferences[0].jsonPointers[0]',
    },
  },
  {
    rule: 'TG-AS-07',
    allow: {
      name: 'no tenant label: /mutate adds it',
      write: create(ALICE, applicationSet({ template: template({}, { app: 'guestbook' }) })),
    },
    deny: {
      name: 'generated Applications labelled for another tenant',
      write: create(ALICE, applicationSet({ template: template({}, { [LABEL]: 'team-b' }) })),
      path: `spec.template.metadata.labels[${JSON.stringify(LABEL)}]`,
    },
  },
  {
    rule: 'TG-AS-08',
    allow: {
      name: 'nested matrix with exact field names',
      write: create(
        ALICE,
        applicationSet({
          generators: [
            {
              matrix: {
                generators: [{ matrix: { generators: [{ clusters: {} }, LIST([{ a: 'b' }])] } }, GIT],
              },
            },
          ],
        }),
      ),
    },
    deny: {
      name: 'a case-variant generator in nested raw JSON',
      write: create(
        ALICE,
        applicationSet({
          generators: [
            {
              matrix: {
                generators: [{ matrix: { generators: [{ Clusters: {} }, LIST([{ a: 'b' }])] } }, GIT],
              },
            },
          ],
        }),
      ),
      path: 'spec.generators[0].matrix.generators[0].matrix.generators[0].Clusters',
    },
  },
  {
    rule: 'TG-AS-10',
    allow: {
      name: "a git generator reading one of the tenant's repositories",
      write: create(ALICE, applicationSet({ generators: [GIT] })),
    },
    deny: {
      name: "a git generator reading another tenant's repository, nested in a matrix",
      write: create(
        ALICE,
        applicationSet({
          generators: [
            {
              matrix: {
                generators: [
                  { clusters: {} },
                  { git: { ...GIT.git, repoURL: 'https://github.com/team-b/private.git' } },
                ],
              },
            },
          ],
        }),
      ),
      path: 'spec.generators[0].matrix.generators[1].git.repoURL',
    },
  },
  {
    rule: 'TG-APP-01',
    allow: {
      name: 'a project of the tenant',
      write: create(ALICE, application('team-a', { project: 'team-a' })),
    },
    deny: {
      name: "another tenant's project",
      write: create(ALICE, application('team-a', { project: 'team-b' })),
      path: 'spec.project',
    },
  },
  {
    rule: 'TG-APP-02',
    allow: {
      name: 'a cluster of the tenant (server, another spelling)',
      write: create(
        ALICE,
        application('team-a', {
          destination: { server: 'HTTPS://Team-A-Dev.example.com:443/', namespace: 'x' },
        }),
      ),
    },
    deny: {
      name: 'a cluster of another tenant',
      write: create(
        ALICE,
        application('team-a', { destination: { name: 'k8s-team-b-dev', namespace: 'x' } }),
      ),
      path: 'spec.destination.name',
    },
  },
  {
    rule: 'TG-APP-03',
    allow: {
      name: 'the ApplicationSet controller sets its controller reference',
      write: create(APPSET_CONTROLLER, ownedBy(application('team-a', {}), 'guestbook')),
    },
    deny: {
      name: 'an owner points the Application at another ApplicationSet',
      write: {
        operation: 'UPDATE',
        user: ALICE,
        oldObject: application('team-a', {}),
        object: ownedBy(application('team-a', {}), 'other'),
      },
      path: 'metadata.ownerReferences[0]',
    },
  },
  {
    rule: 'TG-APP-04',
    allow: {
      name: 'an owner starts a sync of the spec, at a revision',
      write: {
        operation: 'UPDATE',
        user: ALICE,
        oldObject: application('team-a', {}),
        object: { ...application('team-a', {}), operation: { sync: { revision: 'main' } } },
      },
    },
    deny: {
      name: 'an owner starts a sync of a path the spec does not name',
      write: {
        operation: 'UPDATE',
        user: ALICE,
        oldObject: application('team-a', {}),
        object: {
          ...application('team-a', {}),
          operation: { sync: { source: { ...SOURCE, path: 'elsewhere' } } },
        },
      },
      path: 'operation.sync.source',
    },
  },
  {
    rule: 'TG-APP-05',
    allow: {
      name: "an Application of one of the tenant's repositories, spelled in capitals",
      write: create(
        ALICE,
        application('team-a', { source: { ...SOURCE, repoURL: 'https://GitHub.com/team-a/Apps.git' } }),
      ),
    },
    deny: {
      name: "an Application of another tenant's repository",
      write: create(
        ALICE,
        application('team-a', { source: { ...SOURCE, repoURL: 'https://github.com/team-b/private.git' } }),
      ),
      path: 'spec.source.repoURL',
    },
  },
  {
    rule: 'TG-CS-01',
    allow: {
      name: "tenant label of the cluster's owner",
      write: create(ALICE, clusterSecret(A_SECRET, { [LABEL]: 'team-a' })),
    },
    deny: {
      name: 'tenant label of another tenant',
      write: create(
        BOB,
        clusterSecret(
          { ...A_SECRET, config: { execProviderConfig: execConfig('k8s-team-a-dev') } },
          { [LABEL]: 'team-b' },
        ),
      ),
      path: TENANT_LABEL_PATH,
      rules: ['TG-CS-01', 'TG-CS-02'],
    },
  },
  {
    rule: 'TG-CS-02',
    allow: {
      name: 'server missing: /mutate sets the registered one',
      write: create(ALICE, clusterSecret({ name: 'k8s-team-a-dev' })),
    },
    deny: {
      name: 'server not spelled as registered',
      write: create(ALICE, clusterSecret({ ...A_SECRET, server: 'https://team-a-dev.example.com:443' })),
      path: 'data.server',
    },
  },
  {
    rule: 'TG-CS-03',
    allow: {
      name: 'allowed config keys only',
      write: create(
        ALICE,
        clusterSecret({
          ...A_SECRET,
          config: {
            execProviderConfig: execConfig('k8s-team-a-dev'),
            tlsClientConfig: { serverName: 'team-a-dev.example.com' },
          },
        }),
      ),
    },
    deny: {
      name: 'a bearerToken',
      write: create(
        ALICE,
        clusterSecret({
          ...A_SECRET,
          config: { bearerToken: 'static', execProviderConfig: execConfig('k8s-team-a-dev') },
        }),
      ),
      path: 'data.config.bearerToken',
    },
  },
  {
    rule: 'TG-CS-04',
    allow: {
      name: 'no config: /mutate writes the plugin call',
      write: create(ALICE, clusterSecret(A_SECRET)),
    },
    deny: {
      name: 'a foreign exec command',
      write: create(
        ALICE,
        clusterSecret({
          ...A_SECRET,
          config: { execProviderConfig: execConfig('k8s-team-a-dev', '/bin/sh') },
        }),
      ),
      path: 'data.config.execProviderConfig.command',
    },
  },
  {
    rule: 'TG-CS-05',
    allow: {
      name: 'the registry CA is added by /mutate',
      write: create(
        ALICE,
        clusterSecret({ name: 'k8s-team-a-prod', server: 'https://team-a-prod.example.com' }),
      ),
    },
    deny: {
      name: 'insecure: true',
      write: create(
        ALICE,
        clusterSecret({
          ...A_SECRET,
          config: { execProviderConfig: execConfig('k8s-team-a-dev'), tlsClientConfig: { insecure: true } },
        }),
      ),
      path: 'data.config.tlsClientConfig.insecure',
    },
  },
  {
    rule: 'TG-CS-06',
    allow: { name: 'cluster label missing: /mutate sets it', write: create(ALICE, clusterSecret(A_SECRET)) },
    deny: {
      name: 'cluster label naming another cluster',
      write: create(ALICE, clusterSecret(A_SECRET, { [CLUSTER_LABEL]: 'k8s-team-a-prod' })),
      path: `metadata.labels[${JSON.stringify(CLUSTER_LABEL)}]`,
    },
  },
  {
    rule: 'TG-CS-07',
    allow: {
      name: "an owner deletes the tenant's cluster Secret",
      write: {
        operation: 'DELETE',
        user: ALICE,
        oldObject: clusterSecret(A_SECRET, { [LABEL]: 'team-a', [CLUSTER_LABEL]: 'k8s-team-a-dev' }),
      },
    },
    deny: {
      name: 'a human who is not an owner deletes it (trusted service accounts may)',
      write: {
        operation: 'DELETE',
        user: BOB,
        oldObject: clusterSecret(A_SECRET, { [LABEL]: 'team-a', [CLUSTER_LABEL]: 'k8s-team-a-dev' }),
      },
      path: 'metadata.name',
      rules: ['TG-OWN-03', 'TG-CS-07'],
    },
  },
  {
    rule: 'TG-CS-08',
    allow: {
      name: "a platform admin's bearer-token Secret on a platform server",
      write: create(
        ADMIN,
        clusterSecret({ name: 'shared', server: 'https://shared.example.com', config: { bearerToken: 'x' } }),
      ),
    },
    deny: {
      name: "a platform Secret on team-b's server in another spelling, by a platform admin",
      write: create(
        ADMIN,
        clusterSecret({
          name: 'capture',
          server: 'https://TEAM-B-DEV.example.com:443/',
          config: { bearerToken: 'x' },
        }),
      ),
      path: 'data.server',
    },
  },
  {
    rule: 'TG-PRJ-01',
    allow: {
      name: "a trusted service account writes the tenant's project with its own clusters",
      write: {
        operation: 'UPDATE',
        user: ARGOCD_SERVER,
        oldObject: appProject({}),
        object: appProject({
          destinations: [
            { name: 'k8s-team-a-dev', namespace: '*' },
            { server: 'https://team-a-prod.example.com', namespace: '*' },
          ],
        }),
      },
    },
    deny: {
      name: "a tenant owner edits the tenant's project",
      write: {
        operation: 'UPDATE',
        user: ALICE,
        oldObject: appProject({}),
        object: appProject({ sourceNamespaces: ['team-a', 'team-b'] }),
      },
      path: 'metadata.name',
      rules: ['TG-PRJ-01'],
    },
  },
  {
    rule: 'TG-PRJ-02',
    allow: {
      name: 'argocd-server creates the default project with *',
      write: create(ARGOCD_SERVER, platformProject('default', [{ server: '*', namespace: '*' }])),
    },
    deny: {
      name: "a platform project names a tenant's cluster",
      write: create(
        ARGOCD_SERVER,
        platformProject('tools', [{ server: 'https://team-a-dev.example.com', namespace: '*' }]),
      ),
      path: 'spec.destinations[0].server',
    },
  },
];

/** Every rule of the catalogue but TG-REQ-01 (an unreadable request: test/admission). */
const ALL_RULES: readonly RuleId[] = RULE_ORDER.filter((r) => r !== 'TG-REQ-01');

describe('every rule id through POST /mutate then POST /validate', () => {
  const { app } = webhookApp(registry, settings);

  test('the table has an allow and a deny case for every rule id', () => {
    assert.deepEqual(
      CASES.map((c) => c.rule),
      [...ALL_RULES],
    );
  });

  CASES.forEach((c, i) => {
    test(`${c.rule} allow: ${c.allow.name}`, async () => {
      const write: WriteRequest = {
        uid: `6a11a0e0-0000-4000-8000-${String(i).padStart(12, '0')}`,
        ...c.allow.write,
      };
      const result = await runHttp(write, app);
      assert.equal(result.allowed, true, `expected allowed, got:\n${result.lines.join('\n')}`);
      assert.equal(result.response.status, undefined, 'an allowed answer carries no status');
      assert.equal(runPure(write, { registry, settings }).allowed, true, 'the pure functions agree');
    });

    test(`${c.rule} deny: ${c.deny.name}`, async () => {
      const uid = `de5e0000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      const write: WriteRequest = { uid, ...c.deny.write };
      const result = await runHttp(write, app);
      assert.equal(result.response.uid, uid);
      assert.equal(result.allowed, false, `expected ${c.rule}, got allowed`);
      assert.deepEqual(
        [...new Set(result.rules)].sort(),
        [...(c.deny.rules ?? [c.rule])].sort(),
        result.lines.join('\n'),
      );
      const line = result.lines.find((l) => l.startsWith(`[${c.rule}] `));
      assert.ok(line !== undefined, `a line starts with "[${c.rule}] ":\n${result.lines.join('\n')}`);
      assert.ok(
        line.startsWith(`[${c.rule}] ${c.deny.path} `),
        `the ${c.rule} line names the path ${c.deny.path}: ${line}`,
      );
      assert.deepEqual(
        runPure(write, { registry, settings }).rules,
        result.rules,
        'the pure functions give the same lines',
      );
    });
  });
});
