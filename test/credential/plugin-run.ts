// Running the exec plugin in the credential tests: its caller token, one run with its output
// captured, and what every failing run must look like.
import assert from 'node:assert/strict';
import { runCredential, type CredentialIo } from '../../src/credential/run.js';
import { fakeJwt } from './fake-broker.js';

/** The Argo CD controller's caller token, as the credential tests give the plugin (never printed). */
export const CALLER = fakeJwt({
  sub: 'system:serviceaccount:argocd:argocd-application-controller',
  aud: ['tenant-guard'],
  exp: 4_000_000_000,
});

/** What one run of the plugin ended with. */
export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the plugin with `args`, no environment unless `extra` gives one, and captures its output. */
export async function runPlugin(args: string[], extra: Partial<CredentialIo> = {}): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await runCredential(args, {
    env: {},
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    ...extra,
  });
  return { code, stdout, stderr };
}

/** A failed run: a non-zero exit, nothing on stdout, one line naming `code`, never the caller token. */
export function failure(o: Outcome, code: string, message: RegExp): void {
  assert.notEqual(o.code, 0);
  assert.equal(o.stdout, '');
  assert.equal(o.stderr.split('\n').length, 2, `one line expected: ${o.stderr}`);
  assert.ok(o.stderr.startsWith(`tenant-guard-credential: ${code}: `), o.stderr);
  assert.match(o.stderr, message);
  assert.ok(!o.stderr.includes(CALLER), 'the caller token never appears');
}
