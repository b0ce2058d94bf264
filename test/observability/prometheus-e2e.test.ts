/**
 * A real Prometheus (Debian's package) scrapes a running `tenant-guard serve` over HTTPS with
 * the scrape config docs/observability.md documents, while the test drives admissions and
 * token requests; Prometheus's HTTP API then shows the target up, the counters moved by
 * exactly what was sent, and every recording rule and alert evaluating without error.
 * Waits are bounded polls of Prometheus's API, never fixed sleeps.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { brokerComponent } from '../../src/broker/serve-component.js';
import { startServe, type ServeHandle } from '../../src/server/start-serve.js';
import { capturedLogger, reviewBody } from '../server/webhook-app-support.js';
import { serviceAccountToken } from '../support/caller-tokens.js';
import { TestApiServer } from '../support/test-api-server.js';
import { seedOneClusterTenant, writeKubeconfig } from '../support/test-api-setup.js';
import { callServe, tempDir, testIo } from '../cli/cli-support.js';
import { needBinary, OBSERVABILITY_DOC, RULES_FILE } from './prometheus-tools.js';

const skip = needBinary('prometheus');

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}

/** The scrape_config block of docs/observability.md (between its ```yaml fence and the end fence). */
function documentedScrapeConfig(): string {
  const doc = readFileSync(OBSERVABILITY_DOC, 'utf8');
  const block = /<!-- scrape-config -->\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block !== undefined, 'docs/observability.md has a scrape-config block');
  return block;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: string, expr: string): Promise<Sample[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; data: { result: Sample[] } };
  assert.equal(body.status, 'success', expr);
  return body.data.result;
}

