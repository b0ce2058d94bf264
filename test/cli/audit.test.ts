import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import request from 'supertest';
import { defaultPolicy } from '../../src/admission/admit.js';
import { summarizeAuditLog } from '../../src/audit/summary.js';
import { APPLICATION_SET, buildApp, reviewBody } from '../server/webhook-app-support.js';
import { runCli, tempDir } from './cli-support.js';

const LOG = [
  '{"level":30,"msg":"listening","url":"https://127.0.0.1:8443"}',
  '{"level":30,"audit":true,"event":"denied","tenant":"team-a","user":"alice","rules":[{"id":"TG-AS-01","path":"p","message":"m"},{"id":"TG-AS-03","path":"p","message":"m"}]}',
  '{"level":30,"audit":true,"event":"denied","tenant":"team-a","user":"bob","rules":[{"id":"TG-AS-03","path":"p","message":"m"}]}',
  '{"level":30,"audit":true,"event":"mutated","tenant":"team-b","user":"bob","rules":[]}',
  '{"level":30,"audit":true,"event":"denied","tenant":null,"user":"carol","rules":[{"id":"TG-OWN-02","path":"p","message":"m"}]}',
  '{"level":30,"audit":true,"event":"issued","target":"k8s-team-a-dev","caller":"system:serviceaccount:argocd:argocd-application-controller","pod":"argocd/c-0"}',
  'tenant-guard serving on https://127.0.0.1:8443',
  '{"level":30,"audit":"true","event":"denied"}',
  '[1,2,3]',
  '',
].join('\n');

describe('audit summary', () => {
  test('counts by tenant, rule, user and event; non-JSON lines are counted and skipped', () => {
    const s = summarizeAuditLog(LOG);
    assert.equal(s.lines, 9);
    assert.equal(s.nonJson, 2);
    assert.equal(s.records, 5);
    assert.deepEqual(
      [...s.byEvent],
      [
        ['denied', 3],
        ['mutated', 1],
        ['issued', 1],
      ],
    );
    assert.deepEqual(Object.fromEntries(s.byTenant), { 'team-a': 2, 'team-b': 1, '(none)': 2 });
    assert.deepEqual(Object.fromEntries(s.byRule), { 'TG-AS-01': 1, 'TG-AS-03': 2, 'TG-OWN-02': 1 });
    assert.deepEqual(Object.fromEntries(s.byUser), {
      alice: 1,
      bob: 2,
      carol: 1,
      'system:serviceaccount:argocd:argocd-application-controller': 1,
    });
  });

  test('keys from the log cannot reach an object prototype', () => {
    const s = summarizeAuditLog(
      '{"audit":true,"tenant":"__proto__","user":"constructor","event":"denied","rules":[{"id":"__proto__"}]}',
    );
    assert.equal(s.byTenant.get('__proto__'), 1);
    assert.equal(s.byUser.get('constructor'), 1);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('tenant-guard audit', () => {
  test('text report from a file', async () => {
    const file = join(tempDir(), 'log.jsonl');
    writeFileSync(file, LOG);
    const r = await runCli(['audit', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^audit records: 5 \(lines read: 9, not JSON: 2\)$/m);
    assert.match(r.stdout, /^by rule:\n {2}TG-AS-03 {3}2\n {2}TG-AS-01 {3}1\n {2}TG-OWN-02 {2}1$/m);
    assert.match(r.stdout, /^by tenant:\n {2}\(none\) {2}2\n {2}team-a {2}2\n {2}team-b {2}1$/m);
    assert.match(r.stdout, /^by event:\n {2}denied {3}3\n {2}issued {3}1\n {2}mutated {2}1\n/m);
  });

  test('JSON report from stdin (- or no argument)', async () => {
    for (const argv of [
      ['audit', '-', '-o', 'json'],
      ['audit', '-o', 'json'],
    ]) {
      const r = await runCli(argv, { stdin: LOG });
      assert.equal(r.code, 0, r.stderr);
      const body = JSON.parse(r.stdout) as Record<string, unknown>;
      assert.equal(body.records, 5);
      assert.equal(body.nonJson, 2);
      assert.deepEqual(body.byRule, { 'TG-AS-03': 2, 'TG-AS-01': 1, 'TG-OWN-02': 1 });
      assert.deepEqual(body.byEvent, { denied: 3, mutated: 1, issued: 1 });
    }
  });

  test('summarises what the webhook really logs', async () => {
    const { app, log } = buildApp({ policy: defaultPolicy });
    const foreign = structuredClone(APPLICATION_SET);
    foreign.spec.template.spec.project = 'team-b';
    await request(app)
      .post('/validate')
      .send(reviewBody({ object: foreign }));
    await request(app).post('/mutate').send(reviewBody());
    const r = await runCli(['audit', '-o', 'json'], { stdin: log.text() });
    const body = JSON.parse(r.stdout) as {
      records: number;
      byEvent: Record<string, number>;
      byTenant: Record<string, number>;
      byUser: Record<string, number>;
      byRule: Record<string, number>;
    };
    assert.equal(body.records, 2);
    assert.deepEqual(body.byEvent, { denied: 1, mutated: 1 });
    assert.deepEqual(body.byTenant, { 'team-a': 2 });
    assert.deepEqual(body.byUser, { alice: 2 });
    assert.equal(body.byRule['TG-AS-01'], 1);
  });

  test('an unreadable file exits 2', async () => {
    const r = await runCli(['audit', '/nonexistent/log']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read \/nonexistent\/log: ENOENT/);
  });

  test('a bad output format exits 2', async () => {
    const r = await runCli(['audit', '-o', 'yaml'], { stdin: LOG });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--output must be text or json/);
  });
});
