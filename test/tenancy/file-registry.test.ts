/**
 * Issue 10 item 7, the file registry: re-read on a change in its directory and on SIGHUP;
 * a bad file keeps the last good registry and the log says so; every Tenant accepted,
 * changed or removed by a reload is logged. The tests fire the triggers themselves.
 */
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { isTenantGuardError } from '../../src/errors.js';
import { FileRegistry, type ReloadOutcome } from '../../src/tenancy/file-registry.js';
import { captureLogger, ManualTimers, tenantDoc } from './watch-support.js';

const DEBOUNCE_MS = 200;

function yamlOf(...docs: Array<Record<string, unknown>>): string {
  return docs.map((d) => stringify(d)).join('---\n');
}

describe('FileRegistry', () => {
  let dir: string;
  let path: string;
  let log: ReturnType<typeof captureLogger>;
  let timers: ManualTimers;
  let signals: EventEmitter;
  let trigger: ((filename: string | null) => void) | undefined;
  let source: FileRegistry | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tg-tenants-'));
    path = join(dir, 'tenants.yaml');
    writeFileSync(path, yamlOf(tenantDoc('team-a'), tenantDoc('team-b')));
    log = captureLogger();
    timers = new ManualTimers();
    signals = new EventEmitter();
    trigger = undefined;
  });

  afterEach(() => {
    source?.close();
    source = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  function load(): FileRegistry {
    source = FileRegistry.load({
      path,
      argocdNamespace: 'argocd',
      logger: log.logger,
      timers,
      signals,
      debounceMs: DEBOUNCE_MS,
      watchDirectory: (watched, onChange) => {
        assert.equal(watched, dir, 'the directory is watched, not the file');
        trigger = onChange;
        return {
          close: () => {
            trigger = undefined;
          },
        };
      },
    });
    source.start();
    return source;
  }

  const changeLines = () => log.lines.filter((l) => l.change !== undefined).map((l) => String(l.msg));

  test('the first load logs every Tenant; a bad first file is refused as before', () => {
    const s = load();
    assert.deepEqual(
      s.current().tenants.map((t) => t.name),
      ['team-a', 'team-b'],
    );
    assert.deepEqual(changeLines(), [
      'Tenant "team-a" accepted with 1 cluster',
      'Tenant "team-b" accepted with 1 cluster',
    ]);
    writeFileSync(path, yamlOf(tenantDoc('team-a'), tenantDoc('team-c', { namespaces: ['team-a'] })));
    assert.throws(
      () => FileRegistry.load({ path, argocdNamespace: 'argocd', logger: log.logger }),
      (err: unknown) => isTenantGuardError(err, 'ERR_TENANT_CONFLICT'),
    );
  });

  test('a change in the directory re-reads the file after the quiet time: added, changed and removed Tenants logged', () => {
    const s = load();
    log.lines.length = 0;
    writeFileSync(
      path,
      yamlOf(tenantDoc('team-a', { namespaces: ['team-a', 'team-a-apps'] }), tenantDoc('team-c')),
    );
    trigger?.('tenants.yaml');
    trigger?.('tenants.yaml'); // an editor writes in steps: one re-read
    assert.equal(s.current().tenant('team-c'), undefined, 'not before the quiet time');
    assert.deepEqual(timers.delays(), [DEBOUNCE_MS]);
    timers.fire(DEBOUNCE_MS);
    assert.deepEqual(
      s.current().tenants.map((t) => t.name),
      ['team-a', 'team-c'],
    );
    assert.equal(s.current().tenantByNamespace('team-a-apps')?.name, 'team-a');
    assert.deepEqual(changeLines(), [
      'Tenant "team-a" changed; accepted with 1 cluster',
      'Tenant "team-c" accepted with 1 cluster',
      'Tenant "team-b" removed; its clusters, namespaces and projects are no longer in the registry',
    ]);
    assert.ok(log.lines.some((l) => l.msg === 'tenants file reloaded (file change): 2 tenants, 3 changed'));
  });

  test('a bad file keeps the last good registry and says so, once; the fixed file is taken', () => {
    const s = load();
    const good = s.current();
    const loaded = s.lastLoaded();
    writeFileSync(
      path,
      yamlOf(
        tenantDoc('team-a'),
        tenantDoc('team-b', { clusters: [{ name: 'team-a-dev', server: 'https://b.example.com' }] }),
      ),
    );
    assert.equal(s.refusal(), undefined, 'nothing refused yet');
    assert.equal(s.reload('test'), 'kept-last-good');
    assert.equal(s.current(), good);
    assert.match(s.refusal() ?? '', /cluster "team-a-dev" is already claimed/, 'refused, and why');
    const kept = log.lines.filter((l) =>
      String(l.msg).startsWith('tenants file not reloaded; keeping the last good registry (2 tenants'),
    );
    assert.equal(kept.length, 1);
    assert.equal(kept[0]?.level, 50);
    assert.equal(kept[0]?.code, 'ERR_TENANT_CONFLICT');
    assert.match(
      String(kept[0]?.msg),
      /Tenant "team-b" spec\.clusters\[0\]\.name: cluster "team-a-dev" is already claimed by tenant "team-a"/,
    );
    assert.equal(s.reload('test'), 'kept-last-good');
    assert.equal(
      log.lines.filter((l) => String(l.msg).startsWith('tenants file not reloaded')).length,
      1,
      'the same bad text is not reported twice',
    );

    rmSync(path); // mid rename-replace: the file is briefly gone
    assert.equal(s.reload('test'), 'kept-last-good');
    assert.ok(
      log.lines.some(
        (l) => l.code === 'ERR_TENANTS_FILE' && String(l.msg).includes('cannot read tenants file'),
      ),
    );
    assert.equal(s.current(), good);
    assert.match(s.refusal() ?? '', /cannot read tenants file/);
    assert.equal(
      s.lastLoaded(),
      loaded,
      'keeping the last good registry is no load (the sync-time gauge stays)',
    );

    writeFileSync(path, yamlOf(tenantDoc('team-a'), tenantDoc('team-b')));
    assert.equal(s.reload('test'), 'unchanged', 'the served text again');
    assert.equal(s.refusal(), undefined, 'what is served is what the file holds');
    writeFileSync(path, '{');
    assert.equal(s.reload('test'), 'kept-last-good');
    assert.notEqual(s.refusal(), undefined);
    writeFileSync(path, yamlOf(tenantDoc('team-a')));
    assert.equal(s.reload('test'), 'reloaded');
    assert.equal(s.refusal(), undefined);
    assert.notEqual(s.lastLoaded(), loaded, 'a reload is a new sync time');
    assert.deepEqual(
      s.current().tenants.map((t) => t.name),
      ['team-a'],
    );
  });

  test('SIGHUP re-reads at once; unchanged text is no reload', () => {
    const outcomes: ReloadOutcome[] = [];
    const s = FileRegistry.load({
      path,
      argocdNamespace: 'argocd',
      logger: log.logger,
      timers,
      signals,
      watchDirectory: () => ({ close: () => undefined }),
      onReload: (o) => outcomes.push(o),
    });
    source = s;
    s.start();
    signals.emit('SIGHUP');
    assert.deepEqual(outcomes, ['unchanged']);
    writeFileSync(path, yamlOf(tenantDoc('team-d')));
    signals.emit('SIGHUP');
    assert.deepEqual(outcomes, ['unchanged', 'reloaded']);
    assert.deepEqual(
      s.current().tenants.map((t) => t.name),
      ['team-d'],
    );
    s.close();
    writeFileSync(path, yamlOf(tenantDoc('team-e')));
    signals.emit('SIGHUP');
    assert.equal(outcomes.length, 2, 'closed: SIGHUP no longer handled');
  });

  test('with the real directory watch: a file renamed over the old one (as editors save) is taken', async (t) => {
    // The directory watch does not hold the process open (the server does): hold it here.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    t.after(() => clearInterval(keepAlive));
    const reloaded = new EventEmitter();
    const s = FileRegistry.load({
      path,
      argocdNamespace: 'argocd',
      logger: log.logger,
      debounceMs: 10,
      onReload: (o) => reloaded.emit('done', o),
    });
    source = s;
    s.start();
    const tmp = join(dir, '.tenants.yaml.swp');
    writeFileSync(tmp, yamlOf(tenantDoc('team-f')));
    const done = once(reloaded, 'done');
    renameSync(tmp, path);
    assert.deepEqual(await done, ['reloaded']);
    assert.deepEqual(
      s.current().tenants.map((t) => t.name),
      ['team-f'],
    );
    // The watch survives the replacement: a second save is seen too.
    writeFileSync(tmp, yamlOf(tenantDoc('team-g')));
    const again = once(reloaded, 'done');
    renameSync(tmp, path);
    assert.deepEqual(await again, ['reloaded']);
    assert.equal(readFileSync(path, 'utf8').includes('team-g'), true);
    assert.deepEqual(
      s.current().tenants.map((t) => t.name),
      ['team-g'],
    );
  });
});
