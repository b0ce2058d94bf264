/**
 * `detachStrings`: the copy of a parsed Tenant document that keeps no slice of the file's
 * text alive. Same value; bounded depth; values it does not know are kept as they are.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDocument } from 'yaml';
import { detachStrings } from '../../src/tenancy/file-source.js';

describe('detachStrings', () => {
  test('a parsed document comes back equal, every object and array a copy', () => {
    const parsed = parseDocument(
      'metadata: { name: team-a }\nspec:\n  clusters:\n    - { name: k8s-team-a-dev, server: "https://a.example.com", n: 3, ok: true, none: null }\n',
    ).toJS() as Record<string, unknown>;
    const copy = detachStrings(parsed) as Record<string, unknown>;
    assert.deepEqual(copy, parsed);
    assert.notEqual(copy, parsed);
    assert.notEqual(
      (copy.spec as { clusters: unknown[] }).clusters,
      (parsed.spec as { clusters: unknown[] }).clusters,
    );
  });

  test('keys that name prototypes stay own data keys', () => {
    const value = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": "x"}') as object;
    const copy = detachStrings(value) as Record<string, unknown>;
    assert.deepEqual(Object.keys(copy), ['__proto__', 'constructor']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('past its depth bound it stops copying instead of recursing on', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const copy = detachStrings(deep);
    assert.ok(Array.isArray(copy));
    assert.notEqual(copy, deep);
    let inner: unknown = copy;
    let original: unknown = deep;
    for (let i = 0; i < 64; i++) {
      inner = (inner as unknown[])[0];
      original = (original as unknown[])[0];
    }
    assert.equal(inner, original, 'at depth 64 the rest is shared, not walked');
  });

  test('values that are not plain data are kept as they are', () => {
    const date = new Date(0);
    const map = new Map([['a', 1]]);
    const copy = detachStrings({ date, map, big: 10n }) as Record<string, unknown>;
    assert.equal(copy.date, date);
    assert.equal(copy.map, map);
    assert.equal(copy.big, 10n);
  });
});
