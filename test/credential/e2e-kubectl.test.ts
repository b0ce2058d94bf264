// End to end with the real kubectl: kubectl runs our exec plugin (the single executable and
// the Node entry), the plugin presents a caller token to the real broker (TokenReview by the
// test API server), and the remote-cluster stand-in (oidc-verify, go-oidc) verifies the
// broker's JWT against its discovery document and JWKS before answering /version.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { request } from 'node:https';
import type { Broker } from '../../src/broker/index.js';
import { createBroker } from '../../src/broker/index.js';
import type { TenantRegistry } from '../../src/tenancy/registry.js';
import {
  brokerApp,
  CONTROLLER,
  recordingLogger,
  startHttps,
  testConfig,
  testRegistry,
} from '../broker/helpers.js';
import { serviceAccountToken } from '../support/caller-tokens.js';
import { TestApiServer } from '../support/test-api-server.js';
import { makeTestTls, type TestTls } from '../support/test-tls.js';
import {
  builtSeaBinary,
  kubectl,
  onPath,
  REPO_ROOT,
  startRemoteCluster,
  writeKubeconfig,
  writeNodeWrapper,
  type RemoteCluster,
} from './e2e-support.js';

const execFileAsync = promisify(execFile);
const TARGET = 'k8s-team-a-dev';
const V1 = 'client.authentication.k8s.io/v1';
const V1BETA1 = 'client.authentication.k8s.io/v1beta1';
const skip = onPath('kubectl') ? false : 'kubectl is not on PATH';

