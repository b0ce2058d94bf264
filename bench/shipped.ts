/**
 * What the image and the shipped Deployments (webhook-config/base/) give the process: the
 * Node.js flags of the Dockerfile's ENTRYPOINT and of `NODE_OPTIONS`, the allocator's
 * environment (`MALLOC_*`) and the container's memory limit, so the benchmarks run servers
 * as they run in a cluster and judge them against the limit they live under.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

interface Container {
  env?: Array<{ name?: string; value?: string }>;
  resources?: { limits?: { memory?: string } };
}

/** What one Deployment ships. */
export interface ShippedDeployment {
  /** The flags of `NODE_OPTIONS`, e.g. `--max-old-space-size=192`. */
  readonly nodeOptions: readonly string[];
  /** `--max-old-space-size`, in MB. */
  readonly maxOldSpaceMb: number;
  /** The container's memory limit, in MiB. */
  readonly memoryLimitMb: number;
  /** The container's `MALLOC_*` variables (glibc's allocator), e.g. `MALLOC_ARENA_MAX`. */
  readonly allocatorEnv: Readonly<Record<string, string>>;
}

/** A Kubernetes memory quantity in MiB (the unit of /proc's kB / 1024, as the tables' RSS). */
function mebibytes(quantity: unknown): number | undefined {
  const match = typeof quantity === 'string' ? /^(\d+)(Mi|Gi)$/.exec(quantity) : null;
  if (match?.[1] === undefined) return undefined;
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

/** The container of `webhook-config/base/<manifest>.yaml`'s Deployment that sets NODE_OPTIONS (from `root`). */
export function shippedDeployment(manifest: 'webhook' | 'broker', root = ROOT): ShippedDeployment {
  const file = join(root, 'webhook-config', 'base', `${manifest}.yaml`);
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const object = doc.toJS() as {
      kind?: string;
      spec?: { template?: { spec?: { containers?: Container[] } } };
    } | null;
    if (object?.kind !== 'Deployment') continue;
    for (const container of object.spec?.template?.spec?.containers ?? []) {
      const value = container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
      if (value === undefined) continue;
      const nodeOptions = value.split(/\s+/).filter((f) => f !== '');
      const heap = /--max-old-space-size=(\d+)/.exec(value)?.[1];
      const memory = mebibytes(container.resources?.limits?.memory);
      const allocatorEnv = Object.fromEntries(
        (container.env ?? []).flatMap((e) =>
          e.name?.startsWith('MALLOC_') === true && e.value !== undefined ? [[e.name, e.value]] : [],
        ),
      );
      if (heap !== undefined && memory !== undefined)
        return { nodeOptions, maxOldSpaceMb: Number(heap), memoryLimitMb: memory, allocatorEnv };
    }
  }
  throw new Error(
    `${file}: no Deployment container with NODE_OPTIONS --max-old-space-size and a memory limit`,
  );
}

/**
 * The flags the image's ENTRYPOINT gives node before the bundle (`["node", ...flags, script,
 * ...]` in the Dockerfile under `root`): V8 flags that NODE_OPTIONS may not carry.
 */
export function imageNodeFlags(root = ROOT): string[] {
  const file = join(root, 'Dockerfile');
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('ENTRYPOINT '))
    .at(-1);
  const form = line?.slice('ENTRYPOINT '.length).trim() ?? '';
  const args: unknown = form.startsWith('[') ? JSON.parse(form) : undefined;
  if (
    !Array.isArray(args) ||
    args.length < 2 ||
    args[0] !== 'node' ||
    !args.every((a) => typeof a === 'string')
  )
    throw new Error(`${file}: no exec-form ENTRYPOINT ["node", ...flags, script]`);
  const rest = (args as string[]).slice(1);
  const script = rest.findIndex((a) => !a.startsWith('--'));
  if (script === -1 || rest[script]?.startsWith('-') === true)
    throw new Error(
      `${file}: ENTRYPOINT argument ${rest[script] ?? '(none)'} is neither a --flag nor the script`,
    );
  return rest.slice(0, script);
}

/**
 * How to start one of our servers as the image and the Deployment in
 * `webhook-config/base/<manifest>.yaml` run it: the ENTRYPOINT's flags, then its
 * `NODE_OPTIONS` flags, this process's environment with its `MALLOC_*` over it, and all of
 * them as one line for a table's title.
 */
export function shippedLaunch(
  manifest: 'webhook' | 'broker',
  root = ROOT,
): { flags: string[]; env: NodeJS.ProcessEnv; described: string } {
  const { nodeOptions, allocatorEnv } = shippedDeployment(manifest, root);
  const flags = [...imageNodeFlags(root), ...nodeOptions];
  const described = [...Object.entries(allocatorEnv).map(([k, v]) => `${k}=${v}`), ...flags].join(' ');
  return { flags, env: { ...process.env, ...allocatorEnv }, described };
}
