/** `cloneJson`: the deep copy `/mutate` edits, the same as `structuredClone` for JSON-shaped data. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { cloneJson, MAX_COPY_DEPTH } from '../../src/policy/json-clone.js';

/** Keys in the order `Object.keys` gives them, at every level. */
function keyOrder(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) return value.map(keyOrder);
  return Object.keys(value).map((k) => [k, keyOrder((value as Record<string, unknown>)[k])]);
}

/** Every object and array of `value`. */
function containers(value: unknown, into: Set<object> = new Set()): Set<object> {
  if (typeof value !== 'object' || value === null) return into;
  into.add(value);
  for (const item of Object.values(value)) containers(item, into);
  return into;
}

// Keys named after Object.prototype's members, integer-like keys (which objects order
// first) and ordinary ones; numbers JSON cannot spell (YAML's .nan, .inf) and -0.
const key = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', '0', '10', '2', 'a', 'b'),
  fc.string({ maxLength: 6 }),
);
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.string({ maxLength: 8 }),
  fc.double(),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0),
);
const { json } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('json'), { maxLength: 5 }),
    fc
      .array(fc.tuple(key, tie('json')), { maxLength: 6 })
      // As JSON.parse builds them: `__proto__` an own data key.
      .map(
        (entries) =>
          JSON.parse(`{${entries.map(([k], i) => `${JSON.stringify(k)}:${i}`).join(',')}}`) as Record<
            string,
            unknown
          >,
      )
      .chain((shape) =>
        fc.tuple(...Object.keys(shape).map(() => tie('json'))).map((values) => {
          Object.keys(shape).forEach((k, i) =>
            Object.defineProperty(shape, k, {
              value: values[i],
              enumerable: true,
              writable: true,
              configurable: true,
            }),
          );
          return shape;
        }),
      ),
  ),
}));

describe('cloneJson', () => {
  test('equals structuredClone, key order included, and shares nothing with its source', () => {
    fc.assert(
      fc.property(json, (value) => {
        const copy = cloneJson(value);
        assert.deepStrictEqual(copy, structuredClone(value));
        assert.deepStrictEqual(keyOrder(copy), keyOrder(value));
        const shared = [...containers(copy)].filter((c) => containers(value).has(c));
        assert.deepEqual(shared, []);
      }),
      { numRuns: 500 },
    );
  });

  test('a __proto__ key stays an own key and never becomes the prototype', () => {
    const source = JSON.parse('{"metadata":{"labels":{"__proto__":{"polluted":"yes"},"a":"b"}}}') as {
      metadata: { labels: Record<string, unknown> };
    };
    const copy = cloneJson(source);
    assert.equal(Object.getPrototypeOf(copy.metadata.labels), Object.prototype);
    assert.deepEqual(Object.keys(copy.metadata.labels), ['__proto__', 'a']);
    assert.equal((copy.metadata.labels as { polluted?: unknown }).polluted, undefined);
    assert.deepEqual(Object.getOwnPropertyDescriptor(copy.metadata.labels, '__proto__')?.value, {
      polluted: 'yes',
    });
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  test('values that are not JSON-shaped, and levels past MAX_COPY_DEPTH, are copied by structuredClone', () => {
    const when = new Date(0);
    const copy = cloneJson({ when, map: new Map([['k', 1]]) });
    assert.ok(copy.when instanceof Date && copy.when !== when && copy.when.getTime() === 0);
    assert.ok(copy.map instanceof Map && copy.map.get('k') === 1);
    let deep: unknown = 'leaf';
    for (let i = 0; i < MAX_COPY_DEPTH + 50; i++) deep = [deep];
    const deepCopy = cloneJson(deep);
    assert.deepStrictEqual(deepCopy, deep);
    assert.notEqual(deepCopy, deep);
  });
});
