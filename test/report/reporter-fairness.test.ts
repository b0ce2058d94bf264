/**
 * Namespaces whose report writes keep failing (a ResourceQuota on reports, a policy engine
 * refusing them) neither starve the others nor flood the log: namespaces are written first in,
 * first out; a failing one waits 2 s, doubled per failure up to 5 minutes; its warning is
 * written at most every 5 minutes. Before (an operator review), dirty namespaces were taken
 * alphabetically and a failed one came first again, so `--report-max-writes` failing
 * namespaces kept every other from being written, each with a warning per flush.
 * The clock is injected: nothing sleeps.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { Reporter } from '../../src/reporter/reporter.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { tenantsYaml } from '../support/policy-fixtures.js';
import { TestApiServer, type ResourceType } from '../support/test-api-server.js';
import { eventually } from '../tenancy/watch-support.js';
import { application, ARGO_TYPES, POLICY_REPORTS } from './report-support.js';

const apps = ARGO_TYPES[1] as ResourceType;
const registry = parseTenantsYaml(tenantsYaml('two-teams'), 'two-teams', 'argocd');

describe('reporter: failing namespaces', () => {
  let api: TestApiServer | undefined;
  let reporter: Reporter | undefined;
  let t = 0;
  const { logger, log } = capturedLogger('warn');

  afterEach(async () => {
    await reporter?.stop();
    await api?.close();
    log.lines.length = 0;
  });

  /** Namespaces of one Application each; writes of reports in `failing` answer 403. */
  async function world(failing: readonly string[], others: readonly string[], maxWritesPerFlush = 20) {
    t = 1_000_000;
    const server = await TestApiServer.start();
    api = server;
    for (const type of [...ARGO_TYPES, POLICY_REPORTS]) server.registerResource(type);
    for (const ns of [...failing, ...others]) server.seed(apps, ns, application(ns, 'x', 'k8s-team-a-dev'));
    for (const ns of failing)
      server.inject(
        { resource: 'policyreports', namespace: ns, verb: 'create' },
        {
          status: 403,
          reason: 'Forbidden',
          message: `policyreports "tenant-guard" is forbidden: exceeded quota`,
        },
      );
    reporter = new Reporter({
      kubeConfig: server.kubeConfig(),
      registry: { current: () => registry },
      settings: resolveSettings({}),
      logger,
      flushIntervalMs: 0,
      maxWritesPerFlush,
      now: () => t,
    });
    await reporter.start();
    const all = failing.length + others.length;
    await eventually('every Application judged', () => reporter?.state.size === all, 10_000);
    return {
      api: server,
      reporter,
      written: (ns: string) =>
        server.objects(POLICY_REPORTS).filter((r) => (r.metadata as { namespace: string }).namespace === ns)
          .length,
      attempts: (ns: string) => server.count({ verb: 'create', resource: 'policyreports', namespace: ns }),
      warnings: (ns: string) => log.records().filter((r) => r.namespace === ns),
    };
  }

  test('as many failing namespaces as the budget do not keep the others from being written', async () => {
    const failing = Array.from({ length: 21 }, (_, i) => `aa-${String(i).padStart(2, '0')}`);
    const w = await world(failing, ['team-a', 'zz-late']);
    await w.reporter.flush();
    await w.reporter.flush();
    assert.equal(w.written('zz-late'), 1, 'written at the second flush');
    assert.equal(w.written('team-a'), 1);
    assert.ok(
      failing.every((ns) => w.attempts(ns) === 1),
      'each failing namespace tried once',
    );
  });

  test('a failing namespace waits 2 s, doubled per failure, at most 5 minutes', async () => {
    const w = await world(['aa'], ['team-a'], 100);
    const tries: number[] = [];
    // [ms after the previous step, then a flush]
    for (const step of [0, 0, 1_999, 1, 3_999, 1, 7_999, 1]) {
      t += step;
      await w.reporter.flush();
      tries.push(w.attempts('aa'));
    }
    assert.deepEqual(tries, [1, 1, 1, 2, 2, 3, 3, 4]);
    // 16 s, 32 s, ... then never more than 5 minutes: a flush every 5 minutes tries each time
    // from the 9th failure on (2 s x 2^8 = 512 s > 300 s).
    for (let i = 0; i < 12; i++) {
      t += 300_000;
      await w.reporter.flush();
    }
    assert.equal(w.attempts('aa'), 16);
    assert.equal(w.written('team-a'), 1);
  });

  test('its warning is written at most every 5 minutes, with the count of the others', async () => {
    const w = await world(['aa'], [], 100);
    for (let i = 0; i < 40; i++) {
      t += 30_000;
      await w.reporter.flush();
    }
    // Failures at 30, 60, 90, 120, 150, 210, 300, 450, 720 and 1020 s (waits of 2 s doubled,
    // then 5 minutes); lines at the first, then 5 minutes after the last line at least.
    assert.equal(w.attempts('aa'), 10);
    const warnings = w.warnings('aa');
    assert.deepEqual(
      warnings.map((r) => r.skipped),
      [0, 6, 1],
      'at 30, 450 and 1020 s, each with the failures not written since the last',
    );
    assert.equal(warnings[0]?.code, 'ERR_REPORT_WRITE');
    assert.match(
      String(warnings[0]?.msg),
      /^reports of namespace aa not written: the API server answered 403 Forbidden; 1 failure in a row, retrying in 2 s$/,
    );
    assert.match(String(warnings[2]?.msg), /; 10 failures in a row, retrying in 300 s$/);
  });

  test('a write that succeeds again resets the wait', async () => {
    const w = await world(['aa'], [], 100);
    for (const step of [0, 2_000, 4_000]) {
      t += step;
      await w.reporter.flush();
    }
    assert.equal(w.attempts('aa'), 3);
    w.api.clearFaults();
    t += 8_000;
    await w.reporter.flush();
    assert.equal(w.written('aa'), 1);
    // Its Application deleted: the report is to go, and the delete fails.
    w.api.inject({ resource: 'policyreports', namespace: 'aa', verb: 'delete' }, { status: 403 });
    w.api.store.delete(apps, 'aa', 'x');
    await eventually('the delete seen', () => w.reporter.state.size === 0);
    log.lines.length = 0;
    await w.reporter.flush();
    assert.equal(w.api.count({ verb: 'delete', resource: 'policyreports', namespace: 'aa' }), 1);
    assert.deepEqual(
      w.warnings('aa').map((r) => r.msg),
      [
        'reports of namespace aa not written: the API server answered 403 Forbidden; 1 failure in a row, retrying in 2 s',
      ],
    );
  });
});
