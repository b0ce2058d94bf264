import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { renderGeneratorFields } from '../../scripts/gen-generator-fields.js';
import { checkFieldNames, foldKey, MAX_FIELD_NAME_FINDINGS } from '../../src/policy/applicationset-keys.js';
import { GENERATOR_KINDS } from '../../src/policy/applicationset-walk.js';
import {
  APPLICATIONSET_SPEC_FIELDS,
  type FieldNode,
  type FieldTree,
  type RawFieldNode,
} from '../../src/policy/generator-fields.js';
import { isRecord } from '../../src/json.js';

const CRD = new URL('../../../shared/fixtures/upstream/argocd/crds/applicationset-crd.yaml', import.meta.url);
const TABLE = new URL('../../src/policy/generator-fields.ts', import.meta.url);

function isRawField(node: FieldTree | RawFieldNode): node is RawFieldNode {
  return '$raw' in node;
}

function treeOf(node: FieldNode | undefined): FieldTree | undefined {
  if (node === undefined || typeof node === 'number') return undefined;
  return isRawField(node) ? node.$raw : node;
}

function at(node: FieldNode | undefined, ...keys: string[]): FieldNode | undefined {
  let current = node;
  for (const key of keys) current = treeOf(current)?.[key];
  return current;
}

function fieldsOf(node: FieldNode | undefined): string[] {
  return Object.keys(treeOf(node) ?? {}).sort();
}

describe('generator-fields.ts (TG-AS-08 table)', () => {
  test('matches what the CRD gives (run scripts/gen-generator-fields.ts when this fails)', () => {
    assert.equal(readFileSync(TABLE, 'utf8'), renderGeneratorFields(readFileSync(CRD, 'utf8')));
  });

  test('every generator kind of the CRD is one the rules know', () => {
    const crd: unknown = parse(readFileSync(CRD, 'utf8'));
    assert.ok(isRecord(crd));
    const kinds = fieldsOf(at(APPLICATIONSET_SPEC_FIELDS, 'generators')).filter((k) => k !== 'selector');
    assert.deepEqual(kinds, [...GENERATOR_KINDS].sort());
  });

  test('nested matrix and merge are raw, hold terminal generators, and have no template', () => {
    const nested = at(APPLICATIONSET_SPEC_FIELDS, 'generators', 'matrix', 'generators');
    const matrix = at(nested, 'matrix');
    const merge = at(nested, 'merge');
    assert.ok(typeof matrix === 'object' && '$raw' in matrix);
    assert.ok(typeof merge === 'object' && '$raw' in merge);
    assert.deepEqual(fieldsOf(matrix), ['generators']);
    assert.deepEqual(fieldsOf(merge), ['generators', 'mergeKeys']);
    assert.deepEqual(fieldsOf(at(matrix, 'generators')), [
      'clusterDecisionResource',
      'clusters',
      'git',
      'list',
      'plugin',
      'pullRequest',
      'scmProvider',
      'selector',
    ]);
    assert.deepEqual(fieldsOf(at(matrix, 'generators', 'clusters', 'selector')), [
      'matchExpressions',
      'matchLabels',
    ]);
    assert.equal(at(matrix, 'generators', 'list', 'elements'), 1, 'list elements are free-form');
  });
});

describe('checkFieldNames', () => {
  test('folds keys as Go encoding/json does', () => {
    assert.equal(foldKey('Selector'), foldKey('selector'));
    assert.equal(foldKey('ſelector'), foldKey('selector'));
    assert.equal(foldKey('\u212Aey'), foldKey('key'));
    assert.notEqual(foldKey('selectors'), foldKey('selector'));
  });

  const nested = (entry: Record<string, unknown>) => ({
    generators: [
      {
        matrix: {
          generators: [{ list: { elements: [] } }, { merge: { mergeKeys: ['a'], generators: [entry] } }],
        },
      },
    ],
  });
  const base = 'spec.generators[0].matrix.generators[1].merge.generators[0]';
  const cases: Array<{ name: string; spec: Record<string, unknown>; paths: string[] }> = [
    {
      name: 'exact raw keys pass',
      spec: nested({
        clusters: {
          selector: {
            matchLabels: { A: 'b' },
            matchExpressions: [{ key: 'k', operator: 'In', values: ['v'] }],
          },
          values: { X: 'y' },
        },
      }),
      paths: [],
    },
    {
      name: 'raw case variant',
      spec: nested({ clusters: { SELECTOR: {} } }),
      paths: [`${base}.clusters.SELECTOR`],
    },
    {
      name: 'raw unknown key deep in a template',
      spec: nested({ git: { template: { spec: { destination: { serverName: 'x' } } } } }),
      paths: [`${base}.git.template.spec.destination.serverName`],
    },
    {
      name: 'raw case variant inside a list of objects',
      spec: nested({ clusters: { selector: { matchExpressions: [{ Key: 'k', operator: 'Exists' }] } } }),
      paths: [`${base}.clusters.selector.matchExpressions[0].Key`],
    },
    {
      name: 'typed unknown key is left to pruning',
      spec: { generators: [{ list: { elements: [], extra: 1 } }] },
      paths: [],
    },
    {
      name: 'typed case variant',
      spec: { generators: [{ list: { Elements: [] } }] },
      paths: ['spec.generators[0].list.Elements'],
    },
    {
      name: 'free-form maps are data',
      spec: { template: { metadata: { labels: { Project: 'x' }, annotations: { Template: 'y' } } } },
      paths: [],
    },
  ];
  test(`past ${MAX_FIELD_NAME_FINDINGS} findings the rest are counted in one finding at spec (found by a red-team review)`, () => {
    // 29,000 unknown keys in a raw nested generator were 29,000 findings, each with its path
    // and message built: the event loop held for 0.5-1.9 s.
    const keys = (n: number, prefix: string) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}é`, 1]));
    const extra = 57;
    const found = checkFieldNames(
      nested({ clusters: {}, ...keys(MAX_FIELD_NAME_FINDINGS - 3, 'a'), ...keys(3 + extra, 'b') }),
    );
    assert.equal(found.length, MAX_FIELD_NAME_FINDINGS + 1);
    assert.deepEqual(
      found.slice(0, 2).map((v) => v.path),
      [`${base}["a0é"]`, `${base}["a1é"]`],
    );
    const last = found.at(-1);
    assert.equal(last?.rule, 'TG-AS-08');
    assert.equal(last?.path, 'spec');
    assert.match(last?.message ?? '', new RegExp(`holds ${extra} more keys`));
    // At the limit, nothing is summed up; one past it is.
    assert.equal(checkFieldNames(nested(keys(MAX_FIELD_NAME_FINDINGS, 'c'))).length, MAX_FIELD_NAME_FINDINGS);
    const onePast = checkFieldNames(nested(keys(MAX_FIELD_NAME_FINDINGS + 1, 'd')));
    assert.equal(onePast.length, MAX_FIELD_NAME_FINDINGS + 1);
    assert.match(onePast.at(-1)?.message ?? '', /holds 1 more keys/);
  });

  for (const c of cases) {
    test(c.name, () => {
      const found = checkFieldNames(c.spec);
      assert.deepEqual(
        found.map((v) => v.path),
        c.paths,
      );
      for (const v of found) assert.equal(v.rule, 'TG-AS-08');
    });
  }
});
