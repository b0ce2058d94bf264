/**
 * Worst-case AdmissionReviews of each guarded kind, about 2.5 MB each (the API server caps
 * a request at 3 MiB), for the noisy-neighbour bench. Each is built to make the webhook do
 * as much as it will: one violation, one patch operation or one parsed value per item.
 * The tenants are those of bench/tenants.ts (`team-N`, clusters `k8s-team-N-dev`).
 */

/** A worst-case shape: its name and the AdmissionReview JSON text. */
import { deepFlowLists } from '../src/admission/warm-up.js';
import { DEFAULT_LIMITS } from '../src/policy/limits.js';

export interface WorstCase {
  readonly name: string;
  readonly body: string;
}

const TARGET_BYTES = 2.5 * 1024 * 1024;

/** Items of three values each that stay just within the default --max-object-nodes. */
const AT_LIMIT_ITEMS = Math.floor((DEFAULT_LIMITS.maxObjectNodes - 1_000) / 3);

function review(
  kind: { group: string; version: string; kind: string },
  namespace: string,
  object: unknown,
  user = { username: 'alice', groups: ['team-1-admins'] },
): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '00000000-0000-4000-8000-000000000001',
      kind,
      namespace,
      name: 'noisy',
      operation: 'CREATE',
      userInfo: user,
      object,
      dryRun: false,
    },
  });
}

const ARGO = (kind: string) => ({ group: 'argoproj.io', version: 'v1alpha1', kind });

/** Repeats `item(i)` until the serialised array is about `bytes` long. */
function fill<T>(bytes: number, item: (i: number) => T): T[] {
  const sample = JSON.stringify(item(0)).length + 1;
  return Array.from({ length: Math.floor(bytes / sample) }, (_, i) => item(i));
}

function applicationSet(
  generators: unknown[],
  template: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'noisy', namespace: 'team-1' },
    spec: {
      goTemplate: true,
      generators,
      template: {
        metadata: { name: '{{.name}}' },
        spec: {
          project: 'team-1',
          source: { repoURL: 'https://x.example.com/r.git', path: '.' },
          destination: { server: '{{.server}}', namespace: 'n' },
          ...template,
        },
      },
    },
  };
}

