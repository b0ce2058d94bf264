/**
 * The reporter's watches in a 410 Gone storm: every watch of Applications answered 410.
 * One 410 is re-listed at once (normal after an etcd compaction); another before a watch
 * proved itself is a watch error, logged and retried after `retryMs`. Before (a helper's
 * review of the Tenant watch's fix), the reporter's informers, which share the bounded watch,
 * re-listed every Application of the cluster in a tight loop, and nothing was logged.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Reporter } from '../../src/reporter/reporter.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { capturedLogger } from '../server/webhook-app-support.js';
import { tenantsYaml } from '../support/policy-fixtures.js';
import { TestApiServer, type ResourceType } from '../support/test-api-server.js';
import { eventually } from '../tenancy/watch-support.js';
import { application, ARGO_TYPES } from './report-support.js';

const apps = ARGO_TYPES[1] as ResourceType;

describe('reporter: a watch answered 410 again and again', () => {
  let api: TestApiServer;
  let reporter: Reporter | undefined;

  beforeEach(async () => {
    api = await TestApiServer.start();
    for (const t of ARGO_TYPES) api.registerResource(t);
    api.seed(apps, 'team-a', application('team-a', 'a-1', 'k8s-team-a-dev'));
  });

  afterEach(async () => {
    await reporter?.stop();
    reporter = undefined;
    await api.close();
  });

  test('one re-list at once, then the watch error is logged and retried after retryMs', async () => {
    api.inject({ verb: 'watch', resource: 'applications' }, { status: 410 });
    const { logger, log } = capturedLogger('warn');
    reporter = new Reporter({
      kubeConfig: api.kubeConfig(),
      registry: { current: () => parseTenantsYaml(tenantsYaml('two-teams'), 'two-teams', 'argocd') },
      settings: resolveSettings({}),
      logger,
      flushIntervalMs: 0,
      // The retry does not come within the test: what is counted is what the storm did.
      retryMs: 3_600_000,
    });
    await reporter.start();
    await eventually(
      'the watch error logged',
      () => log.records().some((l) => l.code === 'ERR_REPORT_WATCH'),
      10_000,
    );
    assert.equal(api.count({ verb: 'list', resource: 'applications' }), 2, 'the first list and one re-list');
    assert.equal(api.count({ verb: 'watch', resource: 'applications' }), 2);
    const logged = log.records().filter((l) => l.code === 'ERR_REPORT_WATCH');
    assert.equal(logged.length, 1);
    assert.match(String(logged[0]?.msg), /410, again before a watch proved itself/);
  });
});
