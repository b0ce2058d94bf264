/**
 * Watched Tenant objects parsed once per resourceVersion: a rebuild of the watched registry
 * (watch-source.ts) parses only the Tenants that changed since the last one. An invalid
 * Tenant is kept with its error, which its status shows.
 */
import { isTenantGuardError } from '../errors.js';
import type { TenantObject } from './tenant-list.js';
import { TENANT_API_VERSION, TENANT_KIND, TENANT_RESOURCE } from './tenant-schema.js';
import { parseTenant, type Tenant } from './tenant.js';

/** One Tenant object parsed: the Tenant, or why it is invalid (the status message). */
interface ParsedTenant {
  readonly resourceVersion: string | undefined;
  readonly result: { tenant: Tenant } | { error: string };
}

/** See the file comment. */
export class TenantParseCache {
  private readonly parsed = new Map<string, ParsedTenant>();

  /** @param argocdNamespace The Argo CD namespace, which no Tenant may list. */
  constructor(private readonly argocdNamespace: string) {}

  /**
   * Every watched object parsed (one without a name is left out): the valid Tenants, and the
   * parse error of each invalid one by name. Tenants no longer listed are forgotten.
   */
  parseAll(objects: readonly TenantObject[]): { tenants: Tenant[]; invalid: Map<string, string> } {
    const tenants: Tenant[] = [];
    const invalid = new Map<string, string>();
    const seen = new Set<string>();
    for (const object of objects) {
      const name = object.metadata?.name;
      if (name === undefined) continue;
      seen.add(name);
      const parsed = this.parse(name, object);
      if ('tenant' in parsed.result) tenants.push(parsed.result.tenant);
      else invalid.set(name, parsed.result.error);
    }
    for (const name of this.parsed.keys()) if (!seen.has(name)) this.parsed.delete(name);
    return { tenants, invalid };
  }

  /** Parses a Tenant, reusing the last result while its resourceVersion is unchanged. */
  private parse(name: string, object: TenantObject): ParsedTenant {
    const resourceVersion = object.metadata?.resourceVersion;
    const cached = this.parsed.get(name);
    if (cached !== undefined && resourceVersion !== undefined && cached.resourceVersion === resourceVersion)
      return cached;
    const label = `${TENANT_RESOURCE} (Tenant "${name}")`;
    let result: ParsedTenant['result'];
    try {
      // List items of custom resources carry apiVersion and kind; supplied in case they do not.
      result = {
        tenant: parseTenant(
          { apiVersion: TENANT_API_VERSION, kind: TENANT_KIND, ...object },
          { source: TENANT_RESOURCE, argocdNamespace: this.argocdNamespace },
        ),
      };
    } catch (err) {
      const message = isTenantGuardError(err) ? err.message : `${label}: cannot be read`;
      result = { error: message.startsWith(`${label}: `) ? message.slice(label.length + 2) : message };
    }
    const parsed = { resourceVersion, result };
    this.parsed.set(name, parsed);
    return parsed;
  }
}
