/**
 * The admission limits of src/policy/limits.ts as pure functions: the iterative depth
 * measures (object, JSON text, YAML text), the ApplicationSet counts, the settings, and
 * the caps on lines.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { isTenantGuardError } from '../../src/errors.js';
import { checkFieldNames } from '../../src/policy/applicationset-keys.js';
import { findLongKeyPath, findTooDeep, measureObject } from '../../src/policy/json-measure.js';
import {
  capLines,
  checkLimits,
  DEFAULT_LIMITS,
  limitFlags,
  MAX_LINE_CHARS,
  resolveLimits,
  type AdmissionLimits,
} from '../../src/policy/limits.js';
import { jsonNestsDeeperThan, textDepth } from '../../src/policy/text-depth.js';

/** `{a: {a: ... 'x'}}`, `n` objects deep, built without recursion. */
export function nestedObject(n: number, leaf: unknown = 'x'): unknown {
  let value = leaf;
  for (let i = 0; i < n; i++) value = { a: value };
  return value;
}

function nestedList(n: number): unknown {
  let value: unknown = 'x';
  for (let i = 0; i < n; i++) value = [value];
  return value;
}

/** The depth of a parsed value, measured the slow obvious way (the oracle for textDepth). */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

const limits = (over: Partial<AdmissionLimits> = {}): AdmissionLimits => ({ ...DEFAULT_LIMITS, ...over });

function applicationSet(generators: unknown[]): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'a' },
    spec: { generators, template: {} },
  };
}

describe('findTooDeep', () => {
  test('finds the first path past the limit, and none at the limit', () => {
    assert.equal(findTooDeep(nestedObject(5), 5, 'object'), undefined);
    assert.deepEqual(findTooDeep(nestedObject(6), 5, 'object'), ['object', 'a', 'a', 'a', 'a', 'a']);
    assert.deepEqual(findTooDeep({ ok: [1, 2], deep: nestedList(3) }, 3, 'o'), ['o', 'deep', 0, 0]);
  });

  test('walks 100,000 levels without recursion', () => {
    const path = findTooDeep(nestedList(100_000), 50, 'object');
    assert.equal(path?.length, 51);
  });
});

describe('key paths', () => {
  /** `{k: {k: ... 'x'}}`, `depth` objects deep, each key `keyChars` long. */
  const longKeys = (depth: number, keyChars: number, leaf: unknown = 'x'): unknown => {
    let value = leaf;
    for (let i = 0; i < depth; i++) value = { [`${i}`.padEnd(keyChars, 'k')]: value };
    return value;
  };

  test('measureObject counts every key on the way, a list index as two, and stops past the limit', () => {
    // 3 keys of 9 characters and 3 separators: 30.
    assert.equal(measureObject(longKeys(3, 9), 100, 1000, 30).longKeyPath, false);
    assert.equal(measureObject(longKeys(3, 9), 100, 1000, 29).longKeyPath, true);
    // A scalar under a long key counts as much as an object under it.
    assert.equal(measureObject({ ['k'.repeat(40)]: 1 }, 100, 1000, 40).longKeyPath, true);
    assert.equal(measureObject([[['x']]], 100, 1000, 6).longKeyPath, false);
    assert.equal(measureObject([[['x']]], 100, 1000, 5).longKeyPath, true);
    assert.equal(measureObject([], 100, 1000, 0).longKeyPath, false, 'an empty list leads nowhere');
  });

  test('findLongKeyPath names the first value past the limit, and agrees with measureObject', () => {
    const value = { short: 1, spec: longKeys(4, 20) };
    assert.equal(findLongKeyPath(value, 200, 'object'), undefined);
    const path = findLongKeyPath(value, 50, 'object');
    assert.deepEqual(path?.slice(0, 2), ['object', 'spec']);
    // The root, then spec (5 characters) and two keys of 20 (42) that fit; the third passes 50.
    assert.equal(path?.length, 5);
    for (const limit of [10, 26, 47, 68, 89, 90, 200])
      assert.equal(
        measureObject(value, 100, 1000, limit).longKeyPath,
        findLongKeyPath(value, limit, 'object') !== undefined,
        `limit ${limit}`,
      );
  });

  test('a body of 100,000-character keys gets one short TG-REQ-01 line, not paths of megabytes', () => {
    // Found by a red-team review: 25 such keys over 120 foreign cluster names gave 2.5 MB
    // paths, and cutting 150 of them into the answer ran the heap out (the process died).
    const spec = { generators: [{ list: { elements: [longKeys(25, 100_000, ['k8s-team-b-dev'])] } }] };
    const found = checkLimits('ApplicationSet', { spec }, 'object', limits());
    assert.equal(found.length, 1);
    assert.equal(found[0]?.rule, 'TG-REQ-01');
    assert.match(
      found[0]?.message ?? '',
      /more than 4096 characters.*--max-key-path-chars, env TG_MAX_KEY_PATH_CHARS/,
    );
    assert.ok((found[0]?.path.length ?? Infinity) < 200, `a short path: ${found[0]?.path.length}`);
    assert.match(
      found[0]?.path ?? '',
      /^object\.spec\.generators\[0\]\.list\.elements\[0\]\["24k{62}\.\.\."\]$/,
    );
  });

  test('walks 100,000 levels without recursion', () => {
    const deep = nestedObject(100_000);
    assert.equal(measureObject(deep, 200_000, 1_000_000, 150_000).longKeyPath, true);
    assert.equal(
      findLongKeyPath(deep, 150_000, 'object')?.length,
      1 + 75_001,
      'the root, then 75,001 keys of 2',
    );
  });
});

