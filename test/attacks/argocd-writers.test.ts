/**
 * Argo CD keeps working (issue 8): each of Argo CD's writers, and the Kubernetes system
 * controllers, make their normal writes, and each is allowed through /mutate then /validate,
 * both through the pure functions and over HTTP. Beside them, the writes the same accounts
 * may not make. The tenants are the attack catalogue's; team-a's "stale" Application
 * targets team-b's cluster, as if a registry change had put it out of bounds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { KubeObject, PolicyContext, UserInfo } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { runHttp, runPure, webhookApp, type WriteRequest } from './admission-flow.js';
import { ATTACK_TENANTS, foldStringData } from './catalogue.js';

const settings = resolveSettings({});
const context: PolicyContext = {
  registry: parseTenantsYaml(readFileSync(ATTACK_TENANTS, 'utf8'), 'test/attacks/tenants.yaml', 'argocd'),
  settings,
};
const LABEL = settings.tenantLabel;

const sa = (name: string, namespace = 'argocd'): UserInfo => ({
  username: `system:serviceaccount:${namespace}:${name}`,
  groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
});
const APP_CONTROLLER = sa('argocd-application-controller');
const APPSET_CONTROLLER = sa('argocd-applicationset-controller');
const NOTIFICATIONS = sa('argocd-notifications-controller');
const SERVER = sa('argocd-server');
const GC = sa('generic-garbage-collector', 'kube-system');
const NAMESPACE_CONTROLLER = sa('namespace-controller', 'kube-system');

const DELETING = '2026-01-01T00:00:00Z';
const OWNER = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'ApplicationSet',
  name: 'guestbook',
  uid: '7c1e0d2a-0000-4000-8000-000000000001',
  controller: true,
  blockOwnerDeletion: true,
};

interface AppOptions {
  readonly namespace?: string;
  readonly destination?: Record<string, string>;
  readonly path?: string;
  readonly metadata?: Record<string, unknown>;
  readonly extra?: Record<string, unknown>;
  readonly labelled?: boolean;
}

function application(o: AppOptions = {}): KubeObject {
  const namespace = o.namespace ?? 'team-a';
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: {
      name: 'guestbook',
      namespace,
      ...(o.labelled === false ? {} : { labels: { [LABEL]: 'team-a' } }),
      ...o.metadata,
    },
    spec: {
      project: 'team-a',
      source: {
        repoURL: 'https://github.com/team-a/apps.git',
        targetRevision: 'HEAD',
        path: o.path ?? 'guestbook',
      },
      destination: { name: 'k8s-team-a-dev', namespace: 'guestbook', ...o.destination },
      syncPolicy: { automated: { prune: true } },
    },
    ...o.extra,
  };
}

/** team-a's Application whose destination a registry change put out of bounds. */
const stale = (o: AppOptions = {}) => application({ ...o, destination: { name: 'k8s-team-b-dev' } });

const SYNC = { sync: { revision: 'abc123', syncStrategy: { hook: {} } }, initiatedBy: { automated: true } };
const STATUS = { sync: { status: 'Synced', revision: 'abc123' }, health: { status: 'Healthy' } };

function applicationSet(
  o: { metadata?: Record<string, unknown>; extra?: Record<string, unknown> } = {},
): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'guestbook', namespace: 'team-a', labels: { [LABEL]: 'team-a' }, ...o.metadata },
    spec: {
      goTemplate: true,
      generators: [{ clusters: { selector: { matchLabels: { [LABEL]: 'team-a' } } } }],
      template: {
        metadata: { name: '{{.name}}-guestbook', labels: { [LABEL]: 'team-a' } },
        spec: {
          project: 'team-a',
          source: {
            repoURL: 'https://github.com/team-a/apps.git',
            targetRevision: 'HEAD',
            path: 'guestbook',
          },
          destination: { server: '{{.server}}', namespace: 'guestbook' },
        },
      },
    },
    ...o.extra,
  };
}

function clusterSecret(): KubeObject {
  const config = {
    execProviderConfig: {
      command: settings.pluginCommand,
      args: [
        settings.brokerUrl,
        'k8s-team-a-dev',
        settings.callerTokenPath,
        '--ca-file',
        settings.brokerCaPath,
      ],
      apiVersion: 'client.authentication.k8s.io/v1',
      provideClusterInfo: true,
    },
  };
  return foldStringData({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: 'k8s-team-a-dev',
      namespace: 'argocd',
      labels: {
        'argocd.argoproj.io/secret-type': 'cluster',
        [LABEL]: 'team-a',
        [settings.clusterLabel]: 'k8s-team-a-dev',
      },
    },
    stringData: {
      name: 'k8s-team-a-dev',
      server: 'https://team-a-dev.example.com',
      config: JSON.stringify(config),
    },
  });
}

