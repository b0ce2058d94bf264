/**
 * Warms the admission path up before the server takes traffic. The first requests of a
 * kind run code V8 has not optimised yet: the first 2.2 MB ApplicationSet at the limits
 * cost ~180 ms of CPU in one turn of the event loop, the second ~110, the third ~60, then
 * ~25 (issue 10; `npm run bench -- noisy` counted most of the other tenant's requests over
 * 100 ms in that first second). Judging synthetic objects of every guarded kind a few
 * times, on both endpoints, with the answer and the audit record, compiles those paths
 * first. Pure: its own one-tenant registry, no I/O; the caller logs the result.
 */
import type { Settings } from '../settings.js';
import { admissionAuditRecord } from '../audit/admission-record.js';
import { DEFAULT_LIMITS, type AdmissionLimits } from '../policy/limits.js';
import { forgetReadings } from '../yaml-depth.js';
import { serverKey } from '../tenancy/cluster-url.js';
import { buildRegistry } from '../tenancy/registry.js';
import type { Tenant } from '../tenancy/tenant.js';
import { admit, defaultPolicy, type AdmissionPolicy, type Endpoint } from './admit.js';
import { outcomeResponse } from './response.js';
import { parseAdmissionReview, readAdmissionRequest } from './review.js';

/** What the warm-up judged: per kind, the outcome of each endpoint (the last round's). */
export interface WarmUpResult {
  readonly requests: number;
  readonly outcomes: Readonly<Record<string, Readonly<Record<Endpoint, string>>>>;
}

/** Rounds of the default warm-up: about 0.3 s of CPU once, at start. */
export const WARM_UP_ROUNDS = 8;

const TENANT = 'warm-up';
const FOREIGN = 'warm-up-other';

function tenant(name: string): Tenant {
  return {
    name,
    owners: { groups: [`${name}-admins`], users: [] },
    namespaces: [name],
    projects: [name],
    enforcement: 'enforce',
    clusters: ['dev', 'prod'].map((stage) => {
      const server = `https://${name}-${stage}.clusters.example.com`;
      return {
        name: `${name}-${stage}`,
        server,
        serverKey: serverKey(server),
        audience: `${name}-${stage}`,
        subject: `tenantguard:${name}-${stage}`,
        groups: [],
        tokenTTLSeconds: 60,
      };
    }),
  };
}

const ARGO = (kind: string) => ({ group: 'argoproj.io', version: 'v1alpha1', kind });

/** An AdmissionReview CREATE by an owner of the warm-up tenant, as JSON text. */
function review(
  kind: { group: string; version: string; kind: string },
  namespace: string,
  object: unknown,
): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '00000000-0000-4000-8000-00000000beef',
      kind,
      namespace,
      name: 'warm-up',
      operation: 'CREATE',
      userInfo: { username: 'warm-up', groups: [`${TENANT}-admins`] },
      object,
      dryRun: false,
    },
  });
}

/**
 * A flow list of `scalar`s each nested 20 deep, at most `bytes` long (`[]` when nothing fits):
 * the shape the yaml parser is slowest on per byte (bench/worst-case.ts sends it too).
 */
export function deepFlowLists(bytes: number, scalar: string): string {
  const item = `${'['.repeat(20)}${scalar}${']'.repeat(20)},`;
  return `[${item.repeat(Math.max(0, Math.floor((bytes - 2) / item.length)))}]`;
}

