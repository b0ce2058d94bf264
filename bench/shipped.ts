/**
 * The Node.js flags the shipped Deployments give the process (`NODE_OPTIONS` in
 * webhook-config/base/), so the benchmarks run servers as they run in a cluster.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const BASE = fileURLToPath(new URL('../webhook-config/base/', import.meta.url));

interface Container {
  name?: string;
  env?: Array<{ name?: string; value?: string }>;
}

/** The flags of `NODE_OPTIONS` of the Deployment in `webhook-config/base/<manifest>.yaml`. */
export function shippedNodeOptions(manifest: 'webhook' | 'broker'): string[] {
  for (const doc of parseAllDocuments(readFileSync(`${BASE}${manifest}.yaml`, 'utf8'))) {
    const object = doc.toJS() as {
      kind?: string;
      spec?: { template?: { spec?: { containers?: Container[] } } };
    } | null;
    if (object?.kind !== 'Deployment') continue;
    for (const container of object.spec?.template?.spec?.containers ?? []) {
      const value = container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
      if (value !== undefined) return value.split(/\s+/).filter((f) => f !== '');
    }
  }
  throw new Error(`no NODE_OPTIONS in the Deployment of webhook-config/base/${manifest}.yaml`);
}
