/**
 * The audit sink writes its line itself (one JSON.stringify of the record) instead of going
 * through pino's per-key pass: the line must be the one `logger.info` would have written.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino, type Logger } from 'pino';
import { createLogger, pinoAuditSink } from '../../src/audit/logger.js';
import { AUDIT_MARKER, type AuditRecord } from '../../src/audit/record.js';

/** A destination that keeps every line written to it. */
function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

const RECORDS: readonly AuditRecord[] = [
  {
    event: 'mutated',
    endpoint: 'mutate',
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    kind: 'ApplicationSet',
    namespace: 'team-a',
    name: 'guestbook',
    operation: 'CREATE',
    user: 'alice',
    groups: ['team-a-admins', 'system:authenticated'],
    tenant: 'team-a',
    rules: [],
    dryRun: false,
    enforcement: 'enforce',
    changes: ['/metadata/labels/tenant-guard.io~1tenant'],
  },
  {
    event: 'denied',
    endpoint: 'validate',
    uid: 'u-2',
    kind: 'Application',
    namespace: 'team-a',
    name: 'odd "name"\\ \u2028 \ud800 ✓',
    operation: 'UPDATE',
    user: 'mallory',
    groups: [],
    tenant: null,
    rules: [{ id: 'TG-APP-01', path: '/spec/destination/server', message: 'line\nbreak and "quotes"' }],
    dryRun: true,
    enforcement: null,
    omitted: { rules: 3 },
  },
  {
    event: 'issued',
    target: 'k8s-team-a-dev',
    caller: 'system:serviceaccount:argocd:x',
    pod: 'argocd/p',
    jti: 'j',
    exp: 1,
  },
];

/** The line, parsed, without its time (the two lines are written a moment apart). */
function withoutTime(line: string): [string, unknown][] {
  return Object.entries(JSON.parse(line) as Record<string, unknown>).filter(([k]) => k !== 'time');
}

describe('the audit sink', () => {
  for (const record of RECORDS) {
    test(`writes the line logger.info would write (${record.event})`, () => {
      const fast = capture();
      const slow = capture();
      pinoAuditSink(createLogger({ destination: fast.stream })).write(record);
      createLogger({ destination: slow.stream }).info(
        { [AUDIT_MARKER]: true, ...record },
        `audit ${record.event}`,
      );
      assert.equal(fast.lines.length, 1);
      assert.ok(fast.lines[0]!.endsWith('}\n'), 'one line');
      // Same keys in the same order, same values.
      assert.deepEqual(withoutTime(fast.lines[0]!), withoutTime(slow.lines[0]!));
      assert.equal(typeof (JSON.parse(fast.lines[0]!) as { time: unknown }).time, 'number');
    });
  }

  test('writes nothing when info is off, as logger.info would', () => {
    const out = capture();
    pinoAuditSink(createLogger({ level: 'warn', destination: out.stream })).write(RECORDS[0]!);
    assert.deepEqual(out.lines, []);
  });

  test('keeps the bindings of the logger it is given', () => {
    const out = capture();
    const logger: Logger = createLogger({ destination: out.stream }).child({ component: 'broker' });
    pinoAuditSink(logger).write(RECORDS[2]!);
    const line = JSON.parse(out.lines[0]!) as Record<string, unknown>;
    assert.equal(line.component, 'broker');
    assert.equal(line.service, 'tenant-guard');
  });

  test('leaves a logger that rewrites lines (a mixin) to pino', () => {
    const out = capture();
    const logger = pino({ mixin: () => ({ mixed: 1 }) }, out.stream);
    pinoAuditSink(logger).write(RECORDS[0]!);
    const line = JSON.parse(out.lines[0]!) as Record<string, unknown>;
    assert.equal(line.mixed, 1);
    assert.equal(line.audit, true);
    assert.equal(line.msg, 'audit mutated');
  });
});
