import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { kustomizeBuild, type KubeObject } from '../deploy/manifest-checks.js';
import { checkBuiltIn } from '../deploy/model-check.js';
import {
  CA_BUNDLE_FILE,
  DEFAULT_CERTS_OUT,
  mergeCaBundle,
  register,
  runCerts,
  serviceDnsNames,
  TLS_SECRET_FILE,
  type CertsOptions,
} from '../../src/cli/certs.js';
import { startServe } from '../../src/server/start-serve.js';
import { request as httpsRequest } from 'node:https';
import { capturedLogger, reviewBody } from '../server/webhook-app-support.js';
import { callServe, testIo } from './cli-support.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function capture(): {
  io: { stdout(t: string): void; stderr(t: string): void };
  out: string[];
  err: string[];
} {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) }, out, err };
}

/** A copy of the kustomize tree (base and CRD) to write into. */
function copyTree(dir: string): string {
  const tree = join(dir, 'webhook-config');
  for (const part of ['kustomization.yaml', 'base', 'crd', 'webhooks', 'examples'])
    cpSync(join(root, 'webhook-config', part), join(tree, part), { recursive: true });
  return tree;
}

function caBundles(file: string): string[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).flatMap((d) => {
    const webhooks: unknown = d.toJS().webhooks;
    return Array.isArray(webhooks)
      ? webhooks.map((w: { clientConfig?: { caBundle?: string } }) => w.clientConfig?.caBundle ?? '')
      : [];
  });
}

/** A TLS handshake with a server holding `pair`, as `tenant-guard-webhook.tenant-guard.svc`, trusting `ca`. */
async function handshake(pair: { cert: string; key: string }, ca: string): Promise<string> {
  const server = createTlsServer(pair, (socket) => socket.end());
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<string>((ok) => {
      const socket = tlsConnect(
        { host: '127.0.0.1', port, ca, servername: 'tenant-guard-webhook.tenant-guard.svc' },
        () => {
          socket.end();
          ok('ok');
        },
      );
      socket.on('error', (err) => ok(err.message));
    });
  } finally {
    server.close();
  }
}