describe('jsonNestsDeeperThan (the pre-parse check of an AdmissionReview body)', () => {
  test('answers textDepth(text, false) > max from the UTF-8 bytes, for any text', () => {
    const pieces = fc.constantFrom(
      '[',
      ']',
      '{',
      '}',
      '"',
      '\\',
      '\\"',
      'x',
      ':',
      ',',
      ' ',
      'é',
      '😀',
      '"[[',
      ']]"',
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 60 }), fc.nat(12), (parts, max) => {
        const text = parts.join('');
        assert.equal(jsonNestsDeeperThan(Buffer.from(text, 'utf8'), max), textDepth(text, false) > max, text);
      }),
      { numRuns: 5_000 },
    );
  });

  test('stops at the first level past the bound', () => {
    const deep = Buffer.from(`${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`);
    assert.equal(jsonNestsDeeperThan(deep, 999_999), true);
    assert.equal(jsonNestsDeeperThan(deep, 1_000_000), false);
    assert.equal(
      jsonNestsDeeperThan(Buffer.from('{"a":"[[[[[["}'), 1),
      false,
      'brackets in strings do not count',
    );
  });
});

describe('textDepth', () => {
  const cases: Array<[string, string]> = [
    ['flow sequences', '[[[[1]]]]'],
    ['flow maps', '{a: {b: {c: [1, {d: 2}]}}}'],
    ['block maps', 'a:\n  b:\n    c: 1\n  d: [1, [2]]\n'],
    ['compact sequences', '- - - - x\n'],
    ['a list of maps', '- name: a\n  server: https://x\n- name: b\n  labels: {env: dev}\n'],
    ['complex keys and quotes', "? [a, b]\n: \"[[[[\"\n'c': 'it''s ['\n"],
    ['comments', 'a: 1 # [[[[[\nb: [1]\n'],
  ];
  for (const [name, text] of cases) {
    test(`YAML ${name}: never below the parsed depth`, () => {
      assert.ok(
        textDepth(text, true) >= depthOf(parse(text)),
        `${textDepth(text, true)} < ${depthOf(parse(text))}`,
      );
    });
  }

  test('a quote inside a plain scalar does not hide the brackets after it', () => {
    const text = `- it's ${'['.repeat(600)}${']'.repeat(600)}`;
    assert.ok(textDepth(text, true) > 600);
  });

  test('JSON: brackets inside strings do not count', () => {
    assert.equal(textDepth('{"a":"[[[[\\"[[","b":[{"c":1}]}', false), 3);
    assert.equal(textDepth(`${'['.repeat(50_000)}${']'.repeat(50_000)}`, false), 50_000);
  });
});

