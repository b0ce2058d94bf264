/**
 * Conformance with a real verifier: ../shared/tools/oidc-verify (go-oidc v2, as an API
 * server's OIDC authenticator and kube-oidc-proxy verify tokens), fetching the broker's
 * discovery document and JWKS over HTTPS with a test CA. If the verifier cannot be built
 * here these tests fail: .ci/run must install golang-go and golang-github-coreos-go-oidc-dev.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { decodeProtectedHeader } from 'jose';
import request from 'supertest';
import type { Broker } from '../../src/broker/broker.js';
import { createBroker } from '../../src/broker/create-broker.js';
import { generateKeyRecord, serializeKeyRecord } from '../../src/broker/keys/key-material.js';
import { DirectoryKeyStore } from '../../src/broker/keys/key-store-directory.js';
import {
  MemoryKeyStore,
  type KeyChange,
  type KeySnapshot,
  type KeyStore,
} from '../../src/broker/keys/key-store.js';
import { createBrokerRouter } from '../../src/broker/router.js';
import { signToken } from '../../src/broker/keys/signer.js';
import { isTenantGuardError, TenantGuardError } from '../../src/errors.js';
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
function runVerify(
  args: string[],
  feed: (write: (token: string) => void) => Promise<void>,
): Promise<{ code: number | null; lines: VerifyLine[]; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(OIDC_VERIFY, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as VerifyLine);
      resolvePromise({ code, lines, stderr });
    });
    feed((token) => child.stdin.write(`${token}\n`)).then(
      () => child.stdin.end(),
      (err: unknown) => {
        child.kill();
        reject(err);
      },
    );
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
    assert.ok(
      existsSync(OIDC_VERIFY),
      `oidc-verify not found at ${OIDC_VERIFY}; the conformance tests need ../shared/tools/oidc-verify`,
    );
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
  async function serveBroker(
    path: string,
    flags: Record<string, string | boolean> = {},
    now?: () => number,
  ): Promise<{ broker: Broker; issuer: string; token: (target: string) => Promise<string> }> {
    const issuer = `${https.origin}${path}`;
    const broker = await createBroker({
      config: testConfig({ callerBurst: '1000', callerRate: '1000', ...flags }),
      issuer,
      allowedCallers: [CONTROLLER],
      registry: testRegistry(),
      logger: recordingLogger().logger,
      kubeConfig: api.kubeConfig(),
      ...(now === undefined ? {} : { now }),
    });
    brokers.push(broker);
    served.use(createBrokerRouter(broker));
    const app = brokerApp(broker);
    const token = async (target: string): Promise<string> => {
      const res = await request(app)
        .get('/api/get-target-token')
        .query({ targetName: target, server: `https://${target.replace(/^k8s-/, '')}.example.com` })
        .set('Authorization', `Bearer ${caller.token}`);
      assert.equal(res.status, 200, res.text);
      return res.text;
    };
    return { broker, issuer, token };
  }

  const verifyArgs = (issuer: string, audience: string, extra: string[] = []): string[] => [
    '-issuer',
    issuer,
    '-audience',
    audience,
    '-ca',
    tls.caFile,
    '-groups-claim',
    'groups',
    ...extra,
  ];

  test("accepted with the target's audience (issuer with a path); refused with another audience", async () => {
    const { issuer, token } = await serveBroker('/tenant-guard');
    const jwt = await token('k8s-team-a-dev');
    const ok = await runVerify(verifyArgs(issuer, 'k8s-team-a-dev'), async (w) => w(jwt));
    assert.equal(
      ok.code,
      0,
      `oidc-verify failed (exit ${String(ok.code)}): ${ok.stderr}${JSON.stringify(ok.lines)}`,
    );
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
    const ok = await runVerify(verifyArgs(issuer, 'k8s-team-a-prod', ['-algs', 'ES256']), async (w) =>
      w(jwt),
    );
    assert.equal(ok.code, 0, ok.stderr + JSON.stringify(ok.lines));
    const rs = await runVerify(verifyArgs(issuer, 'k8s-team-a-prod'), async (w) => w(jwt));
    assert.equal(rs.code, 1);
  });

  test('one -stream verifier accepts every token of a run crossing at least three key rotations', async () => {
    // Rotation every 1.5 s; a new key is published 1.3 s before it signs (> max-age 1 s + reload 0.2 s).
    const { broker, issuer, token } = await serveBroker('', {
      rotationPeriod: '1500ms',
      publishAhead: '1300ms',
      reloadInterval: '200ms',
      jwksMaxAge: '1s',
    });
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
    assert.equal(
      res.code,
      0,
      `verifier failed: ${res.stderr}${JSON.stringify(res.lines.filter((l) => !l.ok))}`,
    );
    assert.equal(res.lines.length, sent);
    assert.ok(
      res.lines.every((l) => l.ok),
      'every token verified',
    );
    assert.ok(broker.keyManager.view().length >= 4, 'retired keys are still published');
  });
});

/** One long-running oidc-verify -stream process: `verify` writes a token and waits for its line. */
class StreamVerifier {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffered = '';
  private readonly waiting: Array<(line: VerifyLine) => void> = [];
  private stderr = '';
  private exited = false;

