/**
 * Resident memory of the real `tenant-guard serve --components webhook` with a file registry
 * and no kubeconfig, run with the shipped Deployment's NODE_OPTIONS (bench/shipped.ts), next to the no-op `node:https` process as its floor: idle with 10
 * tenants, and with 10,000 tenants (30,000 clusters) idle and after a load of /mutate. For
 * two builds made here with esbuild: the sources compiled file by file (what the image runs
 * from `tsc`), and the server bundled into one file (as the plugin is).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { runLoad } from './load.js';
import { shippedLaunch } from './shipped.js';
import { rssMb, sleep, startProcess, stop } from './processes.js';
import { servedBundle, startServe, tenantsYaml } from './serve-process.js';
import { typicalReview } from './webhook.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const NOOP = fileURLToPath(new URL('./noop-server.mjs', import.meta.url));
const OUT = join(ROOT, 'dist', 'bench');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** The two builds; returns the path of each build's main.js. */
async function builds(): Promise<Array<{ name: string; main: string }>> {
  rmSync(join(OUT, 'files'), { recursive: true, force: true });
  await build({
    entryPoints: sourceFiles(join(ROOT, 'src')),
    outdir: join(OUT, 'files'),
    outbase: ROOT,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
  });
  const bundle = await servedBundle();
  return [
    { name: 'compiled files (tsc, dist/src/)', main: join(OUT, 'files', 'src', 'cli', 'main.js') },
    { name: 'esbuild bundle (as the image runs dist/server/)', main: bundle },
  ];
}

export interface MemoryRow {
  readonly build: string;
  readonly idle10: number;
  /** Of `idle10`, the private anonymous part (heap, malloc): the rest is mapped files, the node binary's code first. */
  readonly idle10Anon: number;
  readonly idle10k: number;
  readonly afterLoad10k: number;
}

export interface MemoryBench {
  readonly floorMb: number;
  /** Heap the registry of 10,000 Tenants keeps after a full GC (bench/registry-heap.ts). */
  readonly registryHeapMb: number;
  readonly rows: readonly MemoryRow[];
}

/** The registry's heap after a full GC, measured in a process of its own. */
function registryHeap(file: string): number {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', fileURLToPath(new URL('./registry-heap.ts', import.meta.url)), file],
    { encoding: 'utf8' },
  );
  const m = /^HEAP (.*)$/m.exec(out);
  if (m?.[1] === undefined) throw new Error(`bench/registry-heap.ts printed no HEAP line: ${out}`);
  return (JSON.parse(m[1]) as { heapMb: number }).heapMb;
}

/** Measures; each load lasts `seconds`. */
export async function benchMemory(
  seconds = 5,
  write: (line: string) => void = console.log,
): Promise<MemoryBench> {
  const dir = mkdtempSync(join(tmpdir(), 'tg-bench-memory-'));
  try {
    const small = join(dir, 'tenants-10.yaml');
    const large = join(dir, 'tenants-10000.yaml');
    writeFileSync(small, tenantsYaml(10));
    writeFileSync(large, tenantsYaml(10_000));
    mkdirSync(join(dir, 'certs'));
    const noop = await startProcess([NOOP]);
    await sleep(2000);
    const floorMb = rssMb(noop.child.pid);
    await stop(noop);
    const registryHeapMb = registryHeap(large);
    const rows: MemoryRow[] = [];
    for (const b of await builds()) {
      const s = await startServe(b.main, small, join(dir, 'certs'));
      await sleep(3000);
      const idle10 = rssMb(s.child.pid);
      const idle10Anon = rssMb(s.child.pid, 'RssAnon');
      await stop(s);
      const l = await startServe(b.main, large, join(dir, 'certs'));
      await sleep(3000);
      const idle10k = rssMb(l.child.pid);
      await runLoad({
        label: 'load',
        url: `https://127.0.0.1:${l.port}/mutate`,
        method: 'POST',
        body: typicalReview('team-9993'),
        durationSeconds: seconds,
        connections: 32,
      });
      await sleep(2000);
      const afterLoad10k = rssMb(l.child.pid);
      await stop(l);
      rows.push({ build: b.name, idle10, idle10Anon, idle10k, afterLoad10k });
    }
    write(
      `\nResident memory of serve --components webhook, file registry, no kubeconfig, ${shippedLaunch('webhook').described} (node ${process.version})`,
    );
    write(
      `| build | 10 tenants idle, MB | of which anonymous, MB | vs no-op floor (${floorMb.toFixed(0)} MB) | 10,000 tenants idle, MB | 10,000 tenants after ${seconds} s of /mutate, MB | vs floor |`,
    );
    write('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rows)
      write(
        `| ${r.build} | ${r.idle10.toFixed(0)} | ${r.idle10Anon.toFixed(0)} | ${(r.idle10 / floorMb).toFixed(2)} | ${r.idle10k.toFixed(0)} | ${r.afterLoad10k.toFixed(0)} | ${(r.afterLoad10k / floorMb).toFixed(2)} |`,
      );
    write(`Heap the file registry of 10,000 Tenants keeps after a full GC: ${registryHeapMb.toFixed(1)} MB`);
    return { floorMb, registryHeapMb, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
