/**
 * A bench entry (a server or a floor) bundled with esbuild as the image's command is
 * (scripts/build-server.mjs): ESM, node20, dependencies left to node_modules. Bench
 * processes run these bundles, not tsx, so no row pays for tsx's compile hooks, its
 * `__name` wrappers and source maps, which no Deployment runs.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Bundles `bench/<entry>.ts` into `dist/bench/<dir>/<entry>.mjs`; returns that path. */
export async function bundleBenchEntry(entry: string, dir: string): Promise<string> {
  const outfile = join(ROOT, 'dist', 'bench', dir, `${entry}.mjs`);
  await build({
    entryPoints: [join(ROOT, 'bench', `${entry}.ts`)],
    outfile,
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
  });
  return outfile;
}
