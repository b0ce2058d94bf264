/**
 * One-off reads of the API for `tenant-guard scan --kubeconfig`: every object the scan
 * judges (ApplicationSets, Applications, AppProjects in all namespaces; cluster Secrets of
 * the Argo CD namespace), and the Tenants as a registry.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { isRecord } from '../json.js';
import type { KubeObject } from '../policy/types.js';
import type { Settings } from '../settings.js';
import { buildRegistry, type TenantRegistry, type TenantRejection } from '../tenancy/registry.js';
import {
  TENANT_API_VERSION,
  TENANT_GROUP,
  TENANT_KIND,
  TENANT_PLURAL,
  TENANT_VERSION,
} from '../tenancy/tenant-schema.js';
import { parseTenant, type Tenant } from '../tenancy/tenant.js';
import { CLUSTER_SECRET_SELECTOR } from './reporter.js';

function items(list: unknown): KubeObject[] {
  return isRecord(list) && Array.isArray(list.items) ? list.items.filter(isRecord) : [];
}

/** Every object the scan judges, as the API server stores it (apiVersion and kind filled in). */
export async function listGuardedObjects(kubeConfig: KubeConfig, settings: Settings): Promise<KubeObject[]> {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const out: KubeObject[] = [];
  for (const [plural, kind] of [
    ['applicationsets', 'ApplicationSet'],
    ['applications', 'Application'],
    ['appprojects', 'AppProject'],
  ] as const) {
    const list = await custom.listClusterCustomObject({ group: 'argoproj.io', version: 'v1alpha1', plural });
    out.push(...items(list).map((o) => ({ ...o, apiVersion: 'argoproj.io/v1alpha1', kind })));
  }
  const secrets = await core.listNamespacedSecret({
    namespace: settings.argocdNamespace,
    labelSelector: CLUSTER_SECRET_SELECTOR,
  });
  out.push(
    ...items(JSON.parse(JSON.stringify(secrets))).map((o) => ({ ...o, apiVersion: 'v1', kind: 'Secret' })),
  );
  return out;
}

/** The Tenants of the API as a registry, with the invalid and rejected ones said. */
export async function listTenantRegistry(
  kubeConfig: KubeConfig,
  argocdNamespace: string,
): Promise<{ registry: TenantRegistry; problems: string[] }> {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const list = await custom.listClusterCustomObject({
    group: TENANT_GROUP,
    version: TENANT_VERSION,
    plural: TENANT_PLURAL,
  });
  const tenants: Tenant[] = [];
  const problems: string[] = [];
  for (const object of items(list)) {
    try {
      tenants.push(
        parseTenant(
          { ...object, apiVersion: TENANT_API_VERSION, kind: TENANT_KIND },
          { source: 'Tenant', argocdNamespace },
        ),
      );
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  const { registry, rejections } = buildRegistry(tenants);
  problems.push(
    ...rejections.map((r: TenantRejection) => `Tenant ${r.tenant} left out (${r.reason}): ${r.message}`),
  );
  return { registry, problems };
}
