/**
 * cutText is the one bound on every line, path and detail the webhook and the reports emit,
 * and on the registry's messages about a Tenant: within the bound it says exactly how much it
 * left off (or ends in an ellipsis), and never splits a surrogate pair. (capLine and
 * violation() had two formulas; capLine's lines ran up to ~1,009 characters against its
 * documented 1,000; the Tenant model had a third copy.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { capLine, MAX_LINE_CHARS } from '../src/policy/answer-limits.js';
import { cutText, MIN_CUT_CHARS } from '../src/text-cut.js';
import { MAX_FINDING_PATH_CHARS, violation } from '../src/policy/types.js';
import { capMessage } from '../src/tenancy/verdict-message.js';

describe('cutText', () => {
  test('for any text and bound: within the bound, the text itself when it fits, else its start and the exact count left off', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 300 })),
        fc.nat(200_000),
        fc.integer({ min: MIN_CUT_CHARS, max: 250 }),
        (text, pad, max) => {
          const long = `${text}${'x'.repeat(pad % 3 === 0 ? pad : 0)}`;
          const cut = cutText(long, max);
          assert.ok(cut.length <= max, `${cut.length} > ${max}`);
          if (long.length <= max) {
            assert.equal(cut, long);
            return;
          }
          const m = /^([\s\S]*)\.\.\. \((\d+) more characters\)$/.exec(cut);
          assert.ok(m !== null, cut);
          const kept = m[1] ?? '';
          assert.ok(long.startsWith(kept));
          assert.equal(Number(m[2]), long.length - kept.length);
          const lastUnit = kept.charCodeAt(kept.length - 1);
          assert.ok(!(lastUnit >= 0xd800 && lastUnit <= 0xdbff), 'no half of a surrogate pair at the cut');
        },
      ),
      { numRuns: 2_000 },
    );
  });

  test("for any text and bound, the ellipsis ending: within the bound, the longest start that keeps pairs whole, then '…'", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 300 })),
        fc.integer({ min: 0, max: 250 }),
        (text, max) => {
          const cut = cutText(text, max, 'ellipsis');
          assert.equal(capMessage(text, max), cut, "the Tenant model's messages are cut so");
          assert.ok(cut.length <= max, `${cut.length} > ${max}`);
          if (text.length <= max) {
            assert.equal(cut, text);
            return;
          }
          if (max === 0) {
            assert.equal(cut, '');
            return;
          }
          assert.ok(cut.endsWith('…'), cut);
          const kept = cut.slice(0, -1);
          assert.ok(text.startsWith(kept));
          const lastUnit = kept.charCodeAt(kept.length - 1);
          assert.ok(!(lastUnit >= 0xd800 && lastUnit <= 0xdbff), 'no half of a surrogate pair at the cut');
          // Only a pair that would be split is dropped: one unit less than the room, no more.
          assert.ok(kept.length >= max - 2, `${kept.length} kept of ${max}`);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  test('capLine and violation() keep to their documented bounds', () => {
    for (const length of [MAX_LINE_CHARS + 1, 9_999, 10_000, 1_234_567]) {
      assert.ok(capLine('y'.repeat(length)).length <= MAX_LINE_CHARS, String(length));
      assert.ok(violation('TG-REQ-01', 'p'.repeat(length), 'd').path.length <= MAX_FINDING_PATH_CHARS);
    }
    assert.equal(capLine('short'), 'short');
  });
});
