/**
 * A kubeconfig that cannot work is refused at start with its real cause (issue 9 item 5),
 * instead of serving and logging "the API server is unreachable" on every call: client-node
 * loads almost anything and fails only at the first request, with an error that has no
 * network code.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startServe } from '../../src/server/start-serve.js';
import { isTenantGuardError } from '../../src/errors.js';
import { loadKubeConfig } from '../../src/kube/kube-config.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { tempDir, testIo } from './cli-support.js';

interface Variant {
  clusters?: Array<Record<string, unknown>>;
  users?: Array<Record<string, unknown>>;
  contexts?: Array<Record<string, unknown>>;
  currentContext?: string;
}

/** A kubeconfig file as kubectl writes it; a token user unless told otherwise. */
function kubeconfigFile(dir: string, v: Variant): string {
  const file = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: v.clusters ?? [{ name: 'control-plane', cluster: { server: 'https://127.0.0.1:6443' } }],
      users: v.users ?? [{ name: 'tenant-guard', user: { token: 'not-a-real-token' } }],
      contexts: v.contexts ?? [{ name: 'ctx', context: { cluster: 'control-plane', user: 'tenant-guard' } }],
      'current-context': v.currentContext ?? 'ctx',
    }),
  );
  return file;
}

const refused =
  (message: RegExp) =>
  (err: unknown): boolean => {
    assert.ok(isTenantGuardError(err, 'ERR_SETTINGS_INVALID'), String(err));
    assert.match(err.message, message);
    assert.doesNotMatch(err.message, /unreachable|not-a-real-token/);
    return true;
  };

describe('loadKubeConfig: a kubeconfig that cannot work says why, at once', () => {
  const dir = tempDir('tg-kubeconfig-');

  test('a working one loads', () => {
    const kc = loadKubeConfig(kubeconfigFile(dir, {}), {});
    assert.equal(kc?.getCurrentCluster()?.server, 'https://127.0.0.1:6443');
    const insecure = loadKubeConfig(
      kubeconfigFile(dir, {
        clusters: [
          {
            name: 'control-plane',
            cluster: { server: 'http://127.0.0.1:8080', 'insecure-skip-tls-verify': true },
          },
        ],
      }),
      {},
    );
    assert.equal(
      insecure?.getCurrentCluster()?.server,
      'http://127.0.0.1:8080',
      "plain HTTP is client-node's to allow with insecure-skip-tls-verify",
    );
  });

  const cases: Array<[string, Variant, RegExp]> = [
    [
      'plain HTTP without insecure-skip-tls-verify (client-node refuses it at the first call)',
      { clusters: [{ name: 'control-plane', cluster: { server: 'http://127.0.0.1:8080' } }] },
      /cluster "control-plane": server http:\/\/127\.0\.0\.1:8080 is plain HTTP, which @kubernetes\/client-node refuses unless the cluster sets insecure-skip-tls-verify: true/,
    ],
    [
      'a current-context that is not there',
      { currentContext: 'prod' },
      /current-context "prod" is not among its contexts \(ctx\)/,
    ],
    ['no current-context', { currentContext: '' }, /no current-context is set/],
    [
      'a context naming a missing cluster',
      { contexts: [{ name: 'ctx', context: { cluster: 'gone', user: 'tenant-guard' } }] },
      /context "ctx" names cluster "gone", which is not among its clusters/,
    ],
    [
      'a context naming a missing user',
      { contexts: [{ name: 'ctx', context: { cluster: 'control-plane', user: 'nobody' } }] },
      /context "ctx" names user "nobody", which is not among its users/,
    ],
    [
      'a server that is no URL',
      { clusters: [{ name: 'control-plane', cluster: { server: 'control-plane:6443' } }] },
      /server "control-plane:6443" is not a URL|server control-plane:6443 is not an https URL/,
    ],
    [
      'a CA file that is not there',
      {
        clusters: [
          {
            name: 'control-plane',
            cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority': '/nonexistent/ca.crt' },
          },
        ],
      },
      /cluster "control-plane": certificate-authority \/nonexistent\/ca\.crt cannot be read \(ENOENT\)/,
    ],
    [
      'a client key that is not there',
      {
        users: [
          {
            name: 'tenant-guard',
            user: { 'client-certificate-data': 'eA==', 'client-key': '/nonexistent/key.pem' },
          },
        ],
      },
      /user "tenant-guard": client-key \/nonexistent\/key\.pem cannot be read \(ENOENT\)/,
    ],
  ];
  for (const [name, variant, message] of cases) {
    test(name, () => {
      assert.throws(() => loadKubeConfig(kubeconfigFile(dir, variant), {}), refused(message));
    });
  }

  test("a file that is not YAML names the file and the parser's reason", () => {
    const file = join(dir, 'broken');
    writeFileSync(file, 'clusters: [');
    assert.throws(() => loadKubeConfig(file, {}), refused(/setting --kubeconfig: cannot load .*broken: \S/));
  });

  test('serve --watch-tenants with a plain-HTTP kubeconfig stops at start with the cause, not "unreachable" later', async () => {
    const file = kubeconfigFile(dir, {
      clusters: [{ name: 'control-plane', cluster: { server: 'http://127.0.0.1:8080' } }],
    });
    await assert.rejects(
      startServe(
        { port: '0', certsDir: join(dir, 'certs'), watchTenants: true, kubeconfig: file },
        testIo(),
        { logger: capturedLogger('warn').logger },
      ),
      refused(/plain HTTP/),
    );
  });
});
