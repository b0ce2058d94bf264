/**
 * TG-AS-08: field names checked against Argo CD's ApplicationSet schema
 * (`generator-fields.ts`, derived from the CRD).
 *
 * The children of nested `matrix`/`merge` generators reach Argo CD as raw JSON that the API
 * server neither prunes nor validates, and Go's `encoding/json` matches keys
 * case-insensitively: `Clusters` is read as `clusters`, and a later `Selector: {}` replaces
 * an earlier `selector`. So inside raw JSON every key must be an exact field name of that
 * position. At typed levels the API server prunes unknown fields, so only case variants are
 * reported there (they show the author meant a field that will not be read as written).
 * See https://pkg.go.dev/encoding/json#Unmarshal ("preferring an exact match but also
 * accepting a case-insensitive match").
 */
import { goFoldName as foldKey } from './go-json-fold.js';
import {
  APPLICATIONSET_SPEC_FIELDS,
  type FieldNode,
  type FieldTree,
  type RawFieldNode,
} from './generator-fields.js';
import { joinPath } from './object-paths.js';
import { isRecord } from '../json.js';
import type { Violation } from './types.js';
import { violation } from './types.js';

/** Folds a key the way Go's encoding/json does before comparing names (one module for it). */
export { goFoldName as foldKey } from './go-json-fold.js';

function isRawNode(node: FieldNode): node is RawFieldNode {
  return typeof node === 'object' && '$raw' in node;
}

function listFields(tree: FieldTree, limit = 12): string {
  const names = Object.keys(tree);
  return names.length > limit ? `${names.slice(0, limit).join(', ')}, ...` : names.join(', ');
}

/** Each field tree's names by their fold, made once per tree (the trees are module data). */
const namesByFold = new WeakMap<FieldTree, ReadonlyMap<string, readonly string[]>>();

function caseTwin(tree: FieldTree, key: string): string | undefined {
  let byFold = namesByFold.get(tree);
  if (byFold === undefined) {
    const made = new Map<string, string[]>();
    for (const name of Object.keys(tree)) made.set(foldKey(name), [...(made.get(foldKey(name)) ?? []), name]);
    byFold = made;
    namesByFold.set(tree, byFold);
  }
  return byFold.get(foldKey(key))?.find((name) => name !== key);
}

/**
 * Most TG-AS-08 findings written out for one ApplicationSet; the others are counted in one
 * more finding at `spec`.
 *
 * Why: the raw children of nested generators keep every key the author writes, and each
 * unknown key was a finding of its own, with its path and message built. 29,000 keys in a
 * 3 MiB review held the event loop 0.5-1.9 s (a red-team review). Past the first findings
 * the walk only counts. The request is denied all the same, and the finding at `spec` keeps
 * a terminating UPDATE that changes anything there from passing as one that only takes away.
 */
export const MAX_FIELD_NAME_FINDINGS = 100;

/** Where findings go: written out up to MAX_FIELD_NAME_FINDINGS, then counted. */
interface FindingSink {
  readonly out: Violation[];
  more: number;
}

function report(sink: FindingSink, finding: () => Violation): void {
  if (sink.out.length < MAX_FIELD_NAME_FINDINGS) sink.out.push(finding());
  else sink.more += 1;
}

function checkTree(value: unknown, tree: FieldTree, path: string, raw: boolean, out: FindingSink): void {
  if (Array.isArray(value)) {
    // Lists of lists are walked with a stack, so recursion only follows object keys down
    // the (finite) schema tree: no input nests it deeper than the schema.
    const pending: Array<[unknown, string]> = [[value, path]];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const [item, at] = next;
      if (Array.isArray(item))
        for (let i = item.length - 1; i >= 0; i--) pending.push([item[i], joinPath(at, i)]);
      else checkTree(item, tree, at, raw, out);
    }
    return;
  }
  if (!isRecord(value)) return;
  for (const key of Object.keys(value)) {
    const node = Object.hasOwn(tree, key) ? tree[key] : undefined;
    // A leaf or a free-form map: nothing below it to check, so no path to build.
    if (node === 0 || node === 1) continue;
    if (node !== undefined) {
      checkNode(value[key], node, joinPath(path, key), raw, out);
      continue;
    }
    const twin = caseTwin(tree, key);
    if (twin !== undefined) {
      const effect = raw
        ? `Argo CD's JSON decoder matches keys case-insensitively and reads it as "${twin}"`
        : `the API server drops it, so it is not read as "${twin}"`;
      report(out, () =>
        violation(
          'TG-AS-08',
          joinPath(path, key),
          `differs only in case from the field "${twin}"; ${effect}; spell it "${twin}"`,
        ),
      );
    } else if (raw) {
      const nesting =
        key === 'matrix' || key === 'merge'
          ? ' (Argo CD nests matrix and merge two levels deep at most)'
          : '';
      report(out, () =>
        violation(
          'TG-AS-08',
          joinPath(path, key),
          `is not a field of Argo CD's generator schema here${nesting}; allowed: ${listFields(tree)}`,
        ),
      );
    }
  }
}

function checkNode(value: unknown, node: FieldNode, path: string, raw: boolean, out: FindingSink): void {
  if (node === 0 || node === 1) return;
  if (isRawNode(node)) checkTree(value, node.$raw, path, true, out);
  else checkTree(value, node, path, raw, out);
}

/**
 * TG-AS-08 for one ApplicationSet `spec`: every unknown or case-variant key inside the raw
 * children of nested `matrix`/`merge`, and every case-variant key at the typed levels.
 * Free-form maps (labels, `values`, list `elements`, plugin `parameters`...) are data and
 * not checked key by key.
 */
export function checkFieldNames(spec: Record<string, unknown>): Violation[] {
  const sink: FindingSink = { out: [], more: 0 };
  checkTree(spec, APPLICATIONSET_SPEC_FIELDS, 'spec', false, sink);
  if (sink.more > 0)
    sink.out.push(
      violation(
        'TG-AS-08',
        'spec',
        `holds ${sink.more} more keys like those above (not a field at their place, or a field in another case); the first ${MAX_FIELD_NAME_FINDINGS} are listed`,
      ),
    );
  return sink.out;
}