const update = (user: UserInfo, oldObject: KubeObject, object: KubeObject): Omit<WriteRequest, 'uid'> => ({
  operation: 'UPDATE',
  user,
  oldObject,
  object,
});
const withMeta = (object: KubeObject, metadata: Record<string, unknown>): KubeObject => ({
  ...object,
  metadata: { ...(object.metadata as Record<string, unknown>), ...metadata },
});

interface WriterCase {
  readonly writer: string;
  readonly name: string;
  readonly write: Omit<WriteRequest, 'uid'>;
  /** Undefined: allowed. Otherwise the rule ids of the denial. */
  readonly denied?: readonly string[];
}

const CASES: WriterCase[] = [
  // The application controller: status, operation set and cleared, finalizers, app-of-apps.
  {
    writer: 'application controller',
    name: 'writes status',
    write: update(APP_CONTROLLER, application(), application({ extra: { status: STATUS } })),
  },
  {
    writer: 'application controller',
    name: 'writes status of an Application out of bounds',
    write: update(APP_CONTROLLER, stale(), stale({ extra: { status: STATUS } })),
  },
  {
    writer: 'application controller',
    name: 'writes status of an Application made before the tenant label (/mutate pins it)',
    write: update(
      APP_CONTROLLER,
      application({ labelled: false }),
      application({ labelled: false, extra: { status: STATUS } }),
    ),
  },
  {
    writer: 'application controller',
    name: 'sets operation (automated sync)',
    write: update(
      APP_CONTROLLER,
      application({ extra: { status: STATUS } }),
      application({ extra: { status: STATUS, operation: SYNC } }),
    ),
  },
  {
    writer: 'application controller',
    name: 'clears operation and records its state',
    write: update(
      APP_CONTROLLER,
      application({ extra: { operation: SYNC } }),
      application({ extra: { status: { ...STATUS, operationState: { phase: 'Succeeded' } } } }),
    ),
  },
  {
    writer: 'application controller',
    name: 'clears operation of an Application out of bounds',
    write: update(
      APP_CONTROLLER,
      stale({ extra: { operation: SYNC } }),
      stale({ extra: { status: { operationState: { phase: 'Failed' } } } }),
    ),
  },
  {
    writer: 'application controller',
    name: 'may not start a sync of an Application out of bounds',
    write: update(APP_CONTROLLER, stale(), stale({ extra: { operation: SYNC } })),
    denied: ['TG-APP-02'],
  },
  {
    writer: 'application controller',
    name: 'removes the resources finalizer of a terminating Application',
    write: update(
      APP_CONTROLLER,
      application({
        metadata: { deletionTimestamp: DELETING, finalizers: ['resources-finalizer.argocd.argoproj.io'] },
      }),
      application({ metadata: { deletionTimestamp: DELETING, finalizers: [] } }),
    ),
  },
  {
    writer: 'application controller',
    name: 'removes the post-delete finalizers of a terminating Application out of bounds',
    write: update(
      APP_CONTROLLER,
      stale({
        metadata: {
          deletionTimestamp: DELETING,
          finalizers: [
            'post-delete-finalizer.argocd.argoproj.io',
            'post-delete-finalizer.argocd.argoproj.io/cleanup',
          ],
        },
      }),
      stale({
        metadata: {
          deletionTimestamp: DELETING,
          finalizers: ['post-delete-finalizer.argocd.argoproj.io/cleanup'],
        },
      }),
    ),
  },
  {
    writer: 'application controller',
    name: 'applies a platform app-of-apps child to the control plane',
    write: {
      operation: 'CREATE',
      user: APP_CONTROLLER,
      object: {
        ...application({ namespace: 'argocd', labelled: false }),
        spec: {
          project: 'default',
          source: { repoURL: 'https://github.com/platform/addons.git', path: 'ingress' },
          destination: { server: 'https://kubernetes.default.svc', namespace: 'ingress' },
        },
      },
    },
  },
  // The ApplicationSet controller: create, update and delete with its ownerReference; its own status and finalizer.
  {
    writer: 'ApplicationSet controller',
    name: 'creates an Application with its controller reference',
    write: {
      operation: 'CREATE',
      user: APPSET_CONTROLLER,
      object: application({ metadata: { ownerReferences: [OWNER] } }),
    },
  },
  {
    writer: 'ApplicationSet controller',
    name: 'updates it, setting its reference again',
    write: update(
      APPSET_CONTROLLER,
      application({ metadata: { ownerReferences: [OWNER] } }),
      application({ path: 'guestbook-v2', metadata: { ownerReferences: [OWNER] } }),
    ),
  },
  {
    writer: 'ApplicationSet controller',
    name: 'adopts an Application of the same tenant after its ApplicationSet was re-created',
    write: update(
      APPSET_CONTROLLER,
      application({ metadata: { ownerReferences: [{ ...OWNER, uid: 'old-uid' }] } }),
      application({ metadata: { ownerReferences: [OWNER] } }),
    ),
  },
  {
    writer: 'ApplicationSet controller',
    name: 'deletes an Application',
    write: {
      operation: 'DELETE',
      user: APPSET_CONTROLLER,
      oldObject: application({ metadata: { ownerReferences: [OWNER] } }),
    },
  },
  {
    writer: 'ApplicationSet controller',
    name: 'deletes an Application out of bounds',
    write: {
      operation: 'DELETE',
      user: APPSET_CONTROLLER,
      oldObject: stale({ metadata: { ownerReferences: [OWNER] } }),
    },
  },
  {
    writer: 'ApplicationSet controller',
    name: "writes the ApplicationSet's status",
    write: update(
      APPSET_CONTROLLER,
      applicationSet(),
      applicationSet({ extra: { status: { conditions: [{ type: 'ResourcesUpToDate', status: 'True' }] } } }),
    ),
  },
  {
    writer: 'ApplicationSet controller',
    name: 'removes the resources finalizer of a terminating ApplicationSet',
    write: update(
      APPSET_CONTROLLER,
      applicationSet({
        metadata: { deletionTimestamp: DELETING, finalizers: ['resources-finalizer.argocd.argoproj.io'] },
      }),
      applicationSet({ metadata: { deletionTimestamp: DELETING } }),
    ),
  },
  {
    writer: 'ApplicationSet controller',
    name: "may not adopt another tenant's Application",
    write: update(
      APPSET_CONTROLLER,
      application({ namespace: 'team-b', labelled: false, destination: { name: 'k8s-team-b-dev' } }),
      {
        ...application({ namespace: 'team-b', metadata: { ownerReferences: [OWNER] } }),
        spec: {
          project: 'team-b',
          destination: { name: 'k8s-team-b-dev' },
          source: { repoURL: 'https://github.com/team-a/evil.git' },
        },
      },
    ),
    denied: ['TG-OWN-01'],
  },
  // The notifications controller: annotations only.
  {
    writer: 'notifications controller',
    name: 'records a sent notification in an annotation',
    write: update(
      NOTIFICATIONS,
      application(),
      application({
        metadata: {
          annotations: {
            'notified.notifications.argoproj.io':
              '{"on-sync-succeeded:[0].y7b5sbwa2Q329JYH755peeq-fBs:slack:team-a":1764460800}',
          },
        },
      }),
    ),
  },
  {
    writer: 'notifications controller',
    name: 'annotates an Application out of bounds, unlabelled in the Argo CD namespace',
    write: update(
      NOTIFICATIONS,
      stale({ namespace: 'argocd', labelled: false }),
      stale({
        namespace: 'argocd',
        labelled: false,
        metadata: { annotations: { 'notified.notifications.argoproj.io': '{}' } },
      }),
    ),
  },
  {
    writer: 'notifications controller',
    name: 'may not change the spec',
    write: update(NOTIFICATIONS, application(), application({ path: 'other' })),
    denied: ['TG-OWN-03'],
  },
  {
    writer: 'notifications controller',
    name: 'may not set operation',
    write: update(NOTIFICATIONS, application(), application({ extra: { operation: SYNC } })),
    denied: ['TG-OWN-03'],
  },
  {
    writer: 'notifications controller',
    name: 'may not delete',
    write: { operation: 'DELETE', user: NOTIFICATIONS, oldObject: application() },
    denied: ['TG-OWN-03'],
  },
  // argocd-server, acting for users after Argo CD's RBAC.
  {
    writer: 'argocd-server',
    name: 'creates the default project with * at start',
    write: {
      operation: 'CREATE',
      user: SERVER,
      object: {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'AppProject',
        metadata: { name: 'default', namespace: 'argocd' },
        spec: {
          sourceRepos: ['*'],
          destinations: [{ server: '*', namespace: '*' }],
          clusterResourceWhitelist: [{ group: '*', kind: '*' }],
        },
      },
    },
  },
  {
    writer: 'argocd-server',
    name: "creates a tenant's Application in the Argo CD namespace",
    write: {
      operation: 'CREATE',
      user: SERVER,
      object: application({ namespace: 'argocd', labelled: false }),
    },
  },
  {
    writer: 'argocd-server',
    name: 'starts a sync (sets operation)',
    write: update(
      SERVER,
      application(),
      application({ extra: { operation: { ...SYNC, initiatedBy: { username: 'alice' } } } }),
    ),
  },
  {
    writer: 'argocd-server',
    name: 'deletes an Application with a finalizer (cascade)',
    write: update(
      SERVER,
      application(),
      application({ metadata: { finalizers: ['resources-finalizer.argocd.argoproj.io'] } }),
    ),
  },
  {
    writer: 'argocd-server',
    name: 'deletes an Application',
    write: { operation: 'DELETE', user: SERVER, oldObject: application() },
  },
  // The Kubernetes system controllers: deleting and orphaning.
  {
    writer: 'garbage collector',
    name: 'deletes an Application whose ApplicationSet is gone',
    write: {
      operation: 'DELETE',
      user: GC,
      oldObject: application({ metadata: { ownerReferences: [OWNER] } }),
    },
  },
  {
    writer: 'garbage collector',
    name: 'orphans an Application: removes the ownerReference',
    write: update(
      GC,
      application({ metadata: { ownerReferences: [OWNER] } }),
      application({ metadata: { ownerReferences: [] } }),
    ),
  },
  {
    writer: 'garbage collector',
    name: 'orphans an Application out of bounds',
    write: update(GC, stale({ metadata: { ownerReferences: [OWNER] } }), stale()),
  },
  {
    writer: 'garbage collector',
    name: 'unblocks an owner (blockOwnerDeletion false)',
    write: update(
      GC,
      application({ metadata: { ownerReferences: [OWNER] } }),
      application({ metadata: { ownerReferences: [{ ...OWNER, blockOwnerDeletion: false }] } }),
    ),
  },
  {
    writer: 'garbage collector',
    name: 'removes the orphan finalizer of a terminating ApplicationSet',
    write: update(
      GC,
      applicationSet({ metadata: { deletionTimestamp: DELETING, finalizers: ['orphan'] } }),
      applicationSet({ metadata: { deletionTimestamp: DELETING, finalizers: [] } }),
    ),
  },
  {
    writer: 'garbage collector',
    name: 'removes the foregroundDeletion finalizer of a cluster Secret',
    write: update(
      GC,
      withMeta(clusterSecret(), { deletionTimestamp: DELETING, finalizers: ['foregroundDeletion'] }),
      withMeta(clusterSecret(), { deletionTimestamp: DELETING }),
    ),
  },
  {
    writer: 'garbage collector',
    name: 'may not add an ownerReference',
    write: update(GC, application(), application({ metadata: { ownerReferences: [OWNER] } })),
    denied: ['TG-OWN-03', 'TG-APP-03'],
  },
  {
    writer: 'garbage collector',
    name: 'may not change the spec',
    write: update(GC, application(), application({ path: 'other' })),
    denied: ['TG-OWN-03'],
  },
  {
    writer: 'namespace controller',
    name: 'deletes an Application',
    write: { operation: 'DELETE', user: NAMESPACE_CONTROLLER, oldObject: stale() },
  },
  {
    writer: 'namespace controller',
    name: 'deletes an ApplicationSet',
    write: { operation: 'DELETE', user: NAMESPACE_CONTROLLER, oldObject: applicationSet() },
  },
  {
    writer: 'namespace controller',
    name: 'deletes a cluster Secret',
    write: { operation: 'DELETE', user: NAMESPACE_CONTROLLER, oldObject: clusterSecret() },
  },
  {
    writer: 'namespace controller',
    name: "deletes a tenant's AppProject",
    write: {
      operation: 'DELETE',
      user: NAMESPACE_CONTROLLER,
      oldObject: {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'AppProject',
        metadata: { name: 'team-a', namespace: 'argocd' },
        spec: {},
      },
    },
  },
];