describe('e2e: kubectl -> exec plugin -> broker -> remote cluster', { skip }, () => {
  let dir: string;
  let api: TestApiServer;
  let brokerTls: TestTls;
  let remoteTls: TestTls;
  let https: Awaited<ReturnType<typeof startHttps>>;
  let broker: Broker;
  let remote: RemoteCluster;
  const controller = serviceAccountToken();
  const argocdServer = serviceAccountToken({ name: 'argocd-server' });
  const plugins: Array<{ kind: 'sea' | 'node'; command: string }> = [];
  let registry: TenantRegistry | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tg-e2e-'));
    [brokerTls, remoteTls] = await Promise.all([makeTestTls(), makeTestTls()]);
    api = await TestApiServer.start();
    api.addToken(controller.token, controller.known);
    api.addToken(argocdServer.token, argocdServer.known);
    https = await startHttps(brokerTls);
    broker = await createBroker({
      config: testConfig(),
      issuer: https.origin,
      allowedCallers: [CONTROLLER],
      registry: { current: () => registry },
      logger: recordingLogger().logger,
      kubeConfig: api.kubeConfig(),
    });
    https.setApp(brokerApp(broker));
    await Promise.all([
      writeFile(join(dir, 'controller.token'), controller.token),
      writeFile(join(dir, 'argocd-server.token'), argocdServer.token),
      writeFile(join(dir, 'remote.crt'), remoteTls.certPem),
      writeFile(join(dir, 'remote.key'), remoteTls.keyPem),
    ]);
    remote = await startRemoteCluster({
      issuer: https.origin,
      audience: TARGET,
      issuerCaFile: brokerTls.caFile,
      certFile: join(dir, 'remote.crt'),
      keyFile: join(dir, 'remote.key'),
    });
    // The target registered at the remote stand-in's URL (known once it runs, and it reads
    // the broker's discovery first): the broker binds each token to the server kubectl
    // presents it to (provideClusterInfo, ADR 0011).
    // A registry refuses a loopback server (Argo CD's own pod): the stand-in's URL is set on
    // the parsed cluster instead.
    registry = testRegistry().current();
    const owned = registry?.clusterByName(TARGET);
    assert.ok(owned);
    Object.defineProperty(owned.cluster, 'server', { value: remote.url });

    // The single executable `make plugin` built (when up to date), else one built here (as CI
    // can); and the Node entry.
    let sea = builtSeaBinary();
    if (sea === undefined) {
      sea = join(dir, 'sea', 'tenant-guard-credential');
      const built = spawnSync(
        process.execPath,
        [join(REPO_ROOT, 'scripts', 'build-plugin.mjs'), '--out', sea],
        { encoding: 'utf8' },
      );
      assert.equal(built.status, 0, `build-plugin failed: ${built.stderr}${built.stdout}`);
    }
    plugins.push({ kind: 'sea', command: sea }, { kind: 'node', command: await writeNodeWrapper(dir) });
  });

  after(async () => {
    await remote?.stop();
    broker?.close();
    await https?.close();
    await api?.close();
    await Promise.all(
      [dir, brokerTls?.dir, remoteTls?.dir]
        .filter((d) => d !== undefined)
        .map((d) => rm(d, { recursive: true, force: true })),
    );
  });

  async function kubeconfigFor(
    kind: string,
    tokenName: string,
    execApiVersion: string,
    provideClusterInfo = true,
  ): Promise<string> {
    const plugin = plugins.find((p) => p.kind === kind);
    assert.ok(plugin, `plugin ${kind}`);
    const file = join(
      dir,
      `kubeconfig-${kind}-${tokenName}-${execApiVersion.split('/')[1]}-${provideClusterInfo}.yaml`,
    );
    await writeKubeconfig(file, {
      server: remote.url,
      serverCaFile: remoteTls.caFile,
      command: plugin.command,
      // The canonical args of a cluster Secret (SPEC TG-CS-04).
      args: [https.origin, TARGET, join(dir, `${tokenName}.token`), '--ca-file', brokerTls.caFile],
      execApiVersion,
      provideClusterInfo,
    });
    return file;
  }

  for (const kind of ['sea', 'node'] as const) {
    describe(`plugin as ${kind === 'sea' ? 'the single executable' : 'the Node entry'}`, () => {
      test("kubectl get --raw /version succeeds with the broker's token, verified by go-oidc", async () => {
        const seen = remote.lines().length;
        const r = await kubectl(await kubeconfigFor(kind, 'controller', V1), ['get', '--raw', '/version'], {
          HOME: dir,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).gitVersion, 'v1.33.0-oidc-verify');
        // This machine's kubectl is Google's kubectl dispatcher, which first asks the server's
        // /version itself (running the plugin too) to pick the kubectl to run: one or two requests.
        const verified = remote.lines().slice(seen);
        assert.ok(verified.length >= 1, 'the remote cluster saw the request');
        for (const line of verified) {
          assert.equal(line['ok'], true, JSON.stringify(line));
          assert.equal(line['username'], 'argocd-team-a-dev');
          assert.deepEqual(line['aud'], [TARGET]);
        }
        const claims = verified[0]?.['claims'];
        assert.ok(typeof claims === 'object' && claims !== null && 'act' in claims);
        assert.deepEqual(claims.act, { sub: CONTROLLER });
      });

      test('without provideClusterInfo the broker refuses: no server to bind the token to (ADR 0011)', async () => {
        const seen = remote.lines().length;
        const r = await kubectl(
          await kubeconfigFor(kind, 'controller', V1, false),
          ['get', '--raw', '/version'],
          { HOME: dir },
        );
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /ERR_CREDENTIAL_REFUSED: .*answered 400 .*\(ERR_BROKER_SERVER_UNBOUND\)/);
        assert.equal(remote.lines().length, seen, 'no request reached the remote cluster');
      });

      test("a caller that is not allowed: kubectl fails and shows the broker's reason", async () => {
        const seen = remote.lines().length;
        const r = await kubectl(
          await kubeconfigFor(kind, 'argocd-server', V1),
          ['get', '--raw', '/version'],
          { HOME: dir },
        );
        assert.notEqual(r.code, 0);
        assert.equal(r.stdout, '');
        // What the broker itself answers this caller, asked directly.
        const answer = await postTokens(
          https.origin,
          brokerTls.caPem,
          argocdServer.token,
          TARGET,
          remote.url,
        );
        assert.equal(answer.status, 403);
        assert.equal(answer.body['error'], 'ERR_BROKER_FORBIDDEN');
        const reason = `${String(answer.body['message'])} (ERR_BROKER_FORBIDDEN)`;
        assert.match(reason, /argocd-server/);
        assert.ok(
          r.stderr.includes(
            `tenant-guard-credential: ERR_CREDENTIAL_REFUSED: broker ${https.origin}/v1/tokens answered 403 Forbidden for target "${TARGET}": ${reason}\n`,
          ),
          r.stderr,
        );
        assert.ok(!r.stderr.includes(argocdServer.token), 'the caller token never appears');
        assert.equal(remote.lines().length, seen, 'no request reached the remote cluster');
      });

      test('exec apiVersion v1beta1: kubectl asks through KUBERNETES_EXEC_INFO and accepts the v1beta1 answer', async () => {
        const r = await kubectl(
          await kubeconfigFor(kind, 'controller', V1BETA1),
          ['get', '--raw', '/version'],
          { HOME: dir },
        );
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).gitVersion, 'v1.33.0-oidc-verify');
      });

      test('the plugin itself answers in the version KUBERNETES_EXEC_INFO names', async () => {
        const plugin = plugins.find((p) => p.kind === kind);
        assert.ok(plugin);
        for (const apiVersion of [V1, V1BETA1]) {
          // Asynchronously: the broker answers from this very process.
          const r: { stdout: string; stderr: string } = await execFileAsync(
            plugin.command,
            [https.origin, TARGET, join(dir, 'controller.token'), '--ca-file', brokerTls.caFile],
            {
              encoding: 'utf8',
              env: {
                PATH: process.env['PATH'],
                KUBERNETES_EXEC_INFO: JSON.stringify({
                  kind: 'ExecCredential',
                  apiVersion,
                  spec: { interactive: false, cluster: { server: remote.url } },
                }),
              },
            },
          );
          assert.equal(r.stderr, '');
          const credential = JSON.parse(r.stdout);
          assert.equal(credential.apiVersion, apiVersion);
          assert.equal(credential.kind, 'ExecCredential');
          assert.match(credential.status.expirationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        }
      });
    });
  }
});

/** POST /v1/tokens as the plugin would, returning the status and the JSON body. */
function postTokens(
  origin: string,
  ca: string,
  callerToken: string,
  target: string,
  server: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${origin}/v1/tokens`,
      {
        method: 'POST',
        ca,
        headers: { Authorization: `Bearer ${callerToken}`, 'Content-Type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Object(JSON.parse(text)) }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ target, server }));
  });
}