/** Objects of every guarded kind, shaped like the large ones the rules work hardest on. */
function warmUpReviews(maxYamlBytes: number): Record<string, string> {
  const yaml = [
    '- {cluster: warm-up-dev, n: 1, url: "https://warm-up-dev.clusters.example.com"}',
    '- cluster: warm-up-prod',
    "  values: {a: [1, 2, 'three'], b: {c: d}}",
    `- {cluster: ${FOREIGN}-dev}`,
    `- [[[[${FOREIGN}-dev, [a]], {b: [c, [d]]}]], [[[e]]]]`,
  ].join('\n');
  const template = {
    metadata: { name: '{{.name}}' },
    spec: {
      project: TENANT,
      source: { repoURL: 'https://git.example.com/r.git', path: '.' },
      destination: { server: '{{.server}}', namespace: 'n' },
    },
  };
  return {
    ApplicationSet: review(ARGO('ApplicationSet'), TENANT, {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'warm-up', namespace: TENANT },
      spec: {
        goTemplate: true,
        generators: [
          {
            list: {
              elements: Array.from({ length: 300 }, (_, i) => ({
                cluster: i % 7 === 0 ? `${FOREIGN}-dev` : `${TENANT}-dev`,
                server: `https://${TENANT}-dev.clusters.example.com`,
                values: 'v'.repeat(i % 200),
                nested: { list: [i, `x-${i}`], flag: i % 2 === 0 },
              })),
              elementsYaml: `${yaml}\n`.repeat(20),
            },
          },
          // Deep flow lists, the shape the yaml parser is slowest on, up to the byte limit
          // with the YAML above, so its lexer is compiled for them too.
          {
            list: {
              elementsYaml: deepFlowLists(
                maxYamlBytes - Buffer.byteLength(`${yaml}\n`.repeat(20)),
                `${FOREIGN}-dev`,
              ),
            },
          },
          ...Array.from({ length: 20 }, (_, i) => ({
            clusters: {
              selector: { matchLabels: { 'tenantguard.dev/tenant': i % 2 === 0 ? TENANT : FOREIGN } },
            },
          })),
          {
            matrix: {
              generators: [
                {
                  git: {
                    repoURL: 'https://git.example.com/r.git',
                    revision: 'HEAD',
                    directories: [{ path: '*' }],
                  },
                },
                { list: { elements: [{ cluster: `${TENANT}-prod` }] } },
              ],
            },
          },
        ],
        template,
      },
    }),
    Application: review(ARGO('Application'), TENANT, {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'warm-up', namespace: TENANT },
      spec: {
        project: TENANT,
        destination: { name: `${TENANT}-dev`, namespace: 'n' },
        source: {
          repoURL: 'https://git.example.com/r.git',
          helm: {
            valuesObject: {
              items: Array.from({ length: 300 }, (_, i) => ({
                name: `item-${i}`,
                replicas: i,
                labels: { a: 'b' },
              })),
            },
          },
        },
      },
    }),
    AppProject: review(ARGO('AppProject'), 'argocd', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AppProject',
      metadata: { name: TENANT, namespace: 'argocd' },
      spec: {
        destinations: Array.from({ length: 200 }, (_, i) => ({
          name: i % 3 === 0 ? `${FOREIGN}-dev` : `${TENANT}-dev`,
          namespace: `ns-${i}`,
        })),
        sourceNamespaces: [TENANT],
      },
    }),
    ClusterSecret: review({ group: '', version: 'v1', kind: 'Secret' }, 'argocd', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: `${TENANT}-dev`,
        namespace: 'argocd',
        labels: { 'argocd.argoproj.io/secret-type': 'cluster' },
      },
      data: {
        name: Buffer.from(`${TENANT}-dev`).toString('base64'),
        server: Buffer.from(`https://${TENANT}-dev.clusters.example.com`).toString('base64'),
        config: Buffer.from(
          JSON.stringify({
            tlsClientConfig: {
              insecure: false,
              ...Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'x'])),
            },
          }),
        ).toString('base64'),
      },
    }),
  };
}

/**
 * Judges the warm-up objects `rounds` times on `/validate` and `/mutate`, each from its
 * JSON text to its serialised answer and audit record, as a request is. Never throws for a
 * policy that judges: the objects are well-formed.
 */
export function warmUpAdmission(
  deps: { settings: Settings; policy?: AdmissionPolicy; limits?: AdmissionLimits },
  rounds = WARM_UP_ROUNDS,
): WarmUpResult {
  const { registry } = buildRegistry([tenant(TENANT), tenant(FOREIGN)]);
  const reviews = warmUpReviews((deps.limits ?? DEFAULT_LIMITS).maxElementsYamlBytes);
  const outcomes: Record<string, Record<Endpoint, string>> = {};
  let requests = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [kind, text] of Object.entries(reviews)) {
      const seen: Record<Endpoint, string> = { validate: '', mutate: '' };
      for (const endpoint of ['validate', 'mutate'] as const) {
        forgetReadings();
        const request = readAdmissionRequest(parseAdmissionReview(JSON.parse(text)));
        const outcome = admit(endpoint, request, {
          policy: deps.policy ?? defaultPolicy,
          registry,
          settings: deps.settings,
          ...(deps.limits === undefined ? {} : { limits: deps.limits }),
        });
        JSON.stringify(outcomeResponse(request.uid, outcome));
        JSON.stringify(admissionAuditRecord(endpoint, request, outcome) ?? {});
        seen[endpoint] =
          outcome.type === 'decided' ? (outcome.decision.allowed ? 'allowed' : 'denied') : outcome.type;
        requests += 1;
      }
      outcomes[kind] = seen;
    }
  }
  return { requests, outcomes };
}