describe('checkLimits', () => {
  test('an object past the depth gets one TG-REQ-01 line naming the limit and its setting', () => {
    const found = checkLimits('Application', { spec: nestedObject(200) }, 'object', limits());
    assert.equal(found.length, 1);
    assert.equal(found[0]?.rule, 'TG-REQ-01');
    assert.match(
      found[0]?.message ?? '',
      /more than 100 levels deep.*--max-object-depth, env TG_MAX_OBJECT_DEPTH/,
    );
    assert.ok((found[0]?.path.length ?? 0) < 200, 'the path is shortened');
  });

  test('a cluster Secret config nested past the depth (data and stringData)', () => {
    const deep = `{"tlsClientConfig":${'{"a":'.repeat(150)}1${'}'.repeat(150)}}`;
    const secret = { data: { config: Buffer.from(deep).toString('base64') }, stringData: { config: deep } };
    assert.deepEqual(
      checkLimits('ClusterSecret', secret, 'object', limits()).map((v) => v.path),
      ['object.data.config', 'object.stringData.config'],
    );
    assert.deepEqual(
      checkLimits(
        'ClusterSecret',
        { data: { config: Buffer.from('{"a":1}').toString('base64') } },
        'object',
        limits(),
      ),
      [],
    );
  });

  test('generators at every level of matrix and merge are counted', () => {
    const nested = {
      matrix: {
        generators: [
          { clusters: {} },
          { merge: { generators: [{ clusters: {} }, { list: { elements: [] } }] } },
        ],
      },
    };
    // 1 top + 2 matrix children + 2 merge children = 5
    assert.deepEqual(
      checkLimits('ApplicationSet', applicationSet([nested]), 'object', limits({ maxGenerators: 5 })),
      [],
    );
    const over = checkLimits(
      'ApplicationSet',
      applicationSet([nested]),
      'object',
      limits({ maxGenerators: 4 }),
    );
    assert.deepEqual(
      over.map((v) => [v.rule, v.path]),
      [['TG-REQ-01', 'object.spec.generators']],
    );
    assert.match(
      over[0]?.message ?? '',
      /more than 4 generator entries.*--max-generators, env TG_MAX_GENERATORS/,
    );
  });

  test('list elements and elementsYaml bytes are summed over list generators', () => {
    const set = applicationSet([
      { list: { elements: [{}, {}, {}] } },
      { list: { elements: [{}], elementsYaml: 'é'.repeat(10) } },
    ]);
    assert.deepEqual(
      checkLimits('ApplicationSet', set, 'object', limits({ maxListElements: 4, maxElementsYamlBytes: 20 })),
      [],
    );
    const over = checkLimits(
      'ApplicationSet',
      set,
      'object',
      limits({ maxListElements: 3, maxElementsYamlBytes: 19 }),
    );
    assert.deepEqual(
      over.map((v) => /--max-[a-z-]+/.exec(v.message)?.[0]),
      ['--max-list-elements', '--max-elements-yaml-bytes'],
    );
    assert.match(over[1]?.message ?? '', /hold 20 bytes/);
  });

  test('elementsYaml nested past the depth is denied before the YAML parser sees it', () => {
    const set = applicationSet([{ list: { elementsYaml: `${'['.repeat(1000)}${']'.repeat(1000)}` } }]);
    const found = checkLimits('ApplicationSet', set, 'object', limits());
    assert.deepEqual(
      found.map((v) => v.path),
      ['object.spec.generators[0].list.elementsYaml'],
    );
  });
});

describe('resolveLimits', () => {
  test('defaults, then the environment, then the flag', () => {
    assert.deepEqual(resolveLimits({}), DEFAULT_LIMITS);
    assert.equal(resolveLimits({}, { TG_MAX_GENERATORS: '300' }).maxGenerators, 300);
    assert.equal(resolveLimits({ maxGenerators: '400' }, { TG_MAX_GENERATORS: '300' }).maxGenerators, 400);
  });

  test('a value out of range or not a whole number is refused, naming the flag and the range', () => {
    for (const raw of ['0', '501', '1.5', 'lots']) {
      assert.throws(
        () => resolveLimits({ maxObjectDepth: raw }),
        (err) =>
          isTenantGuardError(err, 'ERR_SETTINGS_INVALID') &&
          err.message.includes('--max-object-depth') &&
          err.message.includes(`${limitFlags.maxObjectDepth.max}`),
      );
    }
  });
});

describe('capLines', () => {
  test('keeps short lists, and says how many more of a long one', () => {
    assert.deepEqual(capLines(['a', 'b'], 2, 'x'), ['a', 'b']);
    const capped = capLines(
      Array.from({ length: 1000 }, (_, i) => `line ${i}`),
      10,
      'violations',
    );
    assert.equal(capped.length, 10);
    assert.match(capped[9] ?? '', /^\.\.\. and 991 more violations/);
  });

  test('cuts a long line and says by how much', () => {
    const [line] = capLines(['y'.repeat(5000)], 10, 'x');
    assert.ok((line?.length ?? 0) <= MAX_LINE_CHARS);
    assert.match(line ?? '', /more characters\)$/);
  });
});

describe('walkers of src/policy without the entry check', () => {
  test('the TG-AS-08 key walk reads lists nested 20,000 deep without recursing (it overflowed the stack)', () => {
    let value: unknown = { Clusters: {} };
    for (let i = 0; i < 20_000; i++) value = [value];
    const found = checkFieldNames({
      generators: [{ matrix: { generators: [{ matrix: { generators: value } }] } }],
    });
    assert.deepEqual(
      found.map((v) => v.rule),
      ['TG-AS-08'],
    );
  });
});
