import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { imageNodeFlags, shippedLaunch } from '../../bench/shipped.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Instruction {
  op: string;
  args: string;
}

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions of a Dockerfile by stage: comments dropped, `\` continuations joined, ARG defaults substituted. */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const op = (m[1] ?? '').toUpperCase();
    const rest = (m[2] ?? '').replace(
      /\$\{(\w+)\}/g,
      (_all, name: string) => args.get(name) ?? `\${${name}}`,
    );
    if (op === 'ARG' && stages.length === 0) {
      const [name, value] = rest.split('=');
      if (name !== undefined && value !== undefined) args.set(name.trim(), value.trim());
      continue;
    }
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      stages.push({ from: f?.[1] ?? rest, name: f?.[2], instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ op, args: rest });
  }
  return stages;
}

function runs(stage: Stage): string[] {
  return stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
}

/** Package names imported for their values (not `import type`) by the files under src/. */
function runtimeImports(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      for (const [k, v] of runtimeImports(path)) found.set(k, v);
      continue;
    }
    if (!entry.endsWith('.ts')) continue;
    const text = readFileSync(path, 'utf8');
    for (const m of text.matchAll(
      /^import\s+(?!type\s)[^'"]*?from\s+'([^'.][^']*)'|^import\s+'([^'.][^']*)'/gm,
    )) {
      const spec = m[1] ?? m[2] ?? '';
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
      const name = spec.startsWith('@')
        ? spec.split('/').slice(0, 2).join('/')
        : (spec.split('/')[0] ?? spec);
      found.set(name, path.slice(root.length + 1));
    }
  }
  return found;
}

describe('the Dockerfile (checked statically: no Docker engine here)', () => {
  const stages = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  const runtime = stages.at(-1);

  test('multi-stage: a build stage with dev dependencies that builds and makes the plugin; a Node.js 24 runtime', () => {
    assert.ok(stages.length >= 2, 'more than one stage');
    assert.ok(runtime !== undefined);
    const build = stages.find((s) => runs(s).some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r)));
    assert.ok(build !== undefined && build !== runtime, 'a build stage installs every dependency');
    assert.ok(
      runs(build).some((r) => /npm run build/.test(r)),
      'it runs npm run build',
    );
    assert.ok(
      runs(build).some((r) => /\bmake plugin\b/.test(r)),
      'it builds the plugin with make plugin',
    );
    assert.ok(
      runs(build).some((r) => /node scripts\/build-server\.mjs\b/.test(r)),
      'it bundles the server with scripts/build-server.mjs (test/deploy/server-bundle.test.ts runs that bundle)',
    );
    const entrypoint = runtime.instructions.filter((i) => i.op === 'ENTRYPOINT').at(-1)?.args ?? '';
    assert.deepEqual(
      JSON.parse(entrypoint),
      ['node', '--no-concurrent-recompilation', '/app/dist/server/main.mjs'],
      'the image runs the bundle, with V8 optimizing on the main thread (less memory kept)',
    );
    assert.ok(
      runtime.instructions.some(
        (i) => i.op === 'COPY' && /--from=\S+\s+\/src\/dist\/server\s+\.\/dist\/server$/.test(i.args),
      ),
      'the bundle is copied from the build stage',
    );
    assert.match(
      runtime.from,
      /^(node:24[\w.-]*-slim|gcr\.io\/distroless\/nodejs24[\w.-]*)(@sha256:[0-9a-f]{64})?$/,
      `runtime base ${runtime.from} is Node.js 24, slim or distroless`,
    );
  });

  test('the runtime stage has production dependencies only', () => {
    assert.ok(runtime !== undefined);
    for (const r of runs(runtime))
      assert.doesNotMatch(r, /\bnpm (ci|install|i)\b/, 'the runtime stage installs nothing');
    const nodeModules = runtime.instructions.filter((i) => i.op === 'COPY' && /node_modules/.test(i.args));
    assert.equal(nodeModules.length, 1);
    const from = /--from=(\S+)/.exec(nodeModules[0]?.args ?? '')?.[1];
    const source = stages.find((s) => s.name === from);
    assert.ok(source !== undefined, `node_modules come from stage ${from}`);
    const installs = runs(source).filter((r) => /\bnpm (ci|install|i)\b/.test(r));
    assert.ok(
      installs.length > 0 && installs.every((r) => /--omit=dev/.test(r)),
      `stage ${from} installs with --omit=dev only`,
    );
    const fromContext = runtime.instructions
      .filter((i) => i.op === 'COPY' && !/^--from=/.test(i.args))
      .map((i) => i.args);
    assert.deepEqual(
      fromContext,
      ['package.json ./'],
      'from the build context only package.json; the rest is built output',
    );
  });

  test('every package src/ imports at run time is a production dependency', () => {
    const pkg: { dependencies?: Record<string, string> } = JSON.parse(
      readFileSync(join(root, 'package.json'), 'utf8'),
    );
    const missing = [...runtimeImports(join(root, 'src'))]
      .filter(([name]) => pkg.dependencies?.[name] === undefined)
      .map(([name, file]) => `${name} (${file})`);
    assert.deepEqual(missing, [], 'a package the runtime needs but --omit=dev would leave out');
  });

  test('non-root numeric USER, exec-form ENTRYPOINT, the plugin at /usr/local/bin/tenant-guard-credential', () => {
    assert.ok(runtime !== undefined);
    const user = runtime.instructions.filter((i) => i.op === 'USER').at(-1)?.args ?? '';
    assert.match(user, /^\d+(:\d+)?$/, 'numeric, so Kubernetes runAsNonRoot can verify it');
    assert.notEqual(Number(user.split(':')[0]), 0, 'not root');
    const entrypoint = runtime.instructions.filter((i) => i.op === 'ENTRYPOINT').at(-1)?.args ?? '';
    const parsed: unknown = JSON.parse(entrypoint);
    assert.ok(
      Array.isArray(parsed) && parsed.length > 0 && parsed.every((p) => typeof p === 'string'),
      'ENTRYPOINT in exec form (a JSON array): no shell',
    );
    assert.ok(!['sh', '/bin/sh', 'bash', '/bin/bash'].includes(String(parsed[0])));
    const cmd = runtime.instructions.find((i) => i.op === 'CMD');
    if (cmd !== undefined) assert.ok(Array.isArray(JSON.parse(cmd.args)), 'CMD in exec form');
    assert.ok(
      runtime.instructions.some(
        (i) =>
          i.op === 'COPY' &&
          /--from=\S+\s+\S*tenant-guard-credential\s+\/usr\/local\/bin\/tenant-guard-credential$/.test(
            i.args,
          ),
      ),
      'the plugin executable is in the image',
    );
    assert.ok(
      !stages.some((s) => s.instructions.some((i) => i.op === 'ADD' && /https?:\/\//.test(i.args))),
      'no ADD from a URL',
    );
  });

  test("the ENTRYPOINT's node flags are ones this node accepts, and the benchmarks run servers with them", () => {
    const flags = imageNodeFlags(root);
    assert.deepEqual(flags, ['--no-concurrent-recompilation']);
    // node refuses an unknown flag ("bad option", exit 9) instead of starting without it.
    execFileSync(process.execPath, [...flags, '-e', '0']);
    for (const manifest of ['webhook', 'broker'] as const)
      assert.deepEqual(shippedLaunch(manifest, root).flags.slice(0, flags.length), flags, manifest);
    const other = mkdtempSync(join(tmpdir(), 'tg-dockerfile-'));
    try {
      writeFileSync(
        join(other, 'Dockerfile'),
        'FROM node:24-slim\nENTRYPOINT ["node", "main.mjs", "--no-opt"]\n',
      );
      assert.deepEqual(imageNodeFlags(other), [], "what follows the script is the script's");
      writeFileSync(join(other, 'Dockerfile'), 'FROM node:24-slim\nENTRYPOINT node main.mjs\n');
      assert.throws(() => imageNodeFlags(other), /no exec-form ENTRYPOINT/);
      writeFileSync(
        join(other, 'Dockerfile'),
        'FROM node:24-slim\nENTRYPOINT ["node", "-r", "x", "main.mjs"]\n',
      );
      assert.throws(() => imageNodeFlags(other), /argument -r is neither a --flag nor the script/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('.dockerignore keeps keys, node_modules and git out of the build context; make image and make crd exist', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['certs', 'node_modules', '.git', 'dist'])
      assert.ok(ignored.includes(entry), `.dockerignore lists ${entry}`);
    const image = execFileSync('make', ['-n', 'image', 'IMAGE=registry.example.com/tenant-guard:1.2.3'], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.match(image, /^docker build -t registry\.example\.com\/tenant-guard:1\.2\.3 \.$/m);
    assert.match(execFileSync('make', ['-n', 'crd'], { cwd: root, encoding: 'utf8' }), /npm run gen:crd/);
  });
});