describe('tenant-guard certs', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  function temp(): string {
    const d = mkdtempSync(join(tmpdir(), 'tg-certs-'));
    dirs.push(d);
    return d;
  }

  test('a CA and a serving certificate for every Service name; the caBundle in every webhook; rotation keeps the previous CA', async () => {
    const dir = temp();
    const tree = copyTree(dir);
    const configs = join(tree, 'webhooks', 'webhook-configurations.yaml');
    const out = join(dir, 'certs');
    const options: CertsOptions = {
      services: ['tenant-guard-webhook', 'tenant-guard-broker'],
      namespace: 'tg-system',
      out,
      webhookConfig: tree,
      days: 30,
    };
    const run1 = capture();
    assert.equal(await runCerts(options, run1.io), 0, run1.err.join(''));

    const ca = new X509Certificate(readFileSync(join(out, 'ca.pem')));
    const serving = new X509Certificate(readFileSync(join(out, 'tls.crt')));
    assert.ok(
      serving.checkIssued(ca) && serving.verify(ca.publicKey),
      'the serving certificate is signed by the CA',
    );
    const sans = (serving.subjectAltName ?? '').split(', ');
    for (const name of [
      'tenant-guard-webhook',
      'tenant-guard-webhook.tg-system',
      'tenant-guard-webhook.tg-system.svc',
      'tenant-guard-webhook.tg-system.svc.cluster.local',
      'tenant-guard-broker.tg-system.svc',
    ]) {
      assert.ok(sans.includes(`DNS:${name}`), `SAN ${name} in ${serving.subjectAltName}`);
    }
    assert.equal(statSync(join(out, 'tls.key')).mode & 0o777, 0o600);
    assert.ok(Date.parse(serving.validTo) - Date.now() < 31 * 86_400_000, '--days is honoured');

    const first = caBundles(configs);
    assert.equal(first.length, 4, 'two webhooks in each configuration');
    const firstPem = Buffer.from(first[0] ?? '', 'base64').toString('utf8');
    assert.ok(first.every((b) => b === first[0]));
    assert.deepEqual(firstPem.match(PEM_CERT), [ca.toString().trim()]);
    assert.equal(readFileSync(join(out, CA_BUNDLE_FILE), 'utf8'), firstPem);
    assert.match(readFileSync(configs, 'utf8'), /# - failurePolicy Fail/, 'comments are kept');
    assert.match(run1.out.join(''), new RegExp(`kubectl apply -f ${join(out, TLS_SECRET_FILE)}\n`));
    // The Secret the Deployments mount, as one manifest: the pair, and ca.crt the CA bundle.
    const secretText = readFileSync(join(out, TLS_SECRET_FILE), 'utf8');
    assert.equal(statSync(join(out, TLS_SECRET_FILE)).mode & 0o777, 0o600, 'it holds the key');
    const secret = parseAllDocuments(secretText)[0]?.toJS() as KubeObject;
    assert.deepEqual(checkBuiltIn(secret), [], 'a valid Secret');
    assert.deepEqual(
      [secret.kind, secret.type, secret.metadata.name, secret.metadata.namespace],
      ['Secret', 'kubernetes.io/tls', 'tenant-guard-tls', 'tg-system'],
    );
    const decoded = (key: string) => Buffer.from(String(secret.data[key]), 'base64').toString('utf8');
    assert.equal(decoded('tls.crt'), readFileSync(join(out, 'tls.crt'), 'utf8'));
    assert.equal(decoded('tls.key'), readFileSync(join(out, 'tls.key'), 'utf8'));
    assert.equal(decoded('ca.crt'), readFileSync(join(out, CA_BUNDLE_FILE), 'utf8'));
    const mounted = kustomizeBuild(join(tree))
      .filter((o) => o.kind === 'Deployment')
      .flatMap((d) => d.spec.template.spec.volumes)
      .filter((v: { secret?: { secretName: string } }) => v.secret !== undefined)
      .map((v: { secret: { secretName: string } }) => v.secret.secretName);
    assert.ok(mounted.includes(secret.metadata.name), `the Deployments mount ${mounted.join(', ')}`);

    // Rotation: the new CA first, the previous one kept; the one before that dropped.
    assert.equal(await runCerts(options, capture().io), 0);
    const secondCa = new X509Certificate(readFileSync(join(out, 'ca.pem')));
    const second =
      Buffer.from(caBundles(configs)[0] ?? '', 'base64')
        .toString('utf8')
        .match(PEM_CERT) ?? [];
    assert.deepEqual(
      second.map((p) => new X509Certificate(p).fingerprint256),
      [secondCa.fingerprint256, ca.fingerprint256],
    );
    assert.equal(await runCerts(options, capture().io), 0);
    const third =
      Buffer.from(caBundles(configs)[0] ?? '', 'base64')
        .toString('utf8')
        .match(PEM_CERT) ?? [];
    assert.equal(third.length, 2);
    assert.equal(new X509Certificate(third[1] ?? '').fingerprint256, secondCa.fingerprint256);

    // The tree still builds, with the caBundle in the output.
    assert.match(
      run1.out.join(''),
      new RegExp(`kubectl apply -k ${join(tree, 'webhooks')}\n`),
      "the webhook configurations' own kustomization, after the pods",
    );
    const webhooks = kustomizeBuild(join(tree, 'webhooks'))
      .filter((o) => /WebhookConfiguration$/.test(o.kind))
      .flatMap((o) => o.webhooks);
    assert.equal(webhooks.length, 4);
    assert.ok(
      webhooks.every(
        (w: { clientConfig: { caBundle?: string } }) => w.clientConfig.caBundle === caBundles(configs)[0],
      ),
    );
  });

  test('bad input: exit 2 naming the option; no webhook configuration: exit 1', async () => {
    const dir = temp();
    const bad = capture();
    assert.equal(
      await runCerts(
        {
          services: ['Not_A_Name'],
          namespace: 'tenant-guard',
          out: join(dir, 'c'),
          webhookConfig: undefined,
          days: 10,
        },
        bad.io,
      ),
      2,
    );
    assert.match(bad.err.join(''), /--service: "Not_A_Name" is not a Service name .*ERR_USAGE/);
    const none = capture();
    assert.equal(
      await runCerts(
        {
          services: ['svc'],
          namespace: 'tenant-guard',
          out: join(dir, 'c'),
          webhookConfig: join(root, 'webhook-config', 'crd'),
          days: 10,
        },
        none.io,
      ),
      1,
    );
    assert.match(none.err.join(''), /no MutatingWebhookConfiguration .* found .*ERR_CERTS/);
  });

  test('the commander registration: repeated and comma-separated --service, --no-webhook-config', async () => {
    const dir = temp();
    const program = new Command().exitOverride();
    const out: string[] = [];
    const codes: number[] = [];
    const sink = { write: (t: string) => void out.push(t) };
    register(program, {
      io: { stdout: sink, stderr: sink, stdin: process.stdin, env: {}, cwd: dir },
      setExitCode: (c) => void codes.push(c),
    });
    await program.parseAsync(
      [
        'certs',
        '--service',
        'one',
        '--service',
        'two,three',
        '--namespace',
        'ns',
        '--out',
        '.',
        '--no-webhook-config',
        '--days',
        '5',
      ],
      { from: 'user' },
    );
    assert.deepEqual(codes, [0], out.join(''));
    assert.doesNotMatch(out.join(''), /caBundle written/, 'no webhook configuration touched');
    const sans = new X509Certificate(readFileSync(join(dir, 'tls.crt'))).subjectAltName ?? '';
    assert.deepEqual(
      sans.split(', ').map((s) => s.replace(/^DNS:/, '')),
      serviceDnsNames(['one', 'two', 'three'], 'ns'),
    );
  });

  test('--client: a client certificate (clientAuth) signed by the CA, which `serve --client-ca-file` accepts from the API server', async () => {
    const dir = temp();
    const out = join(dir, 'out');
    const done = capture();
    const options: CertsOptions = {
      services: ['tenant-guard-webhook'],
      namespace: 'tenant-guard',
      out,
      webhookConfig: undefined,
      days: 10,
      client: 'kube-apiserver',
    };
    assert.equal(await runCerts(options, done.io), 0, done.err.join(''));
    assert.match(done.out.join(''), /client\.crt and .*client\.key \(0600\).*Common Name kube-apiserver/);
    assert.match(
      done.out.join(''),
      /create secret generic tenant-guard-client-ca --from-file=ca\.crt=.*ca-bundle\.pem/,
    );
    assert.equal(statSync(join(out, 'client.key')).mode & 0o777, 0o600);
    const client = new X509Certificate(readFileSync(join(out, 'client.crt')));
    const ca = new X509Certificate(readFileSync(join(out, 'ca.pem')));
    assert.equal(client.subject, 'CN=kube-apiserver');
    assert.ok(client.checkIssued(ca) && client.verify(ca.publicKey), 'signed by the CA');
    assert.deepEqual(client.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'extKeyUsage clientAuth only');
    const handle = await startServe(
      {
        port: '0',
        certsDir: join(dir, 'serving'),
        clientCaFile: join(out, CA_BUNDLE_FILE),
        clientNames: 'kube-apiserver',
      },
      testIo({ cwd: root }),
      { logger: capturedLogger('error').logger },
    );
    try {
      const servingCa = readFileSync(join(dir, 'serving', 'ca.pem'), 'utf8');
      const status = (cert?: string, key?: string) =>
        new Promise<number>((resolveStatus, reject) => {
          const req = httpsRequest(
            `${handle.url}/validate`,
            {
              method: 'POST',
              ca: servingCa,
              agent: false,
              headers: { 'content-type': 'application/json' },
              ...(cert === undefined ? {} : { cert, key }),
            },
            (res) => {
              res.resume();
              res.on('end', () => resolveStatus(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify(reviewBody()));
        });
      assert.equal(
        await status(
          readFileSync(join(out, 'client.crt'), 'utf8'),
          readFileSync(join(out, 'client.key'), 'utf8'),
        ),
        200,
      );
      assert.equal(await status(), 401);
    } finally {
      await handle.close(1000);
    }
    const bad = capture();
    assert.equal(await runCerts({ ...options, client: 'a,b' }, bad.io), 2);
    assert.match(bad.err.join(''), /--client: "a,b" must be/);
  });

  test("`certs` with its defaults never touches what `serve` (npm start) serves: the README's curl keeps working", async () => {
    const cwd = temp();
    copyTree(cwd);
    const io = testIo({ cwd });
    const handle = await startServe({ port: '0' }, io, { logger: capturedLogger().logger });
    const localCa = (): string => readFileSync(join(cwd, 'certs', 'ca.pem'), 'utf8');
    const served = (): string => readFileSync(join(cwd, 'certs', 'tls.crt'), 'utf8');
    try {
      assert.match(
        io.err(),
        /curl --cacert certs\/ca\.pem https:\/\/127\.0\.0\.1:\d+\/healthz/,
        'the banner names certs/ca.pem, as the README does',
      );
      const before = { ca: localCa(), cert: served() };
      const program = new Command().exitOverride();
      const codes: number[] = [];
      const out: string[] = [];
      const sink = { write: (t: string) => void out.push(t) };
      register(program, {
        io: { stdout: sink, stderr: sink, stdin: process.stdin, env: {}, cwd },
        setExitCode: (c) => void codes.push(c),
      });
      await program.parseAsync(['certs'], { from: 'user' });
      assert.deepEqual(codes, [0], out.join(''));
      assert.match(out.join(''), new RegExp(`wrote ${join(cwd, DEFAULT_CERTS_OUT, 'ca.pem')}`));
      assert.deepEqual({ ca: localCa(), cert: served() }, before, 'certs/ left as serve made it');
      assert.equal((await callServe(handle.url, localCa(), '/healthz')).status, 200);
    } finally {
      await handle.close(1000);
    }
    // The next `npm start` reuses certs/, still a certificate for 127.0.0.1 signed by certs/ca.pem.
    const again = await startServe({ port: '0' }, testIo({ cwd }), { logger: capturedLogger().logger });
    try {
      assert.equal((await callServe(again.url, localCa(), '/healthz')).status, 200);
    } finally {
      await again.close(1000);
    }
  });

  test('mergeCaBundle keeps only a valid, different previous CA', async () => {
    const dir = temp();
    await runCerts(
      { services: ['a'], namespace: 'n', out: dir, webhookConfig: undefined, days: 1 },
      capture().io,
    );
    const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const from = (pem: string) => ({ pem, from: 'test' });
    assert.equal(
      mergeCaBundle(ca, [from(ca)], new Date()).bundle,
      `${ca.trim()}\n`,
      'the same CA is not repeated',
    );
    const later = new Date(Date.now() + 3 * 86_400_000);
    const expired = mergeCaBundle('NEW', [from(ca)], later);
    assert.equal(expired.bundle, 'NEW\n', 'an expired previous CA is dropped');
    assert.equal(expired.expired.length, 1, 'and said so');
    assert.equal(mergeCaBundle('NEW', [from('garbage')], new Date()).bundle, 'NEW\n');
    assert.equal(
      mergeCaBundle('NEW', [from(ca), from(ca)], new Date()).bundle,
      `NEW\n${ca.trim()}\n`,
      'found twice, kept once',
    );
  });

  test('rotation keeps the CA `certs` wrote last, with no caBundle in the webhook configurations (a fresh checkout, --no-webhook-config)', async () => {
    const dir = temp();
    const out = join(dir, 'certs');
    const options = (webhookConfig: string | undefined): CertsOptions => ({
      services: ['tenant-guard-webhook'],
      namespace: 'tenant-guard',
      out,
      webhookConfig,
      days: 30,
    });
    const first = capture();
    assert.equal(await runCerts(options(undefined), first.io), 0, first.err.join(''));
    assert.match(first.out.join(''), /no previous CA kept .*: apply as a first install/);
    assert.match(first.out.join(''), /next \(a first install/);
    const oldCa = new X509Certificate(readFileSync(join(out, 'ca.pem')));
    const oldPair = {
      cert: readFileSync(join(out, 'tls.crt'), 'utf8'),
      key: readFileSync(join(out, 'tls.key'), 'utf8'),
    };

    // The rotation, from a checkout whose webhook configurations carry no caBundle.
    const tree = copyTree(dir);
    assert.deepEqual(
      caBundles(join(tree, 'webhooks', 'webhook-configurations.yaml')).filter((b) => b !== ''),
      [],
    );
    const second = capture();
    assert.equal(await runCerts(options(tree), second.io), 0, second.err.join(''));
    const newCa = new X509Certificate(readFileSync(join(out, 'ca.pem')));
    assert.notEqual(newCa.fingerprint256, oldCa.fingerprint256);
    const bundle = (readFileSync(join(out, CA_BUNDLE_FILE), 'utf8').match(PEM_CERT) ?? []).map(
      (p) => new X509Certificate(p).fingerprint256,
    );
    assert.deepEqual(
      bundle,
      [newCa.fingerprint256, oldCa.fingerprint256],
      'the new CA, then the one it replaced',
    );
    const written = Buffer.from(
      caBundles(join(tree, 'webhooks', 'webhook-configurations.yaml'))[0] ?? '',
      'base64',
    )
      .toString('utf8')
      .match(PEM_CERT);
    assert.equal(written?.length, 2, 'the webhook configurations trust both');
    // What a TLS client holding the new bundle (Node's, as the exec plugin) makes of the
    // serving certificate still mounted, and of the new one.
    const bundleText = readFileSync(join(out, CA_BUNDLE_FILE), 'utf8');
    assert.equal(
      await handshake(oldPair, bundleText),
      'ok',
      'the previous serving certificate still verifies',
    );
    const newPair = {
      cert: readFileSync(join(out, 'tls.crt'), 'utf8'),
      key: readFileSync(join(out, 'tls.key'), 'utf8'),
    };
    assert.equal(await handshake(newPair, bundleText), 'ok', 'the new one verifies');
    const said = second.out.join('');
    assert.match(
      said,
      new RegExp(
        `kept the previous CA CN=tenant-guard CA \\(tenant-guard\\), OU=made .* \\(valid to .*, from ${join(out, 'ca.pem')}\\)`,
      ),
    );
    // The rotation's order: Argo CD's CA and the webhook configurations before the Secret.
    const order = [
      'configmap tenant-guard-broker-ca',
      `kubectl apply -k ${join(tree, 'webhooks')}`,
      `kubectl apply -f ${join(out, TLS_SECRET_FILE)}`,
    ].map((step) => said.indexOf(step));
    assert.ok(
      order.every((at, i) => at > said.indexOf('next, a rotation') && (i === 0 || at > (order[i - 1] ?? 0))),
      said,
    );
  });

  test('a ca.pem in --out that holds no certificate is not overwritten: exit 1, naming it', async () => {
    const dir = temp();
    const out = join(dir, 'certs');
    mkdirSync(out);
    writeFileSync(join(out, 'ca.pem'), 'not a certificate\n');
    const run = capture();
    assert.equal(
      await runCerts({ services: ['a'], namespace: 'n', out, webhookConfig: undefined, days: 1 }, run.io),
      1,
    );
    assert.match(
      run.err.join(''),
      /ca\.pem exists but holds no readable certificate; .*move it away.*\(ERR_CERTS\)/,
    );
    assert.equal(readFileSync(join(out, 'ca.pem'), 'utf8'), 'not a certificate\n', 'left as it was');
    assert.equal(existsSync(join(out, 'tls.key')), false, 'nothing written');
  });

  test('an expired previous CA is not kept, and the output says so', async () => {
    const dir = temp();
    const out = join(dir, 'certs');
    const options: CertsOptions = { services: ['a'], namespace: 'n', out, webhookConfig: undefined, days: 1 };
    assert.equal(await runCerts(options, capture().io), 0);
    const run = capture();
    assert.equal(await runCerts(options, run.io, new Date(Date.now() + 3 * 86_400_000)), 0);
    assert.match(run.out.join(''), /warning: the previous CA from .*ca\.pem expired .* and is not kept/);
    assert.equal((readFileSync(join(out, CA_BUNDLE_FILE), 'utf8').match(PEM_CERT) ?? []).length, 1);
  });

  test('the caBundle is the only change to the webhook configurations: comments and the CEL line breaks stay', async () => {
    const dir = temp();
    const tree = copyTree(dir);
    const file = join(tree, 'webhooks', 'webhook-configurations.yaml');
    const before = readFileSync(file, 'utf8');
    const withoutCaBundle = (text: string) => text.split('\n').filter((l) => !/^\s*caBundle: /.test(l));
    const options: CertsOptions = {
      services: ['tenant-guard-webhook'],
      namespace: 'tenant-guard',
      out: join(dir, 'certs'),
      webhookConfig: tree,
      days: 5,
    };
    assert.equal(await runCerts(options, capture().io), 0);
    const first = readFileSync(file, 'utf8');
    assert.deepEqual(withoutCaBundle(first), withoutCaBundle(before), 'every other line as it was');
    assert.equal(
      first.split('\n').filter((l) => /^ {6}caBundle: /.test(l)).length,
      4,
      "one per webhook's clientConfig",
    );
    assert.equal(await runCerts(options, capture().io), 0);
    const second = readFileSync(file, 'utf8');
    assert.deepEqual(
      withoutCaBundle(second),
      withoutCaBundle(before),
      'a second run replaces the value in place',
    );
    assert.notEqual(second, first);
    assert.deepEqual(
      caBundles(file),
      Array(4).fill(Buffer.from(readFileSync(join(dir, 'certs', CA_BUNDLE_FILE), 'utf8')).toString('base64')),
    );
  });
});