const uidOf = (i: number) => `a4c0de00-0000-4000-8000-${String(i).padStart(12, '0')}`;

describe("Argo CD keeps working: each writer's normal writes", () => {
  const { app } = webhookApp(context.registry, settings);
  CASES.forEach((c, i) => {
    test(`${c.writer} ${c.name}`, async () => {
      const write: WriteRequest = { uid: uidOf(i), ...c.write };
      const pure = runPure(write, context);
      const http = await runHttp(write, app);
      for (const [how, result] of [
        ['pure', pure],
        ['HTTP', http],
      ] as const) {
        if (c.denied === undefined)
          assert.equal(result.allowed, true, `${how}: expected allowed, got:\n${result.lines.join('\n')}`);
        else
          assert.deepEqual(
            [...new Set(result.rules)].sort(),
            [...c.denied].sort(),
            `${how}: ${result.lines.join('\n')}`,
          );
      }
    });
  });

  test('a status write of an unlabelled Application gets the tenant label pinned by /mutate', async () => {
    const write: WriteRequest = {
      uid: uidOf(999),
      ...update(
        APP_CONTROLLER,
        application({ labelled: false }),
        application({ labelled: false, extra: { status: STATUS } }),
      ),
    };
    const http = await runHttp(write, app);
    assert.deepEqual(http.patch, [{ op: 'add', path: '/metadata/labels', value: { [LABEL]: 'team-a' } }]);
    assert.equal(http.allowed, true);
  });
});
