/** `keepsOnly`: what an UPDATE of a terminating object may do and still be judged only for what it adds. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sameJson } from '../../src/json.js';
import { firstAddition, keepsOnly } from '../../src/policy/json-compare.js';

test('taking keys, list elements or whole values away keeps only what was there', () => {
  const before = { a: 1, b: { c: [1, { d: 2 }, 3], e: 'x' }, f: null };
  assert.equal(keepsOnly(before, before), true);
  assert.equal(keepsOnly(before, { a: 1 }), true);
  assert.equal(keepsOnly(before, { b: { c: [1, 3] } }), true, 'list elements left out, order kept');
  assert.equal(keepsOnly(before, { b: { c: [] } }), true);
  assert.equal(keepsOnly(before, undefined), true, 'the whole value gone');
  assert.equal(keepsOnly(undefined, undefined), true);
});

test('adding, changing or reordering is not only taking away', () => {
  const before = { a: 1, b: { c: [1, { d: 2 }, 3] } };
  assert.equal(keepsOnly(before, { a: 1, z: 1 }), false, 'a key added');
  assert.equal(keepsOnly(before, { a: 2 }), false, 'a scalar changed');
  assert.equal(keepsOnly(before, { b: { c: [3, 1] } }), false, 'a list reordered');
  assert.equal(keepsOnly(before, { b: { c: [1, { d: 3 }, 3] } }), false, 'a list element changed');
  assert.equal(
    keepsOnly(before, { b: { c: [1, {}, 3] } }),
    false,
    'a list element taken from counts as changed',
  );
  assert.equal(keepsOnly(before, { b: { c: [1, 1] } }), false, 'an element repeated beyond what was there');
  assert.equal(keepsOnly(undefined, {}), false, 'a value where there was none');
  assert.equal(keepsOnly({ a: [1] }, { a: { 0: 1 } }), false, 'a list turned into an object');
  assert.equal(keepsOnly({ a: {} }, { a: [] }), false, 'an object turned into a list');
  // The case of a terminating cluster Secret: a `server` added beside its `name`.
  assert.equal(keepsOnly({ name: 'bmFtZQ==' }, { name: 'bmFtZQ==', server: 'c2VydmVy' }), false);
});

test('deep nesting is walked without recursion', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i += 1) deep = { k: deep };
  assert.equal(keepsOnly(deep, deep), true);
  assert.equal(keepsOnly(deep, {}), true);
});

test('property: an object keeps only what it had; an equal value keeps only itself', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      assert.equal(keepsOnly(value, value), true);
      assert.equal(keepsOnly(value, structuredClone(value)), sameJson(value, structuredClone(value)));
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      fc.dictionary(fc.string(), fc.jsonValue()),
      fc.string(),
      fc.jsonValue(),
      (before, key, added) => {
        // Adding a key that was not there is never only taking away.
        fc.pre(!Object.hasOwn(before, key));
        assert.equal(keepsOnly(before, { ...before, [key]: added }), false);
      },
    ),
    { numRuns: 2000 },
  );
});

test('firstAddition names where the first addition or change is', () => {
  const before = { a: 1, b: { c: [1, 2, 3], d: 'x' } };
  assert.equal(firstAddition(before, { b: { c: [1, 3] } }), undefined);
  assert.deepEqual(firstAddition(before, { a: 1, z: 1 }), ['z']);
  assert.deepEqual(firstAddition(before, { b: { d: 'y' } }), ['b', 'd']);
  assert.deepEqual(firstAddition(before, { b: { c: [3, 1] } }), ['b', 'c'], 'an array is named whole');
  assert.deepEqual(firstAddition(before, { b: { e: 1, d: 'y' } }), ['b', 'e']);
  assert.deepEqual(firstAddition(before, 'x'), []);
  assert.deepEqual(firstAddition(undefined, { a: 1 }), []);
  // Deeper than any call stack: an explicit stack.
  let deepBefore: unknown = 0;
  let deepAfter: unknown = 1;
  for (let i = 0; i < 100_000; i += 1) {
    deepBefore = { k: deepBefore };
    deepAfter = { k: deepAfter };
  }
  assert.equal(firstAddition(deepBefore, deepAfter)?.length, 100_000);
});
