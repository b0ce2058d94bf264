/**
 * Warnings people can read (issue 12): every warning sent back is under 120 characters, a
 * long "use one of" list says how many it left out, and the audit record keeps the whole
 * text; `warned` is written only when a warn-mode tenant's rule was relaxed, a warning
 * that relaxes nothing is `informational`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { AdmissionOutcome } from '../../src/admission/admit.js';
import { outcomeResponse } from '../../src/admission/response.js';
import { readAdmissionRequest } from '../../src/admission/review.js';
import { MAX_WARNING_CHARS, shortWarning } from '../../src/admission/warning-text.js';
import { admissionAuditRecord } from '../../src/audit/admission-record.js';
import type { Decision, PolicyRequest } from '../../src/policy/types.js';

const clusters = Array.from({ length: 20 }, (_, i) => `k8s-team-a-cluster-${i}`);
const LONG_LIST = `[TG-AS-03] spec.template.spec.destination.name "k8s-team-b-prod" is not a cluster of tenant "team-a"; use one of: ${clusters.join(', ')} (enforcement: warn)`;
const COMPUTED =
  '[TG-AS-03] spec.template.spec.destination.server "{{.server}}" is computed; each generated Application is checked by the Application rules (TG-APP-02)';

describe('shortWarning', () => {
  test('a short warning is unchanged', () => {
    assert.equal(shortWarning('[TG-AS-03] x'), '[TG-AS-03] x');
  });

  test('a long "use one of" list keeps what fits, says how many more, and keeps its mode', () => {
    const projects = Array.from({ length: 30 }, (_, i) => `p${i}`);
    const text = `[TG-APP-01] spec.project "x" is not a project of tenant "team-a"; use one of: ${projects.join(', ')} (enforcement: warn)`;
    const short = shortWarning(text);
    assert.ok(short.length <= MAX_WARNING_CHARS, `${short.length}: ${short}`);
    const kept = /use one of: (.*) \(\+(\d+) more\) \(enforcement: warn\)$/.exec(short);
    assert.ok(kept !== null, short);
    assert.ok((kept[1]?.split(', ').length ?? 0) >= 1);
    assert.equal(kept[1]?.split(', ').length ?? 0, projects.length - Number(kept[2]));
  });

  test('a list whose first item cannot fit: the text is cut, the mode kept', () => {
    const short = shortWarning(LONG_LIST);
    assert.ok(short.length <= MAX_WARNING_CHARS, `${short.length}: ${short}`);
    assert.ok(short.endsWith('… (enforcement: warn)'), short);
    assert.ok(short.startsWith('[TG-AS-03] spec.template.spec.destination.name "k8s-team-b-prod"'));
  });

  test('any other long text is cut with an ellipsis', () => {
    const short = shortWarning(COMPUTED);
    assert.equal(short.length, MAX_WARNING_CHARS);
    assert.ok(short.endsWith('…'));
  });
});

const request: PolicyRequest = {
  uid: 'u1',
  kind: 'ApplicationSet',
  operation: 'CREATE',
  namespace: 'team-a',
  name: 'as',
  object: {},
  user: { username: 'alice', groups: [] },
  dryRun: false,
};
const admission = readAdmissionRequest({
  uid: 'u1',
  request: {
    uid: 'u1',
    kind: { group: 'argoproj.io', version: 'v1alpha1', kind: 'ApplicationSet' },
    namespace: 'team-a',
    name: 'as',
    operation: 'CREATE',
    userInfo: { username: 'alice', groups: [] },
    object: {},
  },
});
const decided = (decision: Decision): AdmissionOutcome => ({ type: 'decided', request, decision });
const relaxed = {
  rule: 'TG-AS-03' as const,
  path: 'spec.template.spec.destination.name',
  message: LONG_LIST.slice('[TG-AS-03] '.length, -' (enforcement: warn)'.length),
};

describe('warnings in the answer and the audit record', () => {
  test('the answer carries each warning under 120 characters; the audit record keeps it whole', () => {
    const outcome = decided({
      allowed: true,
      warnings: [LONG_LIST, COMPUTED],
      audited: [relaxed],
      summary: { tenant: 'team-a', enforcement: 'warn', role: 'human' },
    });
    const answer = outcomeResponse('u1', outcome);
    assert.equal(answer.response.warnings?.length, 2);
    for (const w of answer.response.warnings ?? []) assert.ok(w.length <= MAX_WARNING_CHARS, w);
    const record = admissionAuditRecord('validate', admission, outcome);
    assert.deepEqual(record?.warnings, [LONG_LIST, COMPUTED]);
    assert.equal(record?.event, 'warned');
  });

  test('a computed destination on an enforce-mode tenant is informational, not warned', () => {
    const outcome = decided({
      allowed: true,
      warnings: [COMPUTED],
      audited: [],
      summary: { tenant: 'team-a', enforcement: 'enforce', role: 'human' },
    });
    assert.equal(admissionAuditRecord('validate', admission, outcome)?.event, 'informational');
  });

  test("a warn-mode tenant's computed destination alone relaxes nothing: informational", () => {
    const outcome = decided({
      allowed: true,
      warnings: [COMPUTED],
      audited: [],
      summary: { tenant: 'team-b', enforcement: 'warn', role: 'human' },
    });
    assert.equal(admissionAuditRecord('validate', admission, outcome)?.event, 'informational');
  });

  test('audit mode relaxes silently: audited', () => {
    const outcome = decided({
      allowed: true,
      warnings: [],
      audited: [relaxed],
      summary: { tenant: 'team-c', enforcement: 'audit', role: 'human' },
    });
    assert.equal(admissionAuditRecord('validate', admission, outcome)?.event, 'audited');
  });
});

describe('shortWarning, against its definition', () => {
  /** The definition, with arrays of code points (what the first version did on every request). */
  function byArrays(text: string, max = MAX_WARNING_CHARS): string {
    if ([...text].length <= max) return text;
    const tail = / \(enforcement: \w+\)$/.exec(text)?.[0] ?? '';
    const body = text.slice(0, text.length - tail.length);
    const mark = 'use one of: ';
    const at = body.lastIndexOf(mark);
    if (at >= 0) {
      const head = body.slice(0, at + mark.length);
      const items = body.slice(at + mark.length).split(', ');
      for (let keep = items.length - 1; keep >= 1; keep -= 1) {
        const candidate = `${head}${items.slice(0, keep).join(', ')} (+${items.length - keep} more)${tail}`;
        if ([...candidate].length <= max) return candidate;
      }
    }
    return `${[...body].slice(0, Math.max(0, max - [...tail].length - 1)).join('')}…${tail}`;
  }

  test('the same text for any warning: astral characters, lone surrogates, lists, modes, any limit', () => {
    const piece = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom(
        '😀',
        '\ud83d',
        '\ude00',
        'é',
        'use one of: ',
        ', ',
        'k8s-team-a-prod',
        ' (enforcement: warn)',
      ),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), fc.integer({ min: 0, max: 160 }), (pieces, max) => {
        const text = pieces.join('');
        assert.equal(shortWarning(text, max), byArrays(text, max));
        assert.equal(shortWarning(text), byArrays(text));
      }),
      { numRuns: 3000 },
    );
  });
});
