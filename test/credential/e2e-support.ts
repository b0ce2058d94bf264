// Helpers of the end-to-end test: the plugin command kubectl runs, a kubeconfig using it, the
// oidc-verify remote-cluster stand-in, and running kubectl.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SEA_BINARY = join(REPO_ROOT, 'dist', 'tenant-guard-credential');
export const OIDC_VERIFY = resolve(REPO_ROOT, '..', 'shared', 'tools', 'oidc-verify', 'oidc-verify');

/** True when `cmd` is found on PATH. */
export function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** A wrapper script running the plugin's Node entry through tsx, for kubectl to exec. */
export async function writeNodeWrapper(dir: string): Promise<string> {
  const wrapper = join(dir, 'tenant-guard-credential.sh');
  await writeFile(
    wrapper,
    `#!/bin/sh\ncd '${REPO_ROOT}' && exec '${process.execPath}' --import tsx src/credential/main.ts "$@"\n`,
  );
  await chmod(wrapper, 0o755);
  return wrapper;
}

/** Newest modification time of the sources the single executable bundles, in ms. */
function newestSourceMs(): number {
  const files = [
    join(REPO_ROOT, 'src', 'errors.ts'),
    ...readdirSync(join(REPO_ROOT, 'src', 'credential')).map((f) => join(REPO_ROOT, 'src', 'credential', f)),
  ];
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

/** The single executable `make plugin` built, if it is there and newer than its sources. */
export function builtSeaBinary(): string | undefined {
  try {
    accessSync(SEA_BINARY, constants.X_OK);
    return statSync(SEA_BINARY).mtimeMs > newestSourceMs() ? SEA_BINARY : undefined;
  } catch {
    return undefined;
  }
}

/** Writes a kubeconfig whose user runs the plugin as client-go's exec credential provider. */
export async function writeKubeconfig(
  file: string,
  o: {
    server: string;
    serverCaFile: string;
    command: string;
    args: string[];
    execApiVersion: string;
    /** As a cluster Secret's canonical exec config sets it (ADR 0011); default true. */
    provideClusterInfo?: boolean;
  },
): Promise<void> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'remote', cluster: { server: o.server, 'certificate-authority': o.serverCaFile } }],
    users: [
      {
        name: 'argocd',
        user: {
          exec: {
            apiVersion: o.execApiVersion,
            command: o.command,
            args: o.args,
            interactiveMode: 'Never',
            provideClusterInfo: o.provideClusterInfo ?? true,
          },
        },
      },
    ],
    contexts: [{ name: 'argocd@remote', context: { cluster: 'remote', user: 'argocd' } }],
    'current-context': 'argocd@remote',
  };
  // JSON is YAML: kubectl reads it as is.
  await writeFile(file, JSON.stringify(config, null, 2));
}

/** A port free at the time of asking, for a process that cannot listen on port 0 and tell. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function waitForPort(
  port: number,
  child: ChildProcess,
  output: () => string,
  timeoutMs: number,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`oidc-verify exited ${child.exitCode}: ${output()}`);
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`oidc-verify did not listen on ${port} in ${timeoutMs} ms: ${output()}`);
}

/** The remote-cluster stand-in: verifies every bearer JWT against the issuer's JWKS, answers /version. */
export interface RemoteCluster {
  url: string;
  /** One parsed JSON line per request it verified or refused. */
  lines: () => Array<Record<string, unknown>>;
  stop: () => Promise<void>;
}

/** Starts `oidc-verify -serve` (the issuer must be up: it reads discovery at start). */
export async function startRemoteCluster(o: {
  issuer: string;
  audience: string;
  issuerCaFile: string;
  certFile: string;
  keyFile: string;
}): Promise<RemoteCluster> {
  const port = await freePort();
  const child = spawn(
    OIDC_VERIFY,
    [
      '-serve',
      `127.0.0.1:${port}`,
      '-tls-cert',
      o.certFile,
      '-tls-key',
      o.keyFile,
      '-issuer',
      o.issuer,
      '-audience',
      o.audience,
      '-ca',
      o.issuerCaFile,
      '-groups-claim',
      'groups',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  // The first run may build the Go verifier (about a minute).
  await waitForPort(port, child, () => stderr + stdout, 180_000);
  return {
    url: `https://127.0.0.1:${port}`,
    lines: () =>
      stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs kubectl with a kubeconfig; never through a shell. */
export function kubectl(
  kubeconfig: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, '--request-timeout=20s', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('close', (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
  });
}
