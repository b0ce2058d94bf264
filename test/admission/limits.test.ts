/**
 * The admission limits of src/policy/limits.ts as pure functions: the iterative depth
 * measures (object, JSON text, YAML text), the ApplicationSet counts, the settings, and
 * the caps on lines.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isMap, isPair, isSeq, parseAllDocuments, stringify } from 'yaml';
import { isTenantGuardError } from '../../src/errors.js';
import { checkFieldNames } from '../../src/policy/applicationset-keys.js';
import { findLongKeyPath, findTooDeep, measureObject } from '../../src/policy/json-measure.js';
import { capLines, MAX_LINE_CHARS } from '../../src/policy/answer-limits.js';
import {
  checkLimits,
  DEFAULT_LIMITS,
  limitFlags,
  resolveLimits,
  type AdmissionLimits,
} from '../../src/policy/limits.js';
import { jsonNestsDeeperThan, jsonTextDepth } from '../../src/policy/text-depth.js';
import { documentsWithin, parseYamlWithin, readingsKept, yamlDepth } from '../../src/yaml-depth.js';

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
  test('answers jsonTextDepth(text) > max from the UTF-8 bytes, for any text', () => {
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
        assert.equal(jsonNestsDeeperThan(Buffer.from(text, 'utf8'), max), jsonTextDepth(text) > max, text);
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

/** The nesting of the composed documents' nodes, keys included (the oracle for yamlDepth). */
function composedDepth(text: string): number {
  let max = 0;
  for (const doc of parseAllDocuments(text, { uniqueKeys: false })) {
    const pending: Array<[unknown, number]> = [[doc.contents, 0]];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const [node, above] = next;
      if (!isMap(node) && !isSeq(node)) continue;
      max = Math.max(max, above + 1);
      for (const item of node.items as unknown[])
        if (isPair(item)) pending.push([item.key, above + 1], [item.value, above + 1]);
        else pending.push([item, above + 1]);
    }
  }
  return max;
}

