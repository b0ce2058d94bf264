/**
 * Runs of one character taken off the ends of request text in one pass (text-trim.ts): the
 * same answers as the regexes they replace, `/\/+$/` and `/^-+/`, whose tries were quadratic
 * on a long run with something after it (a cluster Secret server of 100,000 slashes and a
 * letter held the event loop 7 s).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { trimEndOf, trimStartOf } from '../../src/policy/text-trim.js';

describe('trimEndOf and trimStartOf', () => {
  test('answer as the regexes do, for any text', () => {
    const text = fc
      .array(fc.constantFrom('/', '-', ':', 'a', 'é', '\uD83D', ' '), { maxLength: 24 })
      .map((p) => p.join(''));
    fc.assert(
      fc.property(text, (t) => {
        assert.equal(trimEndOf(t, '/'), t.replace(/\/+$/, ''));
        assert.equal(trimEndOf(t, ':'), t.replace(/:+$/, ''));
        assert.equal(trimStartOf(t, '-'), t.replace(/^-+/, ''));
      }),
      { numRuns: 5_000 },
    );
  });

  test('a long run with something after it is kept whole, and a run at the end goes', () => {
    const run = '/'.repeat(200_000);
    assert.equal(trimEndOf(`${run}x`, '/'), `${run}x`);
    assert.equal(trimEndOf(`x${run}`, '/'), 'x');
    assert.equal(trimStartOf(`${'-'.repeat(200_000)}x`, '-'), 'x');
  });
});
