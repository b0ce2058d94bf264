import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Option } from 'commander';
import { attributeName, givenFlags, resolveFlags, type FlagRules } from '../src/flag-value.js';

/** A table of every kind, as a component declares one. */
const TABLE = {
  name: { flag: 'name', env: 'T_NAME', kind: 'string', default: 'tenant-guard' },
  dir: { flag: 'key-dir', env: 'T_DIR', kind: 'string' },
  wait: { flag: 'wait', env: 'T_WAIT', kind: 'duration', default: '10s' },
  size: { flag: 'size', env: 'T_SIZE', kind: 'integer', default: '8' },
  rate: { flag: 'rate', env: 'T_RATE', kind: 'number', default: '0.5' },
  on: { flag: 'on', env: 'T_ON', kind: 'boolean', default: 'false' },
} as const;

class FlagError extends Error {}

/** Errors say where the refused value came from. */
const rules = (emptyEnv: FlagRules['emptyEnv']): FlagRules => ({
  emptyEnv,
  invalid: (spec, message, source) => new FlagError(`${spec.flag} from ${source}: ${message}`),
});

const refused = (pattern: RegExp) => (e: unknown) => e instanceof FlagError && pattern.test(e.message);

describe('flag-value: one flag-then-environment-then-default resolution', () => {
  test('a flag wins over its environment variable, which wins over the default', () => {
    assert.deepEqual(resolveFlags(TABLE, {}, {}, rules('unset')), {
      name: 'tenant-guard',
      dir: undefined,
      wait: 10_000,
      size: 8,
      rate: 0.5,
      on: false,
    });
    const env = { T_NAME: 'env', T_DIR: '/env', T_WAIT: '1m', T_SIZE: '3', T_RATE: '2.5', T_ON: 'yes' };
    assert.deepEqual(resolveFlags(TABLE, {}, env, rules('unset')), {
      name: 'env',
      dir: '/env',
      wait: 60_000,
      size: 3,
      rate: 2.5,
      on: true,
    });
    const given = { name: 'flag', dir: '/flag', wait: '500ms', size: '4', rate: '1', on: false };
    assert.deepEqual(resolveFlags(TABLE, given, env, rules('unset')), {
      name: 'flag',
      dir: '/flag',
      wait: 500,
      size: 4,
      rate: 1,
      on: false,
    });
  });

  test('an empty value: not set under `unset` (environment only), refused under `refuse`, naming where it came from', () => {
    const env = { T_NAME: '', T_DIR: '', T_ON: '' };
    const unset = resolveFlags(TABLE, {}, env, rules('unset'));
    assert.deepEqual([unset.name, unset.dir, unset.on], ['tenant-guard', undefined, false]);
    assert.equal(resolveFlags(TABLE, {}, { T_WAIT: '' }, rules('unset')).wait, 10_000);
    // Under `refuse`, every kind alike: never the default, never "none", never false.
    for (const [name, text] of [
      ['T_NAME', 'name from T_NAME: is empty: leave it unset for the default (tenant-guard)'],
      ['T_DIR', 'key-dir from T_DIR: is empty: leave it unset$'],
      ['T_WAIT', 'wait from T_WAIT: is empty: leave it unset for the default (10s)'],
      ['T_SIZE', 'size from T_SIZE: is empty'],
      ['T_ON', 'on from T_ON: is empty: leave it unset for the default (false)'],
    ] as const)
      assert.throws(
        () => resolveFlags(TABLE, {}, { [name]: ' ' }, rules('refuse')),
        refused(new RegExp(`^${text.replaceAll('(', '\\(').replaceAll(')', '\\)')}`)),
        name,
      );
    assert.throws(
      () => resolveFlags(TABLE, { dir: '' }, {}, rules('refuse')),
      refused(/^key-dir from --key-dir: is empty/),
    );
    assert.deepEqual(resolveFlags(TABLE, {}, {}, rules('refuse')).name, 'tenant-guard', 'unset: the default');
  });

  test('a boolean that is no boolean is refused, naming where it came from, never taken as false', () => {
    for (const garbage of ['ture', 'off', 'n', '2'])
      assert.throws(
        () => resolveFlags(TABLE, {}, { T_ON: garbage }, rules('unset')),
        refused(new RegExp(`on from T_ON: "${garbage}" is not a boolean; use true or false`)),
      );
    assert.throws(
      () => resolveFlags(TABLE, { on: 'maybe' }, {}, rules('unset')),
      refused(/on from --on: "maybe" is not a boolean/),
    );
    for (const [text, value] of [
      ['TRUE', true],
      [' 1 ', true],
      ['yes', true],
      ['False', false],
      ['0', false],
      ['no', false],
    ] as const)
      assert.equal(resolveFlags(TABLE, {}, { T_ON: text }, rules('unset')).on, value, text);
    // A switch given on the command line wins over a bad environment variable (it is never read).
    assert.equal(resolveFlags(TABLE, { on: true }, { T_ON: 'ture' }, rules('unset')).on, true);
  });

  test('numbers and durations refuse what they cannot read', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ T_SIZE: '1.5' }, /size from T_SIZE: "1.5" is not an integer/],
      [{ T_SIZE: 'many' }, /"many" is not an integer/],
      [{ T_RATE: 'fast' }, /rate from T_RATE: "fast" is not a number/],
      [{ T_RATE: 'Infinity' }, /"Infinity" is not a number/],
      [{ T_WAIT: 'soon' }, /wait from T_WAIT: "soon" is not a duration/],
    ];
    for (const [env, pattern] of cases)
      assert.throws(() => resolveFlags(TABLE, {}, env, rules('unset')), refused(pattern));
  });

  test('flag keys and kinds are types: a misspelt key or a string read as a number does not compile', () => {
    const f = resolveFlags(TABLE, {}, {}, rules('unset'));
    // @ts-expect-error `sise` is no key of the table (a string-keyed lookup would be undefined, then NaN).
    const typo: unknown = f.sise;
    assert.equal(typo, undefined);
    // @ts-expect-error `name` is a string flag: it cannot be used as a number.
    const asNumber: number = f.name;
    assert.equal(Number.isNaN(Number(asNumber)), true);
    // @ts-expect-error `dir` has no default: it may be undefined.
    const required: string = f.dir;
    assert.equal(required, undefined);
    // @ts-expect-error a misspelt key among the given flags does not compile either.
    assert.equal(resolveFlags(TABLE, { sise: '3' }, {}, rules('unset')).size, 8);
    const sum: number = f.size + f.rate + f.wait;
    assert.equal(sum, 10_008.5);
  });

  test("given flags: by table key, else by commander's attribute name; only strings and booleans", () => {
    assert.deepEqual(givenFlags(TABLE, { keyDir: '/a', size: 3, on: true, name: undefined }), {
      dir: '/a',
      on: true,
    });
    assert.deepEqual(givenFlags(TABLE, { dir: '/by-key', keyDir: '/by-flag' }), { dir: '/by-key' });
    for (const flag of ['key-dir', 'max-object-depth', 'allow-unbound-callers', 'port'])
      assert.equal(attributeName(flag), new Option(`--${flag}`).attributeName(), flag);
  });
});