/** Every worst case, by name. */
export function worstCases(): WorstCase[] {
  const foreign = 'k8s-team-2-dev';
  return [
    // Issue 10: 60,000 `clusters` generators, 960 KB: a patch operation and a denial line each.
    {
      name: 'ApplicationSet: 60,000 clusters generators',
      body: review(
        ARGO('ApplicationSet'),
        'team-1',
        applicationSet(Array.from({ length: 60_000 }, () => ({ clusters: {} }))),
      ),
    },
    // Issue 10: 2.2 MB of elementsYaml naming another tenant's cluster.
    {
      name: 'ApplicationSet: 2.2 MB elementsYaml',
      body: review(
        ARGO('ApplicationSet'),
        'team-1',
        applicationSet([
          { list: { elementsYaml: `- {cluster: ${foreign}, n: 1}\n`.repeat(Math.floor(2.2e6 / 29)) } },
        ]),
      ),
    },
    // Within every default limit: 200 generators, the most list elements (long values, 2 MB), the most elementsYaml.
    {
      name: `ApplicationSet: at the limits (${DEFAULT_LIMITS.maxGenerators} generators, ${DEFAULT_LIMITS.maxListElements.toLocaleString('en')} elements, ${(DEFAULT_LIMITS.maxElementsYamlBytes / 1024).toFixed(0)} KiB YAML)`,
      body: review(
        ARGO('ApplicationSet'),
        'team-1',
        applicationSet([
          {
            list: {
              elements: Array.from({ length: DEFAULT_LIMITS.maxListElements }, (_, i) => ({
                cluster: `k8s-team-1-dev`,
                app: `app-${i}`,
                values: 'v'.repeat(Math.floor(2_000_000 / DEFAULT_LIMITS.maxListElements)),
              })),
              elementsYaml: '- {cluster: k8s-team-1-dev, n: 1}\n'.repeat(Math.floor(16_000 / 34)),
            },
          },
          ...Array.from({ length: 199 }, () => ({
            clusters: { selector: { matchLabels: { 'tenantguard.dev/tenant': 'team-2' } } },
          })),
        ]),
      ),
    },
    // Within the limits: 2.5 MB in just under the most values (long strings).
    {
      name: `Application: at the limits (2.5 MB, ${(AT_LIMIT_ITEMS * 3).toLocaleString('en')} values)`,
      body: review(ARGO('Application'), 'team-1', {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'noisy', namespace: 'team-1' },
        spec: {
          project: 'team-1',
          destination: { name: 'k8s-team-1-dev', namespace: 'n' },
          source: {
            repoURL: 'https://x.example.com/r.git',
            helm: {
              valuesObject: {
                items: Array.from({ length: AT_LIMIT_ITEMS }, (_, i) => ({
                  name: `item-${i}`,
                  value: 'v'.repeat(Math.floor(2_400_000 / AT_LIMIT_ITEMS)),
                })),
              },
            },
          },
        },
      }),
    },
    {
      name: `AppProject: at the limits (${AT_LIMIT_ITEMS.toLocaleString('en')} foreign destinations)`,
      body: review(
        ARGO('AppProject'),
        'argocd',
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'AppProject',
          metadata: { name: 'team-1', namespace: 'argocd' },
          spec: {
            destinations: Array.from({ length: AT_LIMIT_ITEMS }, (_, i) => ({
              name: foreign,
              namespace: `ns-${i}-${'n'.repeat(Math.floor(1_600_000 / AT_LIMIT_ITEMS))}`,
            })),
            sourceNamespaces: ['team-1'],
          },
        },
        { username: 'alice', groups: ['team-1-admins'] },
      ),
    },
    {
      name: 'cluster Secret: at the limits (64 KiB config, 2.4 MB of other data)',
      body: (() => {
        const keys: Record<string, string> = {};
        for (let i = 0; i < 3_000; i++) keys[`bearerToken${i}`] = 'x';
        const config = JSON.stringify({ tlsClientConfig: { insecure: false, ...keys } });
        const b64 = (s: string) => Buffer.from(s).toString('base64');
        const data: Record<string, string> = {
          name: b64('k8s-team-1-dev'),
          server: b64('https://team-1-dev.clusters.example.com'),
          config: b64(config),
        };
        for (let i = 0; i < 40; i++) data[`extra${i}`] = b64('x'.repeat(45_000));
        return review(
          { group: '', version: 'v1', kind: 'Secret' },
          'argocd',
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: {
              name: 'k8s-team-1-dev',
              namespace: 'argocd',
              labels: { 'argocd.argoproj.io/secret-type': 'cluster' },
            },
            data,
          },
          { username: 'root', groups: ['platform-admins'] },
        );
      })(),
    },
    // A 2.5 MB Helm valuesObject, wide and as deep as allowed.
    {
      name: 'Application: 2.5 MB valuesObject',
      body: review(ARGO('Application'), 'team-1', {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'noisy', namespace: 'team-1' },
        spec: {
          project: 'team-1',
          destination: { name: 'k8s-team-1-dev', namespace: 'n' },
          source: {
            repoURL: 'https://x.example.com/r.git',
            helm: {
              valuesObject: {
                items: fill(TARGET_BYTES, (i) => ({
                  name: `item-${i}`,
                  replicas: i,
                  labels: { app: 'a', tier: 'b' },
                })),
              },
            },
          },
        },
      }),
    },
    // 2.5 MB of destinations naming another tenant's cluster: a violation each.
    {
      name: 'AppProject: 2.5 MB of foreign destinations',
      body: review(
        ARGO('AppProject'),
        'argocd',
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'AppProject',
          metadata: { name: 'team-1', namespace: 'argocd' },
          spec: {
            destinations: fill(TARGET_BYTES, (i) => ({ name: foreign, namespace: `ns-${i}` })),
            sourceNamespaces: ['team-1'],
          },
        },
        { username: 'root', groups: ['platform-admins'] },
      ),
    },
    // Issue 10: a 2.7 MB cluster Secret whose config (2 MB, base64) holds unknown keys: a violation each.
    {
      name: 'cluster Secret: 2.7 MB, 2 MB config',
      body: (() => {
        const keys: Record<string, string> = {};
        for (let i = 0; i < Math.floor(2e6 / 22); i++) keys[`bearerToken${i}`] = 'x';
        const config = JSON.stringify({ tlsClientConfig: { insecure: false, ...keys } });
        const b64 = (s: string) => Buffer.from(s).toString('base64');
        return review(
          { group: '', version: 'v1', kind: 'Secret' },
          'argocd',
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: {
              name: 'k8s-team-1-dev',
              namespace: 'argocd',
              labels: { 'argocd.argoproj.io/secret-type': 'cluster' },
            },
            data: {
              name: b64('k8s-team-1-dev'),
              server: b64('https://team-1-dev.clusters.example.com'),
              config: b64(config),
            },
          },
          { username: 'root', groups: ['platform-admins'] },
        );
      })(),
    },
    // Within the limits and under the large-request threshold (so not gated): elementsYaml
    // at its byte limit in the shape the yaml parser is slowest on per byte (nested flow
    // lists, ~3x the flow maps of the case above), a violation per foreign scalar.
    {
      name: `ApplicationSet: small body, ${(DEFAULT_LIMITS.maxElementsYamlBytes / 1024).toFixed(0)} KiB of nested flow elementsYaml`,
      body: review(
        ARGO('ApplicationSet'),
        'team-1',
        applicationSet([
          {
            list: {
              elementsYaml: deepFlowLists(DEFAULT_LIMITS.maxElementsYamlBytes, foreign),
            },
          },
        ]),
      ),
    },
    // Under the large-request threshold by bytes, within every limit: one list element whose
    // list names another tenant's cluster ~15,000 times, a finding each (a red-team review:
    // 31-55 ms each to judge before the budget of findings per rule, never gated, and four at
    // once held the event loop past the API server's timeout). Now gated by its values.
    {
      name: 'ApplicationSet: small body (250 KB), one list element naming a foreign cluster ~15,000 times',
      body: review(
        ARGO('ApplicationSet'),
        'team-1',
        applicationSet([{ list: { elements: [{ names: fill(250_000, () => foreign) }] } }]),
      ),
    },
  ];
}
