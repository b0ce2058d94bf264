/**
 * Whose a server is does not depend on how it is spelled. User info, a query or a fragment
 * change what a client sends, not where it connects, so a spelling of another tenant's server
 * with them still names that tenant's cluster, wherever a rule asks whose a server is: a
 * platform Application, ApplicationSet or AppProject naming it, a tenant's parameter, a
 * platform cluster Secret (TG-CS-08). A red-team review found the platform target check
 * reading `https://x@team-b-dev.example.com` as no cluster, where TG-CS-08 read it as team-b's.
 * A tenant's own destination must still be its cluster's text (Argo CD looks a cluster Secret
 * up by its text): the twin cases.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject, PolicyRequest, UserInfo } from '../../src/policy/types.js';
import { judgeLines, policyContext, type JudgedLines } from '../support/policy-fixtures.js';

const context = policyContext('two-teams');
const ADMIN: UserInfo = { username: 'root', groups: ['platform-admins'] };
const ALICE: UserInfo = { username: 'alice', groups: ['team-a-admins'] };

/** Spellings of team-b's dev cluster (https://team-b-dev.example.com) a client connects to as it. */
const TEAM_B_SPELLINGS = [
  'https://x@team-b-dev.example.com',
  'https://u:p@TEAM-B-DEV.example.com.:443/',
  'https://team-b-dev.example.com/?q=1',
  'https://team-b-dev.example.com#f',
  'https://x@team-b-dev.example.com/?a=b#c',
];

function application(
  namespace: string,
  project: string,
  destination: object,
  labels: object = {},
): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'app', namespace, labels },
    spec: { project, destination, source: { repoURL: 'https://git.example.com/platform/apps', path: '.' } },
  };
}

function applicationSet(namespace: string, project: string, spec: object, labels: object = {}): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'set', namespace, labels },
    spec: {
      goTemplate: true,
      template: {
        metadata: { name: '{{.name}}' },
        spec: {
          project,
          source: { repoURL: 'https://git.example.com/platform/apps', path: '.' },
          destination: { server: '{{.server}}', namespace: 'app' },
        },
      },
      ...spec,
    },
  };
}

/**
 * What the rules found: a platform admin's findings are audited, not denying (the bypass of
 * SPEC section 4); what matters here is that the rule sees the tenant's cluster.
 */
function found(judged: JudgedLines): string[] {
  return [...judged.denying, ...judged.audited];
}

const cases: Array<{
  name: string;
  kind: PolicyRequest['kind'];
  user: UserInfo;
  object: (server: string) => KubeObject;
  rule: string;
}> = [
  {
    name: "a platform Application's destination",
    kind: 'Application',
    user: ADMIN,
    object: (server) => application('argocd', 'platform', { server, namespace: 'x' }),
    rule: 'TG-APP-02 spec.destination.server',
  },
  {
    name: "a platform ApplicationSet's literal destination",
    kind: 'ApplicationSet',
    user: ADMIN,
    object: (server) =>
      applicationSet('argocd', 'platform', {
        generators: [{ list: { elements: [{ name: 'one' }] } }],
        template: {
          metadata: { name: '{{.name}}' },
          spec: {
            project: 'platform',
            source: { repoURL: 'https://git.example.com/platform/apps', path: '.' },
            destination: { server, namespace: 'app' },
          },
        },
      }),
    rule: 'TG-AS-03 spec.template.spec.destination.server',
  },
  {
    name: "a tenant's list element",
    kind: 'ApplicationSet',
    user: ALICE,
    object: (server) =>
      applicationSet(
        'team-a',
        'team-a',
        { generators: [{ list: { elements: [{ name: 'x', server }] } }] },
        {
          'tenantguard.dev/tenant': 'team-a',
        },
      ),
    rule: 'TG-AS-04 spec.generators[0].list.elements[0].server',
  },
  {
    name: "a platform AppProject's destination",
    kind: 'AppProject',
    user: ADMIN,
    object: (server) => ({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AppProject',
      metadata: { name: 'platform-extra', namespace: 'argocd' },
      spec: { destinations: [{ server, namespace: '*' }], sourceRepos: ['*'] },
    }),
    rule: 'TG-PRJ-02 spec.destinations[0].server',
  },
];

describe("a spelling of another tenant's server names that tenant's cluster, for every rule that asks whose it is", () => {
  for (const c of cases)
    test(c.name, () => {
      // In a project's destinations `?` is a glob's any character: such a pattern is no literal server.
      const spellings =
        c.kind === 'AppProject' ? TEAM_B_SPELLINGS.filter((v) => !v.includes('?')) : TEAM_B_SPELLINGS;
      for (const server of spellings) {
        const judged = judgeLines(context, { kind: c.kind, user: c.user, object: c.object(server) });
        assert.ok(found(judged).includes(c.rule), `${server}: ${JSON.stringify(judged)}`);
      }
      // Its twin: a server no tenant registered is the platform's to name.
      const other = judgeLines(context, {
        kind: c.kind,
        user: c.user,
        object: c.object('https://x@platform.example.com'),
      });
      assert.ok(!found(other).includes(c.rule), JSON.stringify(other));
    });

  test("a tenant's own server spelled with user info is still not its cluster's text", () => {
    const judged = judgeLines(context, {
      kind: 'Application',
      user: ALICE,
      object: application(
        'team-a',
        'team-a',
        { server: 'https://x@team-a-dev.example.com', namespace: 'x' },
        {
          'tenantguard.dev/tenant': 'team-a',
        },
      ),
    });
    assert.ok(judged.denying.includes('TG-APP-02 spec.destination.server'), JSON.stringify(judged));
  });
});
