/**
 * Derives the field-name table of TG-AS-08 (src/policy/generator-fields.ts) from Argo CD's
 * ApplicationSet CRD: field names only, no descriptions or types.
 *
 *   node --import tsx scripts/gen-generator-fields.ts [CRD_FILE] [--check]
 *
 * CRD_FILE defaults to ../shared/fixtures/upstream/argocd/crds/applicationset-crd.yaml next
 * to the repository. `--check` writes nothing and exits 1 when the checked-in table differs.
 *
 * The CRD stores the children of nested `matrix`/`merge` generators as raw JSON
 * (`x-kubernetes-preserve-unknown-fields`), so it has no schema for them. Argo CD decodes
 * them into `NestedMatrixGenerator` / `NestedMergeGenerator`, which hold
 * `ApplicationSetTerminalGenerators` (every generator type but `matrix` and `merge`) and,
 * unlike the top-level kinds, no `template`. The table models exactly that: the raw body is
 * the CRD's top-level `matrix`/`merge` without `template`, whose `generators` items are the
 * CRD's nested generator item without its raw (preserve-unknown) members.
 * See https://argo-cd.readthedocs.io/en/stable/operator-manual/applicationset/Generators-Matrix/
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';

/** 0: a leaf (scalar or list of scalars); 1: a free-form map; a tree; or a raw-JSON tree. */
type Node = 0 | 1 | Tree | Raw;
interface Tree {
  readonly kind: 'tree';
  readonly fields: ReadonlyMap<string, Node>;
}
interface Raw {
  readonly kind: 'raw';
  readonly tree: Tree;
}

type Schema = Record<string, unknown>;

const PRESERVE = 'x-kubernetes-preserve-unknown-fields';
const NESTED_KINDS = ['matrix', 'merge'] as const;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function child(schema: Schema, key: string, where: string): Schema {
  const value = schema[key];
  if (!isSchema(value)) throw new Error(`CRD: ${where}.${key} is not a schema object`);
  return value;
}

function properties(schema: Schema): Schema | undefined {
  const props = schema.properties;
  return isSchema(props) ? props : undefined;
}

function isRawSchema(schema: Schema): boolean {
  return schema[PRESERVE] === true && properties(schema) === undefined;
}

/** The schema of one generator entry at depth 0 (`spec.generators[]`). */
function topGeneratorItem(spec: Schema): Schema {
  return child(child(child(spec, 'properties', 'spec'), 'generators', 'spec'), 'items', 'spec.generators');
}

interface Derivation {
  readonly nested: Readonly<Record<(typeof NESTED_KINDS)[number], Raw>>;
}

function derive(schema: Schema, ctx: Derivation | undefined): Node {
  const props = properties(schema);
  if (props !== undefined) {
    const fields = new Map<string, Node>();
    for (const name of Object.keys(props).sort()) {
      const sub = props[name];
      if (!isSchema(sub)) continue;
      const nestedKind = NESTED_KINDS.find((k) => k === name);
      if (nestedKind !== undefined && isRawSchema(sub) && ctx !== undefined)
        fields.set(name, ctx.nested[nestedKind]);
      else fields.set(name, derive(sub, ctx));
    }
    return { kind: 'tree', fields };
  }
  if (isSchema(schema.items)) return derive(schema.items, ctx);
  if (schema[PRESERVE] === true || schema.additionalProperties !== undefined) return 1;
  return 0;
}

function asTree(node: Node, where: string): Tree {
  if (typeof node === 'number' || node.kind !== 'tree') throw new Error(`CRD: ${where} has no properties`);
  return node;
}

