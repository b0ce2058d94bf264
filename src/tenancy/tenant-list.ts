/**
 * Tenant objects as the API answers them, narrowed to what the watched registry reads.
 */
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { TenantGuardError } from '../errors.js';
import { isRecord } from '../json.js';
import { TENANT_API_VERSION, TENANT_KIND } from './tenant-schema.js';

/** A Tenant object as the informer holds it: a name at least, the rest unchecked. */
export type TenantObject = KubernetesObject & Record<string, unknown>;

/** How many entries `spec.clusters` has (0 when it is not a list): the Clusters printer column. */
export function countClusters(object: TenantObject): number {
  const spec = object.spec;
  return isRecord(spec) && Array.isArray(spec.clusters) ? spec.clusters.length : 0;
}

/**
 * Narrows a list answer to what the informer needs: items that are objects with a name
 * (others are dropped), and the list's resourceVersion to watch from.
 * @throws TenantGuardError ERR_TENANT_WATCH when the answer is not a list.
 */
export function toTenantList(body: unknown): KubernetesListObject<TenantObject> {
  if (!isRecord(body) || !Array.isArray(body.items))
    throw new TenantGuardError('ERR_TENANT_WATCH', 'the Tenant list answer is not a list');
  const items: TenantObject[] = [];
  for (const item of body.items) {
    if (!isRecord(item) || !isRecord(item.metadata) || typeof item.metadata.name !== 'string') continue;
    const meta = item.metadata;
    items.push({
      ...item,
      metadata: {
        ...meta,
        name: item.metadata.name,
        ...(typeof meta.resourceVersion === 'string' ? { resourceVersion: meta.resourceVersion } : {}),
      },
    });
  }
  const rv =
    isRecord(body.metadata) && typeof body.metadata.resourceVersion === 'string'
      ? body.metadata.resourceVersion
      : '';
  return tenantList(items, rv);
}

/** The `continue` token of a list page, when more pages remain. */
export function continueOf(body: unknown): string | undefined {
  if (!isRecord(body) || !isRecord(body.metadata)) return undefined;
  const token = body.metadata.continue;
  return typeof token === 'string' && token !== '' ? token : undefined;
}

/** A Tenant list of `items` at `resourceVersion`, as the informer takes it. */
export function tenantList(
  items: TenantObject[],
  resourceVersion: string,
): KubernetesListObject<TenantObject> {
  return {
    apiVersion: TENANT_API_VERSION,
    kind: `${TENANT_KIND}List`,
    metadata: { resourceVersion },
    items,
  };
}
