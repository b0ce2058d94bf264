/**
 * One audit record, admission or token, stays within MAX_AUDIT_RECORD_BYTES, so its log line stays under
 * the 16 KiB at which container runtimes split lines (a split line is two lines that do not
 * parse). A red-team review wrote a 101,555-byte line for one denial: 50 rules, each with a
 * path and a message of 1,000 characters; with relaxed rules, warnings and groups the lists'
 * own bounds allowed ~270 KB.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import type { AdmissionOutcome } from '../../src/admission/admit.js';
import type { AdmissionRequest } from '../../src/admission/review.js';
import { admissionAuditRecord } from '../../src/audit/admission-record.js';
import { pino, type Logger } from 'pino';
import { createLogger, pinoAuditSink } from '../../src/audit/logger.js';
import { MAX_AUDIT_RECORD_BYTES, recordBytes } from '../../src/audit/record-bytes.js';
import type { AdmissionAuditRecord, AuditRecord, TokenAuditRecord } from '../../src/audit/record.js';
import { MAX_AUDIT_ITEMS, MAX_WARNINGS } from '../../src/policy/answer-limits.js';
import { RULE_ORDER, type PolicyRequest, type Violation } from '../../src/policy/types.js';

const LINE_SPLIT_BYTES = 16 * 1024;

/** `count` findings, each rule of the catalogue in turn, path and message `chars` long of `unit`. */
function findings(count: number, chars: number, unit: string): Violation[] {
  return Array.from({ length: count }, (_, i) => {
    const path = `spec.x${i}.`.padEnd(chars, unit);
    return { rule: RULE_ORDER[i % RULE_ORDER.length]!, path, message: `${path} `.padEnd(chars, unit) };
  });
}

function worstCase(unit: string): { request: AdmissionRequest; outcome: AdmissionOutcome } {
  const long = (prefix: string) => prefix.padEnd(1_000, unit);
  const request: AdmissionRequest = {
    uid: '00000000-0000-4000-8000-000000000001',
    kind: { group: 'argoproj.io', version: 'v1alpha1', kind: 'ApplicationSet' },
    operation: 'CREATE',
    namespace: 'team-1',
    name: 'noisy',
    subResource: '',
    user: { username: long('alice'), groups: Array.from({ length: 60 }, (_, i) => long(`g${i}`)) },
    object: {},
    oldObject: undefined,
    dryRun: false,
    problems: [],
  };
  const policyRequest: PolicyRequest = {
    uid: request.uid,
    kind: 'ApplicationSet',
    operation: 'CREATE',
    namespace: 'team-1',
    name: 'noisy',
    user: request.user,
    dryRun: false,
  };
  const outcome: AdmissionOutcome = {
    type: 'decided',
    request: policyRequest,
    decision: {
      allowed: false,
      violations: findings(60, 1_000, unit),
      audited: findings(60, 1_000, unit),
      warnings: Array.from({ length: 25 }, (_, i) => long(`[TG-AS-04] w${i}`)),
      summary: { tenant: 'team-1', enforcement: 'warn', role: 'human' },
    },
  };
  return { request, outcome };
}

/** The line the audit sink writes for a record, through `logger` (default: a plain one). */
function auditLine(record: AuditRecord, logger?: (stream: Writable) => Logger): string {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  pinoAuditSink(logger?.(stream) ?? createLogger({ destination: stream })).write(record);
  assert.equal(lines.length, 1);
  return lines[0]!;
}

/** The record as its line holds it, without what the logger adds. */
function writtenRecord(line: string): AdmissionAuditRecord {
  const { level, time, service, audit, msg, ...record } = JSON.parse(line) as Record<string, unknown>;
  assert.deepEqual(
    [typeof level, typeof time, service, audit, typeof msg],
    ['number', 'number', 'tenant-guard', true, 'string'],
  );
  return record as unknown as AdmissionAuditRecord;
}

