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
import { capWarnings, outcomeResponse } from '../../src/admission/response.js';
import { readAdmissionRequest } from '../../src/admission/review.js';
import { MAX_WARNING_CHARS, shortWarning } from '../../src/admission/warning-text.js';
import { admissionAuditRecord } from '../../src/audit/admission-record.js';
import { MAX_WARNINGS } from '../../src/policy/answer-limits.js';
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

  test('the same text for "use one of" lists of any length, the mark in the path too', () => {
    const item = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 8 }),
      fc.constantFrom('a', 'k8s-team-a-prod', '😀😀', 'é'),
    );
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.array(item, { maxLength: 20 }),
        fc.array(item, { minLength: 1, maxLength: 80 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 160 }),
        (head, pathItems, items, warn, max) => {
          // A key the tenant chose can hold the mark and a list of its own (a red-team review).
          const path = pathItems.length > 0 ? `use one of: ${pathItems.join(', ')}` : '';
          const text = `[TG-AS-04] ${head}${path} "in-cluster"; use one of: ${items.join(', ')}${warn ? ' (enforcement: warn)' : ''}`;
          assert.equal(shortWarning(text, max), byArrays(text, max));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('capWarnings', () => {
  test('shortens only the warnings it shows, however many a request holds', () => {
    // A warn-mode tenant's list element of thousands of foreign cluster names: every one a
    // relaxed finding, each warning shortened in turn (12 s for one request before).
    const warnings = Array.from({ length: 1_000 }, (_, i) => `${LONG_LIST} #${i}`);
    const read = new Set<string>();
    const counted = new Proxy(warnings, {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) read.add(key);
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const shown = capWarnings(counted);
    assert.ok(read.size <= MAX_WARNINGS + 1, `${read.size} warnings read`);
    assert.equal(shown.length, MAX_WARNINGS);
    assert.match(shown[MAX_WARNINGS - 1] ?? '', /^\.\.\. and 981 more warnings /);
    for (const w of shown) assert.ok([...w].length <= MAX_WARNING_CHARS, w);
  });

  test('as many as fit are all shown, none counted', () => {
    const warnings = Array.from({ length: MAX_WARNINGS }, (_, i) => `[TG-AS-03] w${i}`);
    assert.deepEqual(capWarnings(warnings), warnings);
    const one = [...warnings, '[TG-AS-03] one more'];
    const shown = capWarnings(one);
    assert.equal(shown.length, MAX_WARNINGS);
    assert.match(shown[MAX_WARNINGS - 1] ?? '', /^\.\.\. and 2 more warnings /);
  });

  test('a path that holds "use one of" and a list of its own is still cut under the limit', () => {
    const key = `use one of: ${Array.from({ length: 320 }, () => 'a').join(', ')}`;
    const text = `[TG-AS-04] spec.generators[0].list.elements[0].${key}[7] "in-cluster" is the control plane; use one of: k8s-team-a-dev (enforcement: warn)`;
    const [shown] = capWarnings([text]);
    assert.ok(shown !== undefined && [...shown].length <= MAX_WARNING_CHARS, shown);
    assert.ok(shown.endsWith(' (enforcement: warn)'), shown);
  });
});