describe('yamlDepth: the nesting the composer builds, measured without recursion', () => {
  const cases: Array<[string, string]> = [
    ['flow sequences', '[[[[1]]]]'],
    ['flow maps', '{a: {b: {c: [1, {d: 2}]}}}'],
    ['block maps', 'a:\n  b:\n    c: 1\n  d: [1, [2]]\n'],
    ['compact sequences', '- - - - x\n'],
    ['compact sequences in maps', 'a:\n- b:\n  - c: {d: [e]}\n'],
    ['a list of maps', '- name: a\n  server: https://x\n- name: b\n  labels: {env: dev}\n'],
    ['complex keys and quotes', "? [a, b]\n: \"[[[[\"\n'c': 'it''s ['\n"],
    ['comments', 'a: 1 # [[[[[\nb: [1]\n'],
    ['a quote inside a plain scalar', `- it's ${'['.repeat(60)}${']'.repeat(60)}`],
    // Found by a red-team review: the character model of text-depth.ts read 1 for both.
    ['a quote after a colon with no space', `a: b:'\nc: ${'['.repeat(30)}x${']'.repeat(30)}`],
    ['lines broken by a lone CR', 'a:\r'.repeat(50)],
    ['several documents', `a: 1\n---\n${'- '.repeat(40)}x`],
    ['pairs in flow sequences (a map the text has no bracket for)', `${'[a: '.repeat(20)}x${']'.repeat(20)}`],
    ['explicit keys in flow sequences', '[? a : [b: c]]'],
    ['pairs in flow sequences with a scalar value', '[a: x]'],
    ['an empty key in a flow sequence', '[: [x]]'],
    ['an explicit key alone in a flow sequence', '[? [x]]'],
    ['an explicit empty key in a flow sequence', '[? : [x]]'],
    ['explicit keys in a flow map and a block map', '{? [x]}\n---\n- ? [x]\n  : y'],
    ['a pair of nothing in a flow sequence, by `?`', '[? ]'],
    ['a pair of nothing in a flow sequence, by `:`', '[:]'],
  ];
  for (const [name, text] of cases) {
    test(`YAML ${name}: the parsed depth`, () => {
      assert.equal(yamlDepth(text), composedDepth(text));
    });
  }

  test('any value, written in any style: the parsed depth', () => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom('x', "it's", 'a: b', '[', '"q"', 1, null),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom('a', 'b:', "'c", '[d'), tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, fc.boolean(), fc.constantFrom('\n', '\r\n', '\r'), (v, flow, eol) => {
        const text = stringify(v, { collectionStyle: flow ? 'flow' : 'block' }).replace(/\n/g, eol);
        assert.equal(yamlDepth(text), composedDepth(text), JSON.stringify(text));
      }),
      { numRuns: 2_000 },
    );
  });

  test('within the limit, the documents are those parseAllDocuments reads', () => {
    // A red-team mutation pass: forcing a document made `%YAML 1.2` alone an error here.
    for (const text of ['%YAML 1.2\n', '', '# only a comment\n', 'a: 1\n---\n- [b]\n', '--- x\n...\n']) {
      const parsed = parseYamlWithin(text, 100, { uniqueKeys: false });
      assert.ok(parsed.ok);
      const expected = parseAllDocuments(text, { uniqueKeys: false });
      assert.deepEqual(
        parsed.docs.map((d) => [d.toJS(), d.errors.length]),
        expected.map((d) => [d.toJS(), d.errors.length]),
        JSON.stringify(text),
      );
    }
  });

  test('text too deep for the syntax-tree parser itself is nested past any limit, not an error', () => {
    const text = `${'- '.repeat(3900)}a\nb\n`;
    assert.equal(yamlDepth(text), Number.POSITIVE_INFINITY);
    const parsed = parseYamlWithin(text, 500);
    assert.equal(parsed.ok, false);
  });

  test('text past the limit is not composed: 100,000 nested brackets are measured, not parsed into values', () => {
    const deep = `a: b:'\nc: ${'['.repeat(100_000)}`;
    const parsed = parseYamlWithin(deep, 100);
    assert.equal(parsed.ok, false);
    assert.ok(!parsed.ok && parsed.depth > 100_000);
    const within = parseYamlWithin('a: [1, [2]]', 3);
    assert.ok(within.ok);
    assert.deepEqual(within.ok && within.docs[0]?.toJS(), { a: [1, [2]] });
  });
});

describe('documentsWithin: a stream of documents, each measured before it is composed', () => {
  const streamed = (text: string, max = 100) =>
    [...documentsWithin(text, max, { uniqueKeys: false })].map((d) =>
      d.ok ? [d.doc.toJS(), d.doc.errors.map((e) => e.message)] : d.depth,
    );

  test('the documents parseAllDocuments reads, errors with their line and column', () => {
    const texts = [
      'a: 1\n---\n- [b]\n',
      '%YAML 1.2\n',
      '',
      '--- x\n...\n',
      'a: 1\n---\nb: [\n---\nc: 2\n',
      'a: b: c\n',
    ];
    for (const text of texts) {
      const expected = parseAllDocuments(text, { uniqueKeys: false }).map((d) => [
        d.toJS(),
        d.errors.map((e) => e.message.split(':\n')[0]),
      ]);
      assert.deepEqual(streamed(text), expected, JSON.stringify(text));
    }
    const [, second] = streamed('a: 1\n---\nb: [\n') as Array<[unknown, string[]]>;
    assert.match(second?.[1][0] ?? '', / at line 4, column 1$/);
  });

  test('a document past the limit comes as its depth, after the one before it; nothing after it is read', () => {
    const deep = `${'['.repeat(12)}${']'.repeat(12)}`;
    assert.deepEqual(streamed(`a: 1\n---\n${deep}\n---\nb: 2\n`, 10), [[{ a: 1 }, []], 12]);
    assert.deepEqual(streamed(`${deep}\n`, 12), [[JSON.parse(deep), []]]);
  });

  test('text too deep for the syntax-tree parser itself comes as nested past any limit', () => {
    assert.deepEqual(streamed(`a: 1\n---\n${'- '.repeat(3900)}a\nb\n`), [
      [{ a: 1 }, []],
      Number.POSITIVE_INFINITY,
    ]);
  });
});

