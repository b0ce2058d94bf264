/**
 * The client-auth overlay and the API server examples (docs/install.md section 6) fit
 * together and fit the code: the env the overlay sets is what `serve` reads, the CA file
 * lies in the Secret volume it mounts, the names it allows are the example certificate's,
 * and the kubeconfig's user is named as the API server looks it up for our webhooks.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { parseServeOptions } from '../../src/server/serve-options.js';
import { onPath } from '../credential/e2e-support.js';
import { checkBuiltIn } from './model-check.js';
import { checkHardening, checkReferences, kustomizeBuild, type KubeObject } from './manifest-checks.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = join(root, 'webhook-config', 'examples', 'apiserver');

interface Container {
  name: string;
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

function webhookPod(objects: readonly KubeObject[]): {
  container: Container;
  volumes: Array<{ name: string; secret?: { secretName: string } }>;
} {
  const deployment = objects.find(
    (o) => o.kind === 'Deployment' && o.metadata.name === 'tenant-guard-webhook',
  );
  assert.ok(deployment !== undefined);
  const pod = deployment.spec.template.spec as {
    containers: Container[];
    volumes: Array<{ name: string; secret?: { secretName: string } }>;
  };
  const container = pod.containers.find((c) => c.name === 'webhook');
  assert.ok(container !== undefined);
  return { container, volumes: pod.volumes };
}

test('the client-auth overlay: serve reads its env as a client CA in the mounted Secret and the names of the example certificate', () => {
  const objects = kustomizeBuild(join(root, 'webhook-config/overlays/client-auth'));
  assert.deepEqual(
    objects.flatMap((o) => checkBuiltIn(o as unknown as Record<string, unknown>)),
    [],
  );
  assert.deepEqual(checkHardening(objects), []);
  assert.deepEqual(
    checkReferences(objects, { externalSecrets: ['tenant-guard-tls', 'tenant-guard-client-ca'] }),
    [],
  );
  const { container, volumes } = webhookPod(objects);
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));
  // The flags in args (`serve --tls-cert=...`) and the env as the container gets them.
  const raw: Record<string, unknown> = {};
  for (const arg of container.args ?? []) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m?.[1] !== undefined)
      raw[m[1].replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = m[2] ?? true;
  }
  const options = parseServeOptions(raw, env, []);
  assert.ok(options.clientCaFile !== undefined, 'serve gets a client CA file');
  const mount = (container.volumeMounts ?? []).find((m) =>
    options.clientCaFile?.startsWith(`${m.mountPath}/`),
  );
  assert.ok(mount !== undefined, `${options.clientCaFile} lies in a mounted volume`);
  assert.equal(volumes.find((v) => v.name === mount.name)?.secret?.secretName, 'tenant-guard-client-ca');
  assert.equal(
    options.clientCaFile,
    `${mount.mountPath}/ca.crt`,
    'the key `create secret --from-file=ca.crt=` writes',
  );
  // The kubeconfig's comment and install.md make the certificate with `certs --client kube-apiserver`.
  assert.deepEqual(options.clientNames, ['kube-apiserver']);
  assert.match(
    readFileSync(join(EXAMPLES, 'webhook-kubeconfig.yaml'), 'utf8'),
    /certs --client kube-apiserver/,
  );
});

test("the API server examples: both webhook plugins read the kubeconfig, whose user is every webhook's Service name", () => {
  const admission = parse(readFileSync(join(EXAMPLES, 'admission-configuration.yaml'), 'utf8')) as {
    apiVersion: string;
    kind: string;
    plugins: Array<{
      name: string;
      configuration: { apiVersion: string; kind: string; kubeConfigFile: string };
    }>;
  };
  assert.equal(admission.apiVersion, 'apiserver.config.k8s.io/v1');
  assert.equal(admission.kind, 'AdmissionConfiguration');
  assert.deepEqual(admission.plugins.map((p) => p.name).sort(), [
    'MutatingAdmissionWebhook',
    'ValidatingAdmissionWebhook',
  ]);
  for (const p of admission.plugins) {
    assert.equal(p.configuration.apiVersion, 'apiserver.config.k8s.io/v1');
    assert.equal(p.configuration.kind, 'WebhookAdmissionConfiguration');
    assert.equal(p.configuration.kubeConfigFile, '/etc/kubernetes/tenant-guard/webhook-kubeconfig.yaml');
  }
  const kubeconfig = parse(readFileSync(join(EXAMPLES, 'webhook-kubeconfig.yaml'), 'utf8')) as {
    users: Array<{ name: string; user: Record<string, string> }>;
  };
  const userNames = kubeconfig.users.map((u) => u.name);
  const services = parseAllDocuments(
    readFileSync(join(root, 'webhook-config', 'webhooks', 'webhook-configurations.yaml'), 'utf8'),
  ).flatMap((d) => {
    const webhooks = (
      d.toJS() as { webhooks?: Array<{ clientConfig: { service: Record<string, unknown> } }> }
    ).webhooks;
    return (webhooks ?? []).map((w) => w.clientConfig.service);
  });
  assert.ok(services.length >= 2);
  for (const s of services) {
    // The API server looks up `<service>.<namespace>.svc`, with `:<port>` unless it is 443.
    const name = `${String(s.name)}.${String(s.namespace)}.svc${s.port === 443 ? '' : `:${String(s.port)}`}`;
    assert.ok(userNames.includes(name), `${name} among ${userNames.join(', ')}`);
  }
  const user = kubeconfig.users[0]?.user ?? {};
  assert.ok(user['client-certificate'] !== undefined && user['client-key'] !== undefined);
});

test(
  'client-go loads the example kubeconfig (kubectl config view)',
  { skip: onPath('kubectl') ? false : 'kubectl is not on PATH' },
  async () => {
    const { stdout } = await promisify(execFile)('kubectl', [
      'config',
      'view',
      '--kubeconfig',
      join(EXAMPLES, 'webhook-kubeconfig.yaml'),
      '-o',
      'json',
    ]);
    const users = (JSON.parse(stdout) as { users: Array<{ name: string; user: Record<string, string> }> })
      .users;
    assert.equal(users[0]?.user['client-certificate'], '/etc/kubernetes/tenant-guard/client.crt');
  },
);
