// Builds the exec credential plugin as a Node.js single executable application
// (https://nodejs.org/api/single-executable-applications.html), so it runs in the Argo CD
// application controller container, which has no Node.js:
//
//   1. esbuild bundles src/credential/main.ts and what it imports into one CommonJS file
//      (a SEA's main script must be CommonJS and can require only built-in modules);
//   2. `node --experimental-sea-config` turns it into a preparation blob;
//   3. a copy of the node binary (stripped of its symbols on Linux, when `strip` exists) gets
//      the blob injected with postject under the fuse Node.js looks for;
//   4. the result runs `--help` once as a smoke test.
//
//   node scripts/build-plugin.mjs [--node PATH] [--out FILE] [--no-strip]
//
// --node: the Node.js binary to embed (default: the one running this script). The blob is made
// with that same binary, as the format is tied to its version. Works with Node.js 20 and 24.
// Output: dist/tenant-guard-credential (and dist/plugin/ with the bundle and the blob; with
// --out, plugin/ beside the output).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function parseArgs(argv) {
  const opts = { node: process.execPath, out: join(root, 'dist', 'tenant-guard-credential'), strip: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--node') opts.node = resolve(argv[++i] ?? '');
    else if (a === '--out') opts.out = resolve(argv[++i] ?? '');
    else if (a === '--no-strip') opts.strip = false;
    else {
      console.error(
        `build-plugin: unknown argument ${a}; usage: node scripts/build-plugin.mjs [--node PATH] [--out FILE] [--no-strip]`,
      );
      process.exit(2);
    }
  }
  return opts;
}

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(
      `build-plugin: ${what} failed (${cmd} exited ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`,
    );
    process.exit(1);
  }
  return r.stdout;
}

const opts = parseArgs(process.argv.slice(2));
if (process.platform !== 'linux' && process.platform !== 'darwin') {
  console.error(`build-plugin: building on ${process.platform} is not supported (Linux, macOS)`);
  process.exit(1);
}
const nodeVersion = run(opts.node, ['--version'], 'node --version').trim();
const major = Number(/^v(\d+)/.exec(nodeVersion)?.[1] ?? 0);
if (major < 20) {
  console.error(`build-plugin: ${opts.node} is ${nodeVersion}; single executables need Node.js 20 or later`);
  process.exit(1);
}

// Intermediate files (bundle, blob) go beside the output: dist/plugin/ by default.
const work = join(dirname(opts.out), 'plugin');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(dirname(opts.out), { recursive: true });
const bundle = join(work, 'tenant-guard-credential.cjs');
const blob = join(work, 'sea-prep.blob');
const seaConfig = join(work, 'sea-config.json');

await build({
  entryPoints: [join(root, 'src', 'credential', 'main.ts')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${major}`,
  outfile: bundle,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});

// The code cache spares V8 compiling the bundle at every start of the plugin.
writeFileSync(
  seaConfig,
  JSON.stringify(
    { main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true },
    null,
    2,
  ),
);
run(opts.node, ['--experimental-sea-config', seaConfig], 'node --experimental-sea-config');

rmSync(opts.out, { force: true });
copyFileSync(opts.node, opts.out);
chmodSync(opts.out, 0o755);
if (process.platform === 'darwin')
  run('codesign', ['--remove-signature', opts.out], 'codesign --remove-signature');
else if (opts.strip && spawnSync('strip', ['--version'], { stdio: 'ignore' }).status === 0)
  run('strip', [opts.out], 'strip');

const postject = require.resolve('postject/dist/cli.js');
const injectArgs = [postject, opts.out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE];
if (process.platform === 'darwin') injectArgs.push('--macho-segment-name', 'NODE_SEA');
run(process.execPath, injectArgs, 'postject');
if (process.platform === 'darwin') run('codesign', ['--sign', '-', opts.out], 'codesign --sign');

const help = run(opts.out, ['--help'], 'smoke test of the built executable');
if (!help.includes('BROKER TARGET TOKEN_FILE')) {
  console.error('build-plugin: the built executable did not print its usage');
  process.exit(1);
}
console.log(`build-plugin: ${opts.out} (Node.js ${nodeVersion} single executable)`);