/** The raw bodies of nested `matrix` and `merge`, as Argo CD decodes them. */
function nestedBodies(spec: Schema): Derivation['nested'] {
  const top = child(topGeneratorItem(spec), 'properties', 'spec.generators[]');
  const matrixItem = child(
    child(child(child(top, 'matrix', 'generators[]'), 'properties', 'matrix'), 'generators', 'matrix'),
    'items',
    'matrix.generators',
  );
  const itemProps = child(matrixItem, 'properties', 'matrix.generators[]');
  const terminal = new Map<string, Node>();
  for (const name of Object.keys(itemProps).sort()) {
    const sub = itemProps[name];
    if (isSchema(sub) && !isRawSchema(sub)) terminal.set(name, derive(sub, undefined));
  }
  const body = (kind: (typeof NESTED_KINDS)[number]): Raw => {
    const topKind = asTree(derive(child(top, kind, 'generators[]'), undefined), `generators[].${kind}`);
    const fields = new Map<string, Node>();
    for (const [name, node] of topKind.fields) {
      if (name === 'template') continue;
      fields.set(name, name === 'generators' ? { kind: 'tree', fields: terminal } : node);
    }
    return { kind: 'raw', tree: { kind: 'tree', fields } };
  };
  return { matrix: body('matrix'), merge: body('merge') };
}

/** Reads the CRD and derives the tree of `spec`. */
export function deriveSpecFields(crdYaml: string): Node {
  const crd: unknown = parse(crdYaml);
  if (!isSchema(crd) || !isSchema(crd.spec) || !Array.isArray(crd.spec.versions))
    throw new Error('CRD: spec.versions is missing');
  const version: unknown = crd.spec.versions.find((v: unknown) => isSchema(v) && v.name === 'v1alpha1');
  if (!isSchema(version)) throw new Error('CRD: version v1alpha1 is missing');
  const root = child(child(version, 'schema', 'v1alpha1'), 'openAPIV3Schema', 'v1alpha1.schema');
  const spec = child(child(root, 'properties', 'openAPIV3Schema'), 'spec', 'openAPIV3Schema.properties');
  return derive(spec, { nested: nestedBodies(spec) });
}

function canonical(node: Node, memo: Map<Node, string>): string {
  if (typeof node === 'number') return String(node);
  const known = memo.get(node);
  if (known !== undefined) return known;
  const text =
    node.kind === 'raw'
      ? `R${canonical(node.tree, memo)}`
      : `{${[...node.fields].map(([k, v]) => `${k}:${canonical(v, memo)}`).join(',')}}`;
  memo.set(node, text);
  return text;
}

function renderKey(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
}

const WIDTH = 110;

/** Joins `key: value` parts into lines of at most WIDTH characters. */
function wrap(head: string, parts: string[], tail: string): string {
  const lines: string[] = [];
  let line = `${head}{`;
  for (const [i, part] of parts.entries()) {
    const piece = ` ${part}${i < parts.length - 1 ? ',' : ''}`;
    if (line.length + piece.length > WIDTH && line.trim() !== '') {
      lines.push(line);
      line = ' ';
    }
    line += piece;
  }
  lines.push(`${line} }${tail}`);
  return lines.join('\n');
}

function fieldAt(tree: Tree, ...keys: string[]): Node | undefined {
  let node: Node | undefined = tree;
  for (const key of keys)
    node =
      node !== undefined && typeof node !== 'number' && node.kind === 'tree'
        ? node.fields.get(key)
        : undefined;
  return node;
}

