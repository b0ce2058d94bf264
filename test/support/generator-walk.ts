/**
 * A walk over ApplicationSet generators written apart from the rules' own walker, so tests
 * can check what the rules did without trusting the rules' code.
 */
import { isRecord } from '../../src/json.js';

const TENANT_LABEL = 'tenantguard.dev/tenant';

/** A `clusters` generator body and where it is, as `.spec.generators[0].clusters`. */
export interface ClustersBody {
  path: string;
  body: Record<string, unknown>;
}

/**
 * Every `clusters` body in any `generators` list at any depth: every list under a
 * `generators` key, every entry with a `clusters` object, with case-exact keys.
 */
export function clustersBodies(value: unknown, path = '', out: ClustersBody[] = []): ClustersBody[] {
  if (Array.isArray(value)) value.forEach((v: unknown, i) => clustersBodies(v, `${path}[${i}]`, out));
  else if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'generators' && Array.isArray(v)) {
        v.forEach((entry: unknown, i) => {
          if (isRecord(entry) && isRecord(entry.clusters))
            out.push({ path: `${path}.generators[${i}].clusters`, body: entry.clusters });
        });
      }
      clustersBodies(v, `${path}.${k}`, out);
    }
  }
  return out;
}

/** The `tenantguard.dev/tenant` value in a clusters body's `selector.matchLabels`, if any. */
export function tenantSelectorOf(body: Record<string, unknown>): unknown {
  const selector = body.selector;
  return isRecord(selector) && isRecord(selector.matchLabels)
    ? selector.matchLabels[TENANT_LABEL]
    : undefined;
}
