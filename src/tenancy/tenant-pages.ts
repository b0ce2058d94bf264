/**
 * The Tenant list of the watched registry: pages of LIST_PAGE_SIZE from one snapshot (the
 * API server's chunked list), each page held to the list timeout, the Tenants counted against
 * the registry's bound as they come (registry-size.ts).
 */
import type { CustomObjectsApi, KubernetesListObject } from '@kubernetes/client-node';
import { withSignal } from '../kube/kube-call.js';
import { SilentWatchError, type WatchTimers } from './bounded-watch.js';
import { LIST_PAGE_SIZE, RegistryMeter } from './registry-size.js';
import { continueOf, tenantList, toTenantList, type TenantObject } from './tenant-list.js';
import { TENANT_GROUP, TENANT_PLURAL, TENANT_VERSION } from './tenant-schema.js';

export interface TenantPagesOptions {
  /** Ends the list (the registry stops). */
  readonly stop: AbortSignal;
  readonly timers: WatchTimers;
  /** A page with no answer for this long is abandoned (SilentWatchError). */
  readonly listTimeoutMs: number;
  /** The registry's bound; default MAX_REGISTRY_CHARS. */
  readonly maxRegistryChars: number | undefined;
}

/**
 * Every Tenant, as one list at the first page's resourceVersion.
 * @throws SilentWatchError on a page with no answer in time; TenantGuardError
 *   ERR_REGISTRY_TOO_LARGE past the bound; the API's errors.
 */
export async function listTenantPages(
  api: CustomObjectsApi,
  options: TenantPagesOptions,
): Promise<KubernetesListObject<TenantObject>> {
  const items: TenantObject[] = [];
  const meter = new RegistryMeter(options.maxRegistryChars);
  let resourceVersion: string | undefined;
  let next: string | undefined;
  do {
    const timeout = new AbortController();
    const timer = options.timers.setTimeout(() => timeout.abort(), options.listTimeoutMs);
    let body: unknown;
    try {
      body = await api.listClusterCustomObject(
        {
          group: TENANT_GROUP,
          version: TENANT_VERSION,
          plural: TENANT_PLURAL,
          limit: LIST_PAGE_SIZE,
          ...(next === undefined ? {} : { _continue: next }),
        },
        withSignal(AbortSignal.any([options.stop, timeout.signal])),
      );
    } catch (err) {
      throw timeout.signal.aborted ? new SilentWatchError(options.listTimeoutMs) : err;
    } finally {
      options.timers.clearTimeout(timer);
    }
    const page = toTenantList(body);
    resourceVersion ??= page.metadata?.resourceVersion;
    for (const item of page.items) items.push(meter.add(item));
    next = continueOf(body);
  } while (next !== undefined);
  return tenantList(items, resourceVersion ?? '');
}