  constructor(args: string[]) {
    this.child = spawn(OIDC_VERIFY, [...args, '-stream'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.child.stdout.on('data', (d: Buffer) => {
      this.buffered += d.toString();
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl).trim();
        this.buffered = this.buffered.slice(nl + 1);
        if (line !== '') this.waiting.shift()?.(JSON.parse(line) as VerifyLine);
      }
    });
    this.child.on('close', () => {
      this.exited = true;
      for (const w of this.waiting.splice(0)) w({ ok: false, error: `oidc-verify exited: ${this.stderr}` });
    });
  }

  verify(token: string): Promise<VerifyLine> {
    return new Promise((resolveLine) => {
      if (this.exited) {
        resolveLine({ ok: false, error: `oidc-verify exited: ${this.stderr}` });
        return;
      }
      this.waiting.push(resolveLine);
      this.child.stdin.write(`${token}\n`);
    });
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

describe(
  'go-oidc across rotations with replicas behind a Service (injected clock, -stream)',
  { timeout: 120_000 },
  () => {
    let api: TestApiServer;
    let tls: TestTls;
    const caller = serviceAccountToken();
    const cleanup: Array<() => Promise<void> | void> = [];

    before(async () => {
      assert.ok(existsSync(OIDC_VERIFY), `oidc-verify not found at ${OIDC_VERIFY}`);
      api = await TestApiServer.start();
      api.addToken(caller.token, caller.known);
      tls = await makeTestTls();
    });
    after(async () => {
      for (const c of cleanup.reverse()) await c();
      await api?.close();
      if (tls !== undefined) rmSync(tls.dir, { recursive: true, force: true });
    });

    // go-oidc checks exp and nbf against the real clock: the injected clock starts 45 s behind it
    // (tokens live 60 s) and the runs below advance it by at most 120 s (nbf leeway: 60 s + 30 s back-dating).
    const S = 1000;
    const flags = {
      rotationPeriod: '40s',
      publishAhead: '20s',
      reloadInterval: '5s',
      jwksMaxAge: '0s',
      callerBurst: '100000',
      callerRate: '100000',
    };

    /**
     * A Service in front of the replicas: discovery and JWKS come from the first replica that
     * `isReady` (as endpoints list only ready pods), 503 when none is.
     */
    async function service(
      brokers: readonly Broker[],
      isReady: (b: Broker) => boolean,
    ): Promise<{ issuer: string }> {
      const https = await startHttps(tls);
      const issuer = https.origin;
      const apps = new Map<Broker, express.Express>();
      const front = express();
      front.use((req, res) => {
        const target = brokers.find((b) => isReady(b));
        if (target === undefined) {
          res.status(503).end();
          return;
        }
        const app = apps.get(target) ?? brokerApp(target);
        apps.set(target, app);
        app(req, res);
      });
      https.setApp(front);
      cleanup.push(() => https.close());
      return { issuer };
    }

    async function replica(issuer: string, store: KeyStore, clock: { t: number }): Promise<Broker> {
      const broker = await createBroker({
        config: testConfig(flags),
        issuer,
        allowedCallers: [CONTROLLER],
        registry: testRegistry(),
        logger: recordingLogger().logger,
        kubeConfig: api.kubeConfig(),
        keyStore: store,
        now: () => clock.t,
        manualReload: true,
      });
      cleanup.push(() => broker.close());
      return broker;
    }

    async function tokenFrom(broker: Broker): Promise<string> {
      const outcome = await broker.issue(
        `Bearer ${caller.token}`,
        'k8s-team-a-dev',
        '10.0.0.1',
        'https://team-a-dev.example.com',
      );
      assert.ok(outcome.ok, JSON.stringify(outcome));
      return outcome.token;
    }

    /** The issuer is known once the Service listens; the brokers (listed in Service order) are made after it. */
    async function setUp(
      stores: KeyStore[],
      clock: { t: number },
      isReady: (b: Broker) => boolean,
    ): Promise<{ brokers: Broker[]; verifier: StreamVerifier; issuer: string }> {
      const brokers: Broker[] = [];
      const { issuer } = await service(brokers, isReady);
      for (const s of stores) brokers.push(await replica(issuer, s, clock));
      // Started once a replica serves discovery (go-oidc reads it once, at start).
      const verifier = new StreamVerifier([
        '-issuer',
        issuer,
        '-audience',
        'k8s-team-a-dev',
        '-ca',
        tls.caFile,
      ]);
      cleanup.push(() => verifier.close());
      return { brokers, verifier, issuer };
    }

    /**
     * Replica A (healthy) and replica B whose store fails from 10 s on; the Service prefers B
     * while B is ready. Every second a token from A is verified by one long-running verifier.
     */
    async function staleReplicaRun(
      isReady: (b: Broker) => boolean,
    ): Promise<{ failed: VerifyLine[]; kids: Set<string>; verified: number }> {
      const clock = { t: Date.now() - 45 * S };
      const shared = new MemoryKeyStore();
      const sick = new FailingStore(shared);
      const { brokers, verifier } = await setUp([sick, shared], clock, isReady);
      const [b, a] = brokers;
      assert.ok(a !== undefined && b !== undefined);
      await b.keyManager.reconcile(); // both have read the ring
      const failed: VerifyLine[] = [];
      const kids = new Set<string>();
      let verified = 0;
      for (let step = 1; step <= 110; step++) {
        clock.t += S;
        if (step === 10) sick.down = true;
        if (step % 5 === 0) {
          await a.keyManager.reconcile();
          await b.keyManager.reconcile().catch(() => undefined);
        }
        const jwt = await tokenFrom(a);
        kids.add(String(decodeProtectedHeader(jwt).kid));
        const line = await verifier.verify(jwt);
        if (line.ok) verified++;
        else failed.push(line);
      }
      return { failed, kids, verified };
    }

    test('a replica that cannot read its key ring leaves readiness: no token of the healthy replica fails verification', async () => {
      const run = await staleReplicaRun((b) => b.keyManager.readiness().ready);
      assert.ok(
        run.kids.size >= 3,
        `only ${run.kids.size} signing keys used (${run.kids.size - 1} rotations)`,
      );
      assert.deepEqual(run.failed, []);
      assert.equal(run.verified, 110);
    });

    test('control: with readiness meaning "the ring was loaded once", the same run fails verification', async () => {
      const run = await staleReplicaRun((b) => b.keyManager.view().length > 0);
      assert.ok(run.failed.length > 0, 'the verifier catches a stale JWKS behind a ready replica');
      assert.match(run.failed[0]?.error ?? '', /failed to verify signature|verify/);
    });

    test("a key planted in a world-writable key directory (mode 644) is refused: never published, never signs; the broker's tokens verify", async () => {
      const clock = { t: Date.now() - 45 * S };
      const dir = join(mkdtempSync(join(tmpdir(), 'tg-plant-')), 'keys');
      cleanup.push(() => rmSync(join(dir, '..'), { recursive: true, force: true }));
      const { brokers, verifier, issuer } = await setUp(
        [new DirectoryKeyStore(dir)],
        clock,
        (b) => b.keyManager.readiness().ready,
      );
      const [a] = brokers;
      assert.ok(a !== undefined);
      const own = String(decodeProtectedHeader(await tokenFrom(a)).kid);
      clock.t += 10 * S;
      // Another user plants a key that claims to sign already.
      chmodSync(dir, 0o777);
      const planted = await generateKeyRecord('RS256', clock.t - 1000, clock.t - 1000);
      writeFileSync(join(dir, `${planted.kid}.json`), serializeKeyRecord(planted), { mode: 0o644 });
      chmodSync(join(dir, `${planted.kid}.json`), 0o644);
      await assert.rejects(a.keyManager.reconcile(), (e: unknown) =>
        isTenantGuardError(e, 'ERR_KEYRING_UNSAFE'),
      );
      assert.ok(
        !(a.jwks().body.keys as Array<{ kid?: string }>).some((k) => k.kid === planted.kid),
        'not published',
      );
      const jwt = await tokenFrom(a);
      assert.equal(decodeProtectedHeader(jwt).kid, own, 'not signing');
      assert.equal((await verifier.verify(jwt)).ok, true);
      // A token the attacker signs with the planted key does not verify.
      const forged = await signToken(
        planted,
        {
          issuer,
          subject: 'argocd-team-a-dev',
          audience: 'k8s-team-a-dev',
          groups: [],
          ttlSeconds: 60,
          caller: 'attacker',
        },
        clock.t,
      );
      const refused = await verifier.verify(forged.token);
      assert.equal(refused.ok, false, 'a token signed with the planted key verifies');
    });

    test('a key that lands in the store with notBefore in the past is refused: it never signs, and every token verifies through either replica', async () => {
      const clock = { t: Date.now() - 45 * S };
      const dir = join(mkdtempSync(join(tmpdir(), 'tg-plant-')), 'keys');
      cleanup.push(() => rmSync(join(dir, '..'), { recursive: true, force: true }));
      // B first in the Service; A re-reads 2 s before B does.
      const { brokers, verifier } = await setUp(
        [new DirectoryKeyStore(dir), new DirectoryKeyStore(dir)],
        clock,
        (b) => b.keyManager.readiness().ready,
      );
      const [b, a] = brokers;
      assert.ok(a !== undefined && b !== undefined);
      await a.keyManager.reconcile();
      const failed: VerifyLine[] = [];
      const kids = new Set<string>();
      let planted: string | undefined;
      for (let step = 1; step <= 60; step++) {
        clock.t += S;
        if (step === 6) {
          // Owned by the broker's user, mode 600 (another replica with a wrong clock, or an
          // operator's copy): it claims to sign since a second ago.
          const k = await generateKeyRecord('RS256', clock.t - 1000, clock.t - 1000);
          writeFileSync(join(dir, `${k.kid}.json`), serializeKeyRecord(k), { mode: 0o600 });
          planted = k.kid;
        }
        if (step % 5 === 3) await a.keyManager.reconcile();
        if (step % 5 === 0) await b.keyManager.reconcile();
        const jwt = await tokenFrom(a);
        kids.add(String(decodeProtectedHeader(jwt).kid));
        const line = await verifier.verify(jwt);
        if (!line.ok) failed.push(line);
      }
      assert.deepEqual(failed, []);
      assert.ok(planted !== undefined && !kids.has(planted), 'the backdated key never signs');
      assert.ok(
        !(a.jwks().body.keys as Array<{ kid?: string }>).some((k) => k.kid === planted),
        'nor is it published',
      );
    });
  },
);

/** A store whose loads fail while `down`. */
class FailingStore implements KeyStore {
  readonly description = 'failing';
  down = false;
  constructor(private readonly inner: KeyStore) {}
  load(): Promise<KeySnapshot> {
    if (this.down)
      return Promise.reject(new TenantGuardError('ERR_KEYRING_STORE', 'cannot read key ring: injected'));
    return this.inner.load();
  }
  save(change: KeyChange, version: string | undefined): Promise<string> {
    if (this.down)
      return Promise.reject(new TenantGuardError('ERR_KEYRING_STORE', 'cannot write key ring: injected'));
    return this.inner.save(change, version);
  }
}