describe('the byte budget of an audit record', () => {
  // ASCII; a character of three UTF-8 bytes; a control character JSON writes in six.
  for (const [name, unit] of [
    ['ASCII', 'x'],
    ['CJK', '界'],
    ['control', '\u0001'],
  ] as const)
    test(`the worst case within the lists' bounds (${name}) fits, every rule id kept`, () => {
      const { request, outcome } = worstCase(unit);
      const built = admissionAuditRecord('validate', request, outcome);
      assert.ok(built !== undefined);
      const line = auditLine(built);
      const record = writtenRecord(line);
      const bytes = Buffer.byteLength(JSON.stringify(record), 'utf8');
      assert.ok(bytes <= MAX_AUDIT_RECORD_BYTES, `${bytes} bytes`);
      assert.ok(Buffer.byteLength(line, 'utf8') < LINE_SPLIT_BYTES, 'the line is not split');
      assert.equal(outcome.type, 'decided');
      const decision = outcome.decision;
      assert.ok(!decision.allowed);
      const ids = (vs: readonly Violation[]) => vs.slice(0, MAX_AUDIT_ITEMS).map((v) => v.rule);
      assert.deepEqual(
        record.rules.map((r) => r.id),
        ids(decision.violations),
      );
      assert.deepEqual(
        record.relaxed?.map((r) => r.id),
        ids(decision.audited),
      );
      assert.equal(record.warnings?.length, MAX_WARNINGS);
      assert.equal(record.groups.length, MAX_AUDIT_ITEMS);
      assert.deepEqual(
        { ...record.omitted, cut: undefined },
        { rules: 10, relaxed: 10, warnings: 5, groups: 10, cut: undefined },
      );
      assert.ok((record.omitted?.cut ?? 0) > 0, 'says it cut');
      assert.ok(record.rules[0]!.message.startsWith('spec.x0.'), 'a cut message keeps its start');
    });

  test('a record within the budget is the record as it was', () => {
    const { request, outcome } = worstCase('x');
    assert.equal(outcome.type, 'decided');
    const small: AdmissionOutcome = {
      ...outcome,
      decision: {
        allowed: false,
        violations: findings(3, 80, 'x'),
        audited: [],
        warnings: [],
        summary: outcome.decision.summary,
      },
    };
    const shortUser = { ...request, user: { username: 'alice', groups: ['team-1-admins'] } };
    const built = admissionAuditRecord('validate', shortUser, small);
    assert.ok(built !== undefined);
    const record = writtenRecord(auditLine(built));
    assert.deepEqual(record, JSON.parse(JSON.stringify(built)));
    assert.equal(record.omitted, undefined);
    assert.equal(record.rules[2]?.message, findings(3, 80, 'x')[2]!.message);
  });

  // A red-team review: a refusal before authentication recorded the raw target name, and
  // 5,300 control characters in the URL (`%01`, 3 bytes each) made a 32 KB line.
  const hugeRefusal: TokenAuditRecord = {
    event: 'refused',
    target: '\u0001'.repeat(5_300),
    caller: null,
    pod: null,
    code: 'ERR_BROKER_UNAUTHENTICATED',
    reason: `no bearer token for ${'\u0001'.repeat(5_300)}`,
    source: '10.0.0.9',
  };
  for (const [name, logger] of [
    ['the line built from the record', undefined],
    [
      'the line pino builds (a logger with a mixin)',
      (stream: Writable) => pino({ mixin: () => ({}) }, stream),
    ],
  ] as const)
    test(`a token record is held to the budget too: ${name}`, () => {
      assert.ok(recordBytes(hugeRefusal) > 2 * LINE_SPLIT_BYTES, 'the record alone is past the split');
      const line = auditLine(hugeRefusal, logger);
      assert.ok(Buffer.byteLength(line, 'utf8') < LINE_SPLIT_BYTES, `${Buffer.byteLength(line)} bytes`);
      const record = JSON.parse(line) as TokenAuditRecord & { audit: boolean };
      assert.equal(record.audit, true);
      assert.deepEqual(
        [record.event, record.code, record.source, record.caller],
        ['refused', 'ERR_BROKER_UNAUTHENTICATED', '10.0.0.9', null],
        'our own words and the short fields are kept',
      );
      assert.ok(record.target.startsWith('\u0001') && record.target.length < 5_300, 'the target is cut');
      assert.equal(record.omitted?.cut, 2, 'and it says two texts were cut');
    });
});
