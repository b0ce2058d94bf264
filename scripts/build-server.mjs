// Bundles the tenant-guard command (src/cli/main.ts and everything it imports, dependencies
// included) with esbuild into dist/server/: main.mjs plus the chunks of what it imports
// lazily (the Kubernetes client, selfsigned), as the plugin already is. The image runs this
// bundle: one file read instead of hundreds of modules resolved, and less resident memory
// (`npm run bench -- memory` measures both builds).
//
//   node scripts/build-server.mjs [--out DIR]
//
// Exported as `buildServer(outdir)` for the memory bench, so both build it the same way.
import { rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A dependency's JSON file from this size up is read at run time (jsonDataAtRunTime). */
export const RUN_TIME_JSON_BYTES = 16 * 1024;

/**
 * Dependencies' JSON data files of RUN_TIME_JSON_BYTES and more (the MIME database, iconv's
 * encoding tables) stay files, which `require` reads with JSON.parse when, and if, the code
 * asks for them, instead of object literals in the bundle's source: V8 keeps a module's
 * source text, the literals' bytecode and their boilerplate on its heap, used or not (~1 MB
 * of the idle webhook). Each is required by its path from `outdir`, the very file esbuild
 * resolved (one package may be installed in two versions), which the image keeps at the same
 * place relative to the bundle (/app/node_modules, /app/dist/server).
 */
function jsonDataAtRunTime(outdir) {
  return {
    name: 'json-data-at-run-time',
    setup(build) {
      build.onResolve({ filter: /\.json$/ }, async (args) => {
        if (args.pluginData === 'json-data-at-run-time') return undefined;
        const resolved = await build.resolve(args.path, {
          resolveDir: args.resolveDir,
          kind: args.kind,
          importer: args.importer,
          pluginData: 'json-data-at-run-time',
        });
        if (resolved.errors.length > 0 || !resolved.path.includes(`${sep}node_modules${sep}`))
          return undefined;
        if (statSync(resolved.path).size < RUN_TIME_JSON_BYTES) return undefined;
        return { path: `./${relative(outdir, resolved.path).split(sep).join('/')}`, external: true };
      });
    },
  };
}

/** Builds the bundle into `outdir` (emptied first); returns the path of its main.mjs. */
export async function buildServer(outdir = join(root, 'dist', 'server')) {
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: { main: join(root, 'src', 'cli', 'main.ts') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
    outExtension: { '.js': '.mjs' },
    // Whitespace and syntax only: names stay, so stack traces in the log still read. V8
    // keeps every loaded module's source text on its heap (about 1.5 MB less resident).
    minifyWhitespace: true,
    minifySyntax: true,
    plugins: [jsonDataAtRunTime(outdir)],
    // CommonJS dependencies call require(); an ESM bundle has none of its own.
    banner: {
      js: "import { createRequire as __tgCreateRequire } from 'node:module'; const require = __tgCreateRequire(import.meta.url);",
    },
  });
  return join(outdir, 'main.mjs');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  if (args.length !== 0 && !(args.length === 2 && args[0] === '--out')) {
    console.error('build-server: usage: node scripts/build-server.mjs [--out DIR]');
    process.exit(2);
  }
  const main = await buildServer(args[1] === undefined ? undefined : resolve(args[1]));
  console.log(`build-server: ${main}`);
}
