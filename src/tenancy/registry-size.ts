/**
 * The bound on what the watched registry holds: the Tenants' JSON, counted in characters as
 * a list brings them (and over the informer's cache at each rebuild, which watch events grow
 * between lists). Past it the list is refused, a failure like any other (logged, stale, the
 * last good registry served, re-listed after a backoff), so the process never holds more: a
 * red-team review listed ~80 schema-valid Tenants of ~1 MiB each and every webhook and
 * broker replica ran out of heap at the first list. Pages keep any one answer small.
 */
import { TenantGuardError } from '../errors.js';
import type { TenantObject } from './tenant-list.js';
import { formatCount } from './verdict-message.js';

/** Tenants per page of the list: at most ~38 MiB of the largest Tenants (tenant-schema.ts). */
export const LIST_PAGE_SIZE = 50;

/**
 * Default bound on the registry: 32 Mi characters of Tenant JSON, five times the 10,000
 * Tenants of docs/capacity.md (~6 MB), which the 192 MiB heap of the shipped Deployments
 * holds about three times over.
 */
export const MAX_REGISTRY_CHARS = 32 * 1024 * 1024;

/** The JSON size of each object counted, while the informer holds it (counted once). */
const sizes = new WeakMap<object, number>();

/** Counts Tenants' JSON against the bound. */
export class RegistryMeter {
  private chars = 0;
  private count = 0;

  constructor(private readonly max = MAX_REGISTRY_CHARS) {}

  /** `object`, counted. @throws TenantGuardError ERR_REGISTRY_TOO_LARGE past the bound. */
  add(object: TenantObject): TenantObject {
    let size = sizes.get(object);
    if (size === undefined) {
      size = JSON.stringify(object).length;
      sizes.set(object, size);
    }
    this.chars += size;
    this.count += 1;
    if (this.chars > this.max)
      throw new TenantGuardError(
        'ERR_REGISTRY_TOO_LARGE',
        `the Tenants hold more than ${formatCount(this.max)} characters of JSON (${formatCount(this.count)} read so far); the registry is not loaded past that bound: remove Tenants or large fields (caData bundles), or raise the bound with the memory to hold it`,
      );
    return object;
  }

  /** The failure when `objects` are past the bound, else undefined. */
  check(objects: readonly TenantObject[]): TenantGuardError | undefined {
    try {
      for (const o of objects) this.add(o);
      return undefined;
    } catch (err) {
      return err as TenantGuardError;
    }
  }
}
