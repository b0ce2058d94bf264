/**
 * The heap a file registry of N generated Tenants keeps after a full GC, in its own process
 * (`node --expose-gc`): what the registry costs once the YAML text and the parse are garbage.
 *   node --expose-gc --import tsx bench/registry-heap.ts FILE
 * Prints `HEAP {"tenants":..,"textMb":..,"heapMb":..,"rssMb":..}`.
 */
import { loadTenantsFile } from '../src/tenancy/file-source.js';

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  gc();
}

collect();
const before = process.memoryUsage().heapUsed;
const registry = loadTenantsFile(process.argv[2] ?? '', 'argocd');
collect();
const after = process.memoryUsage();
process.stdout.write(
  `HEAP ${JSON.stringify({ tenants: registry.size, heapMb: (after.heapUsed - before) / 1e6, rssMb: after.rss / 1e6 })}\n`,
);