/** Renders src/policy/generator-fields.ts: trees used twice, or long, become named constants. */
export function renderGeneratorFields(crdYaml: string): string {
  const spec = asTree(deriveSpecFields(crdYaml), 'spec');
  const memo = new Map<Node, string>();
  const counts = new Map<string, number>();
  const firstName = new Map<string, string>();
  const hint = (node: Node | undefined, name: string): void => {
    if (node !== undefined && typeof node !== 'number')
      firstName.set(canonical(node.kind === 'raw' ? node.tree : node, memo), name);
  };
  hint(fieldAt(spec, 'generators'), 'generator');
  hint(fieldAt(spec, 'generators', 'matrix', 'generators'), 'nestedGenerator');
  hint(fieldAt(spec, 'generators', 'matrix', 'generators', 'clusters'), 'clustersGenerator');
  const raw = fieldAt(spec, 'generators', 'matrix', 'generators', 'matrix');
  if (raw !== undefined && typeof raw !== 'number' && raw.kind === 'raw')
    hint(raw.tree.fields.get('generators'), 'terminalGenerator');
  const count = (node: Node, name: string): void => {
    if (typeof node === 'number') return;
    if (node.kind === 'raw') return count(node.tree, name);
    const key = canonical(node, memo);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (!firstName.has(key)) firstName.set(key, name);
    if ((counts.get(key) ?? 0) > 1) return;
    for (const [k, v] of node.fields) count(v, k);
  };
  count(spec, 'spec');

  const names = new Map<string, string>();
  const used = new Set<string>();
  const decls: string[] = [];
  const render = (node: Node): string => {
    if (typeof node === 'number') return String(node);
    if (node.kind === 'raw') return `{ $raw: ${render(node.tree)} }`;
    const key = canonical(node, memo);
    const named = names.get(key);
    if (named !== undefined) return named;
    const parts = [...node.fields].map(([k, v]) => `${renderKey(k)}: ${render(v)}`);
    const inline = `{ ${parts.join(', ')} }`;
    if (node === spec || ((counts.get(key) ?? 0) < 2 && inline.length <= 60) || node.fields.size < 2)
      return inline;
    const base = (firstName.get(key) ?? 'fields').replace(/[^A-Za-z0-9]/g, '_');
    let name = `${base}Fields`;
    for (let i = 2; used.has(name); i++) name = `${base}Fields${i}`;
    used.add(name);
    names.set(key, name);
    decls.push(wrap(`const ${name}: FieldTree = `, parts, ';'));
    return name;
  };
  const rootParts = [...spec.fields].map(([k, v]) => `${renderKey(k)}: ${render(v)}`);
  const root = wrap('export const APPLICATIONSET_SPEC_FIELDS: FieldTree = ', rootParts, ';');
  return [
    "// Generated by scripts/gen-generator-fields.ts from Argo CD's ApplicationSet CRD. Do not edit:",
    '// run `node --import tsx scripts/gen-generator-fields.ts` (test/policy/applicationset-fields.test.ts',
    '// fails when this table drifts from the CRD).',
    '/* eslint-disable */',
    '',
    '/**',
    ' * A field of the table: 0 a leaf (a scalar or a list of scalars), 1 a free-form map whose',
    ' * keys are data (labels, `values`, list `elements`...), a tree of named fields, or a tree',
    " * that Argo CD receives as raw JSON (the CRD keeps it unpruned) and decodes with Go's",
    ' * case-insensitive JSON decoder. Lists are transparent: a node describes each item.',
    ' */',
    'export type FieldNode = 0 | 1 | FieldTree | RawFieldNode;',
    '',
    '/** Field names at one position, each with the node below it. */',
    'export interface FieldTree {',
    '  readonly [field: string]: FieldNode;',
    '}',
    '',
    '/** A raw-JSON position (the children of nested `matrix` and `merge`). */',
    'export interface RawFieldNode {',
    '  readonly $raw: FieldTree;',
    '}',
    '',
    ...decls,
    '',
    '/** The field names of an ApplicationSet `spec`, at every depth the CRD describes. */',
    root,
    '',
  ].join('\n');
}

const here = dirname(fileURLToPath(import.meta.url));

/** Where the CRD fixture lives when the repository sits beside `shared/`. */
export const DEFAULT_CRD_PATH = resolve(
  here,
  '../../shared/fixtures/upstream/argocd/crds/applicationset-crd.yaml',
);

/** Where the table is written. */
export const GENERATED_PATH = resolve(here, '../src/policy/generator-fields.ts');

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const crdPath = argv.find((a) => !a.startsWith('--')) ?? DEFAULT_CRD_PATH;
  const text = renderGeneratorFields(readFileSync(crdPath, 'utf8'));
  if (check) {
    let current = '';
    try {
      current = readFileSync(GENERATED_PATH, 'utf8');
    } catch {
      // missing: reported as drift below
    }
    if (current === text) return 0;
    process.stderr.write(
      `${GENERATED_PATH} differs from what ${crdPath} gives; run scripts/gen-generator-fields.ts\n`,
    );
    return 1;
  }
  writeFileSync(GENERATED_PATH, text);
  process.stdout.write(`wrote ${GENERATED_PATH}\n`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
