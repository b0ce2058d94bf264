/**
 * Conformance with a real verifier: ../shared/tools/oidc-verify (go-oidc v2, as an API
 * server's OIDC authenticator and kube-oidc-proxy verify tokens), fetching the broker's
 * discovery document and JWKS over HTTPS with a test CA. If the verifier cannot be built
 * here these tests fail: .ci/run must install golang-go and golang-github-coreos-go-oidc-dev.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { decodeProtectedHeader } from 'jose';
import request from 'supertest';
import type { Broker } from '../../src/broker/broker.js';
import { createBroker } from '../../src/broker/create-broker.js';
import { createBrokerRouter } from '../../src/broker/router.js';
import { serviceAccountToken } from '../support/caller-tokens.js';
import { TestApiServer } from '../support/test-api-server.js';
import { makeTestTls, type TestTls } from '../support/test-tls.js';
import { brokerApp, CONTROLLER, recordingLogger, startHttps, testConfig, testRegistry } from './helpers.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OIDC_VERIFY = resolve(repoRoot, '../shared/tools/oidc-verify/oidc-verify');

interface VerifyLine {
  ok: boolean;
  error?: string;
  username?: string;
  groups?: string[];
  aud?: string[];
}

/** Runs oidc-verify; `feed` writes tokens (one per line) to its standard input, then ends it. */
function runVerify(args: string[], feed: (write: (token: string) => void) => Promise<void>): Promise<{ code: number | null; lines: VerifyLine[]; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(OIDC_VERIFY, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as VerifyLine);
      resolvePromise({ code, lines, stderr });
    });
    feed((token) => child.stdin.write(`${token}\n`)).then(() => child.stdin.end(), (err: unknown) => {
      child.kill();
      reject(err);
    });
  });
}

describe('tokens verified by go-oidc (oidc-verify) over HTTPS', { timeout: 90_000 }, () => {
  let api: TestApiServer;
  let tls: TestTls;
  let https: Awaited<ReturnType<typeof startHttps>>;
  const served = express();
  const brokers: Broker[] = [];
  const caller = serviceAccountToken();

  before(async () => {
    assert.ok(existsSync(OIDC_VERIFY), `oidc-verify not found at ${OIDC_VERIFY}; the conformance tests need ../shared/tools/oidc-verify`);
    api = await TestApiServer.start();
    api.addToken(caller.token, caller.known);
    tls = await makeTestTls();
    https = await startHttps(tls);
    https.setApp(served);
  });
  after(async () => {
    for (const b of brokers) b.close();
    await https?.close();
    await api?.close();
    if (tls !== undefined) rmSync(tls.dir, { recursive: true, force: true });
  });

  /** A broker whose discovery and JWKS are served over HTTPS at `issuer`. */
  async function serveBroker(path: string, flags: Record<string, string | boolean> = {}, now?: () => number): Promise<{ broker: Broker; issuer: string; token: (target: string) => Promise<string> }> {
    const issuer = `${https.origin}${path}`;
    const broker = await createBroker({
      config: testConfig({ callerBurst: '1000', callerRate: '1000', ...flags }), issuer, allowedCallers: [CONTROLLER], registry: testRegistry(),
      logger: recordingLogger().logger, kubeConfig: api.kubeConfig(), ...(now === undefined ? {} : { now }),
    });
    brokers.push(broker);
    served.use(createBrokerRouter(broker));
    const app = brokerApp(broker);
    const token = async (target: string): Promise<string> => {
      const res = await request(app).get('/api/get-target-token').query({ targetName: target }).set('Authorization', `Bearer ${caller.token}`);
      assert.equal(res.status, 200, res.text);
      return res.text;
    };
    return { broker, issuer, token };
  }

  const verifyArgs = (issuer: string, audience: string, extra: string[] = []): string[] => ['-issuer', issuer, '-audience', audience, '-ca', tls.caFile, '-groups-claim', 'groups', ...extra];

  test('accepted with the target\'s audience (issuer with a path); refused with another audience', async () => {
    const { issuer, token } = await serveBroker('/tenant-guard');
    const jwt = await token('k8s-team-a-dev');
    const ok = await runVerify(verifyArgs(issuer, 'k8s-team-a-dev'), async (w) => w(jwt));
    assert.equal(ok.code, 0, `oidc-verify failed (exit ${String(ok.code)}): ${ok.stderr}${JSON.stringify(ok.lines)}`);
    assert.equal(ok.lines[0]?.ok, true);
    assert.equal(ok.lines[0]?.username, 'argocd-team-a-dev');
    assert.deepEqual(ok.lines[0]?.groups, ['tenant-admins']);

    const other = await runVerify(verifyArgs(issuer, 'k8s-team-b-dev'), async (w) => w(jwt));
    assert.equal(other.code, 1);
    assert.equal(other.lines[0]?.ok, false);
    assert.match(other.lines[0]?.error ?? '', /audience/);
  });

  test('refused once expired (a token minted by a broker whose clock runs 200 s behind)', async () => {
    const { issuer, token } = await serveBroker('/skewed', {}, () => Date.now() - 200_000);
    const jwt = await token('k8s-team-a-dev');
    const res = await runVerify(verifyArgs(issuer, 'k8s-team-a-dev'), async (w) => w(jwt));
    assert.equal(res.code, 1);
    assert.match(res.lines[0]?.error ?? '', /expired/);
  });

  test('ES256 by setting: accepted where ES256 is allowed, refused by the API server default (RS256 only)', async () => {
    const { issuer, token } = await serveBroker('/es256', { signingAlg: 'ES256' });
    const jwt = await token('k8s-team-a-prod');
    assert.equal(decodeProtectedHeader(jwt).alg, 'ES256');
    const ok = await runVerify(verifyArgs(issuer, 'k8s-team-a-prod', ['-algs', 'ES256']), async (w) => w(jwt));
    assert.equal(ok.code, 0, ok.stderr + JSON.stringify(ok.lines));
    const rs = await runVerify(verifyArgs(issuer, 'k8s-team-a-prod'), async (w) => w(jwt));
    assert.equal(rs.code, 1);
  });

  test('one -stream verifier accepts every token of a run crossing at least three key rotations', async () => {
    // Rotation every 1.5 s; a new key is published 1.3 s before it signs (> max-age 1 s + reload 0.2 s).
    const { broker, issuer, token } = await serveBroker('', { rotationPeriod: '1500ms', publishAhead: '1300ms', reloadInterval: '200ms', jwksMaxAge: '1s' });
    const kids = new Set<string>();
    let sent = 0;
    const res = await runVerify(verifyArgs(issuer, 'k8s-team-a-dev', ['-stream']), async (write) => {
      const deadline = Date.now() + 20_000;
      while (kids.size < 4 && Date.now() < deadline) {
        const jwt = await token('k8s-team-a-dev');
        kids.add(String(decodeProtectedHeader(jwt).kid));
        write(jwt);
        sent++;
        await new Promise((r) => setTimeout(r, 80));
      }
    });
    assert.ok(kids.size >= 4, `only ${kids.size} signing keys seen (${kids.size - 1} rotations)`);
    assert.equal(res.code, 0, `verifier failed: ${res.stderr}${JSON.stringify(res.lines.filter((l) => !l.ok))}`);
    assert.equal(res.lines.length, sent);
    assert.ok(res.lines.every((l) => l.ok), 'every token verified');
    assert.ok(broker.keyManager.view().length >= 4, 'retired keys are still published');
  });
});
