/** In-process CLI runs: captured stdout/stderr, a given stdin and environment. */
import { mkdtempSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/main.js';

/** The repository root (where webhook-config/ lives). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The log and audit lines `serve` wrote (io.logs), which the real process writes to fd 1. */
  logs: string;
}

export function testIo(
  options: { stdin?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): CliIo & { out: () => string; err: () => string; logged: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  const logs: string[] = [];
  return {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
    logs: { write: (s: string) => logs.push(s) },
    stdin: Readable.from([Buffer.from(options.stdin ?? '')]),
    env: options.env ?? {},
    cwd: options.cwd ?? REPO_ROOT,
    out: () => out.join(''),
    err: () => err.join(''),
    logged: () => logs.join(''),
  };
}

/** Runs `tenant-guard ARGV` in process. */
export async function runCli(
  argv: string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  const io = testIo(options);
  const code = await run(argv, io);
  return { code, stdout: io.out(), stderr: io.err(), logs: io.logged() };
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'tg-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** One HTTPS request to a served URL, trusting `ca`: a JSON body makes it a POST; `token` a Bearer. */
export function callServe(
  url: string,
  ca: string,
  path: string,
  options: { body?: unknown; token?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolveReply, reject) => {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    const req = httpsRequest(
      `${url}${path}`,
      { ca, method: options.body === undefined ? 'GET' : 'POST', headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolveReply({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body === undefined ? undefined : JSON.stringify(options.body));
  });
}