/** Polls `check` until it returns true, at most `limitMs`; resolves to the last answer. */
async function until(check: () => Promise<boolean>, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const valueOf = async (base: string, expr: string): Promise<number | undefined> => {
  const [first] = await query(base, expr);
  return first === undefined ? undefined : Number(first.value[1]);
};

describe('a real Prometheus scraping tenant-guard', skip, () => {
  let api: TestApiServer;
  let handle: ServeHandle;
  let prometheus: ChildProcess;
  let base: string;
  let ca: string;

  before(async () => {
    api = await TestApiServer.start();
    seedOneClusterTenant(api);
    const dir = tempDir('tg-prom-');
    const kubeconfig = writeKubeconfig(api, dir);
    handle = await startServe(
      { port: '0', certsDir: join(dir, 'certs'), watchTenants: true, kubeconfig },
      testIo(),
      { logger: capturedLogger('error').logger, components: [brokerComponent] },
    );
    ca = readFileSync(join(dir, 'certs', 'ca.pem'), 'utf8');
    const webPort = await freePort();
    base = `http://127.0.0.1:${webPort}`;
    const scrape = documentedScrapeConfig()
      .replaceAll('/etc/prometheus/tenant-guard-ca.pem', join(dir, 'certs', 'ca.pem'))
      .replaceAll('tenant-guard-webhook.tenant-guard.svc:443', `127.0.0.1:${handle.port}`)
      .replaceAll('server_name: tenant-guard-webhook.tenant-guard.svc', 'server_name: 127.0.0.1');
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${fileURLToPath(RULES_FILE)}`,
      scrape,
    ].join('\n');
    writeFileSync(join(dir, 'prometheus.yml'), config);
    mkdirSync(join(dir, 'data'));
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${webPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    prometheus.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const up = await until(async () => (await valueOf(base, 'up{job="tenant-guard"}')) === 1, 30_000);
    assert.ok(up, `Prometheus scrapes tenant-guard (${stderr})`);
  });

  after(async () => {
    prometheus?.kill('SIGTERM');
    await handle?.close(0);
    await api?.close();
  });

  test('counters move by what was sent, and every rule evaluates', async () => {
    const ready = await until(
      async () => (await callServe(handle.url, ca, '/readyz')).status === 200,
      10_000,
    );
    assert.ok(ready);
    const toOtherTenant = reviewBody({
      kind: { group: 'argoproj.io', version: 'v1alpha1', kind: 'Application' },
      resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'applications' },
      namespace: 'team-a',
      userInfo: { username: 'alice', groups: ['team-a-admins'] },
      object: {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'guestbook', namespace: 'team-a', labels: { 'tenantguard.dev/tenant': 'team-a' } },
        spec: {
          project: 'team-a',
          destination: { server: 'https://kubernetes.default.svc', namespace: 'x' },
          source: { repoURL: 'https://example.com/r.git', path: '.' },
        },
      },
    });
    for (let i = 0; i < 3; i += 1) {
      const answer = JSON.parse(
        (await callServe(handle.url, ca, '/validate', { body: toOtherTenant })).body,
      ) as { response: { allowed: boolean } };
      assert.equal(answer.response.allowed, false);
    }
    const caller = serviceAccountToken();
    api.addToken(caller.token, caller.known);
    for (let i = 0; i < 2; i += 1) {
      const answer = await callServe(handle.url, ca, '/v1/tokens', {
        body: { target: 'k8s-team-a-dev', server: 'https://team-a-dev.example.com' },
        token: caller.token,
      });
      assert.equal(answer.status, 200, answer.body);
    }
    assert.equal(
      (
        await callServe(handle.url, ca, '/v1/tokens', {
          body: { target: 'no-such-cluster', server: 'https://nowhere.example.com' },
          token: caller.token,
        })
      ).status,
      404,
    );

    const expected: [string, number][] = [
      [
        'sum(tenant_guard_admission_requests_total{job="tenant-guard",endpoint="validate",decision="denied",tenant="team-a"})',
        3,
      ],
      [
        'sum(tenant_guard_admission_rule_results_total{job="tenant-guard",tenant="team-a",rule="TG-APP-02",action="denied"})',
        3,
      ],
      [
        'sum(tenant_guard_broker_token_requests_total{job="tenant-guard",tenant="team-a",result="issued"})',
        2,
      ],
      [
        'sum(tenant_guard_broker_token_requests_total{job="tenant-guard",tenant="none",result="ERR_BROKER_UNKNOWN_TARGET"})',
        1,
      ],
      ['tenant_guard_registry_synced{job="tenant-guard"}', 1],
      ['tenant_guard_registry_tenants{job="tenant-guard",state="accepted"}', 1],
    ];
    const seen = new Map<string, number | undefined>();
    const moved = await until(async () => {
      for (const [expr] of expected) seen.set(expr, await valueOf(base, expr));
      return expected.every(([expr, want]) => seen.get(expr) === want);
    }, 30_000);
    assert.ok(moved, `counters as sent: ${JSON.stringify([...seen])}`);
    assert.ok(
      ((await valueOf(base, 'tenant_guard_tls_certificate_expiry_seconds{job="tenant-guard"}')) ?? 0) >
        86_400,
    );
    assert.equal(await valueOf(base, 'count(tenant_guard_build_info{job="tenant-guard"})'), 1);

    // Every recording rule and alert has been evaluated, without error.
    const evaluated = await until(async () => {
      const res = await fetch(`${base}/api/v1/rules`);
      const body = (await res.json()) as {
        data: { groups: { rules: { name: string; health: string; lastEvaluation: string }[] }[] };
      };
      const rules = body.data.groups.flatMap((g) => g.rules);
      return (
        rules.length >= 16 && rules.every((r) => r.health === 'ok' && !r.lastEvaluation.startsWith('0001'))
      );
    }, 30_000);
    assert.ok(evaluated, 'every rule evaluated with health ok');
    const recorded = await until(
      async () =>
        (
          await query(
            base,
            'tenant_guard:admission_requests:rate5m{job="tenant-guard",endpoint="validate",decision="denied"}',
          )
        ).length === 1,
      30_000,
    );
    assert.ok(recorded, 'the recording rule produced its series');
  });
});