describe('yaml-depth keeps the readings of the last texts', () => {
  const documents = (text: string) => {
    const parsed = parseYamlWithin(text, 100, { uniqueKeys: false });
    return parsed.ok ? parsed.docs.map((d) => [d.toJS(), d.errors.length]) : parsed.depth;
  };

  test('a text read again, between others, gives what a first reading gives', () => {
    const texts = ['- {name: a, server: https://a}\n- [b, [c]]\n', 'a: {b: [c: d]}\n', 'x: 1\n---\n- y\n'];
    const first = texts.map((t) => [yamlDepth(t), documents(t)]);
    for (let round = 0; round < 3; round++)
      for (const [i, t] of [...texts.entries()].reverse()) {
        assert.deepEqual([yamlDepth(t), documents(t)], first[i], `round ${round}, text ${i}`);
        assert.deepEqual(documents(t), first[i]![1], 'composed again from the kept tokens');
      }
    const expected = texts.map((t) => [
      composedDepth(t),
      parseAllDocuments(t, { uniqueKeys: false }).map((d) => [d.toJS(), d.errors.length]),
    ]);
    assert.deepEqual(first, expected);
  });

  test('what is kept stays within 8 KiB of text, however many texts are read', () => {
    for (let i = 0; i < 2_000; i++) yamlDepth(`- name: c${i}\n  server: https://c${i}.example.com\n`);
    const kept = readingsKept();
    assert.ok(kept.chars <= 8 * 1024, `${kept.chars} characters kept`);
    assert.ok(kept.texts > 100, `only ${kept.texts} texts kept`);
    yamlDepth('x'.repeat(9_000));
    assert.deepEqual(readingsKept(), kept, 'a text past the bound is read, not kept, and evicts nothing');
  });
});

describe('jsonTextDepth', () => {
  test('brackets inside strings do not count', () => {
    assert.equal(jsonTextDepth('{"a":"[[[[\\"[[","b":[{"c":1}]}'), 3);
    assert.equal(jsonTextDepth(`${'['.repeat(50_000)}${']'.repeat(50_000)}`), 50_000);
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

  test('the text depth limits are exact: maxObjectDepth levels pass, one more is denied (JSON config and elementsYaml)', () => {
    const max = limits().maxObjectDepth;
    const json = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const secret = (n: number) => ({ data: { config: Buffer.from(json(n)).toString('base64') } });
    assert.deepEqual(checkLimits('ClusterSecret', secret(max), 'object', limits()), []);
    assert.equal(checkLimits('ClusterSecret', secret(max + 1), 'object', limits()).length, 1);
    const yaml = (n: number) => applicationSet([{ list: { elementsYaml: json(n) } }]);
    assert.deepEqual(checkLimits('ApplicationSet', yaml(max), 'object', limits()), []);
    assert.equal(checkLimits('ApplicationSet', yaml(max + 1), 'object', limits()).length, 1);
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
    // The last three read 1 deep to the character model this check once used (a red-team
    // review): a quote after a colon, lines broken by a lone CR, pairs in flow sequences.
    for (const elementsYaml of [
      `${'['.repeat(1000)}${']'.repeat(1000)}`,
      `a: b:'\n---\n${'- '.repeat(4000)}x`,
      'a:\r'.repeat(2000),
      `${'[a: '.repeat(60)}x${']'.repeat(60)}`,
      // Its dedent made the syntax-tree parser itself run out of stack: a 500 before.
      `${'- '.repeat(3900)}a\nb\n`,
    ]) {
      const set = applicationSet([{ list: { elementsYaml } }]);
      const found = checkLimits('ApplicationSet', set, 'object', limits());
      assert.deepEqual(
        found.map((v) => v.path),
        ['object.spec.generators[0].list.elementsYaml'],
        JSON.stringify(elementsYaml.slice(0, 12)),
      );
    }
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
