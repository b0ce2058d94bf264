/**
 * Shared parts of the report tests: the resource types the test API server must serve,
 * Applications and cluster Secrets to scan, and the upstream Policy Report CRD schemas.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import type { KubeObject } from '../../src/policy/types.js';
import type { ResourceType } from '../support/test-api-server.js';
import { strictCrdSchema } from '../deploy/manifest-checks.js';

export const ARGO_TYPES: readonly ResourceType[] = [
  {
    group: 'argoproj.io',
    version: 'v1alpha1',
    plural: 'applicationsets',
    kind: 'ApplicationSet',
    namespaced: true,
  },
  {
    group: 'argoproj.io',
    version: 'v1alpha1',
    plural: 'applications',
    kind: 'Application',
    namespaced: true,
  },
  { group: 'argoproj.io', version: 'v1alpha1', plural: 'appprojects', kind: 'AppProject', namespaced: true },
];
export const POLICY_REPORTS: ResourceType = {
  group: 'wgpolicyk8s.io',
  version: 'v1alpha2',
  plural: 'policyreports',
  kind: 'PolicyReport',
  namespaced: true,
};
export const OPEN_REPORTS: ResourceType = {
  group: 'openreports.io',
  version: 'v1alpha1',
  plural: 'reports',
  kind: 'Report',
  namespaced: true,
};

/** An Application of `namespace` (tenant-labelled) targeting cluster `destination`. */
export function application(
  namespace: string,
  name: string,
  destination: string,
  project = namespace,
): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace, labels: { 'tenantguard.dev/tenant': namespace } },
    spec: {
      project,
      destination: { name: destination, namespace: 'guestbook' },
      source: { repoURL: 'https://github.com/argoproj/argocd-example-apps.git', path: '.' },
    },
  };
}

const CRD_DIR = new URL('../../../shared/fixtures/upstream/policy-reports/', import.meta.url);

/** The upstream CRD of a report kind. */
export function reportCrd(file: 'wgpolicyk8s.io_policyreports.yaml' | 'openreports.io_reports.yaml'): Record<
  string,
  unknown
> & {
  spec: { versions: { additionalPrinterColumns: { name: string; jsonPath: string }[] }[] };
} {
  return parse(readFileSync(new URL(file, CRD_DIR), 'utf8')) as never;
}

/** A validator of the CRD's schema, unknown fields refused (as a structural schema prunes them). */
export function reportValidator(file: 'wgpolicyk8s.io_policyreports.yaml' | 'openreports.io_reports.yaml') {
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(strictCrdSchema(reportCrd(file) as never));
}

/** What `kubectl get` prints in a printer column: the value at a simple `.a.b` JSON path. */
export function printerColumn(object: unknown, jsonPath: string): unknown {
  let node: unknown = object;
  for (const part of jsonPath.split('.').filter((p) => p !== '')) {
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined;
  }
  return node;
}
