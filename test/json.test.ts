/** src/json.ts: the narrowing helpers every layer uses. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ownValue } from '../src/json.js';

describe('ownValue', () => {
  test('reads an own property, whatever its value', () => {
    assert.equal(ownValue({ command: '/bin/x' }, 'command'), '/bin/x');
    assert.equal(ownValue({ env: null }, 'env'), null);
    assert.equal(ownValue({}, 'command'), undefined);
  });

  test('never reads an inherited one: constructor, toString and __proto__ of a plain object are undefined', () => {
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      assert.equal(ownValue({}, key), undefined, key);
  });

  test('an own __proto__ key (as JSON.parse makes one) is read like any other', () => {
    const parsed = JSON.parse('{"__proto__": {"command": "/bin/sh"}}') as Record<string, unknown>;
    assert.deepEqual(ownValue(parsed, '__proto__'), { command: '/bin/sh' });
  });
});
