/**
 * One walk over an ApplicationSet that yields every generator entry (at any depth of
 * `matrix` and `merge`) and every template, for the mutation and every rule. Pure; never
 * throws on a malformed object: what it cannot read becomes a TG-REQ-01 violation.
 */
import { joinPath } from './object-paths.js';
import { describeJsonType, isRecord } from '../json.js';
import type { KubeObject, Violation } from './types.js';
import { violation } from './types.js';

/**
 * Every generator kind of Argo CD's ApplicationSet CRD (`selector` beside them is a
 * post-filter, not a kind). Which of them a tenant may use is TG-AS-05's business.
 */
export const GENERATOR_KINDS: ReadonlySet<string> = new Set([
  'list',
  'clusters',
  'git',
  'matrix',
  'merge',
  'scmProvider',
  'pullRequest',
  'plugin',
  'clusterDecisionResource',
]);

/**
 * Entries nested deeper than this are not walked: Argo CD reads two levels below
 * `spec.generators` (TG-AS-08 denies anything deeper), and the cap keeps a hostile
 * object from exhausting the stack.
 */
export const MAX_GENERATOR_DEPTH = 8;

/** One entry of a `generators` list: `{ list: ... }`, `{ clusters: ..., selector: ... }`. */
export interface GeneratorVisit {
  /** The entry itself, as the object holds it (read only: /mutate edits through an ObjectEdit). */
  readonly entry: Record<string, unknown>;
  /** `spec.generators[0].matrix.generators[1]`. */
  readonly path: string;
  /** The same as keys from the object's top: `['spec', 'generators', 0, 'matrix', 'generators', 1]`. */
  readonly keys: readonly (string | number)[];
  /** 0 for `spec.generators[i]`, 1 for their `matrix`/`merge` children, and so on. */
  readonly depth: number;
  /**
   * True from depth 2 on: the entry sits inside a nested `matrix`/`merge`, which the CRD
   * stores as raw JSON (unpruned, decoded by Argo CD with Go's case-insensitive decoder).
   */
  readonly raw: boolean;
}

/** One template: `spec.template`, or a generator's `template`. */
export interface TemplateVisit {
  readonly template: Record<string, unknown>;
  /** `spec.template` or `spec.generators[0].list.template`. */
  readonly path: string;
  /** True for `spec.template`, which generator templates are merged over. */
  readonly root: boolean;
}

/** What the walk found. `spec` is undefined when the object has no readable spec. */
export interface ApplicationSetWalk {
  readonly spec: Record<string, unknown> | undefined;
  readonly generators: GeneratorVisit[];
  readonly templates: TemplateVisit[];
  /** TG-REQ-01: the parts the rules could not read. */
  readonly problems: Violation[];
}

/** True when `value` holds something: JSON `null` reads as absent, as in Go's decoder. */
export function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function notObject(path: string, value: unknown): Violation {
  return violation(
    'TG-REQ-01',
    path,
    `is ${describeJsonType(value)}, not an object; the rules cannot read it`,
  );
}

/** `keys` and then `more`, a new list (slice and push: spread and concat cost more in a walk's hot loop). */
function keysTo(keys: readonly (string | number)[], ...more: (string | number)[]): (string | number)[] {
  const out = keys.slice();
  for (const key of more) out.push(key);
  return out;
}

/**
 * Walks `object.spec`: its `template`, then the `generators` depth-first in document order,
 * each entry followed by the `template` of each of its kinds and its nested entries.
 */
export function walkApplicationSet(object: KubeObject): ApplicationSetWalk {
  const problems: Violation[] = [];
  const generators: GeneratorVisit[] = [];
  const templates: TemplateVisit[] = [];
  const spec = object.spec;
  if (!isRecord(spec)) {
    problems.push(
      isPresent(spec)
        ? notObject('spec', spec)
        : violation(
            'TG-REQ-01',
            'spec',
            'is missing; an ApplicationSet needs spec.generators and spec.template',
          ),
    );
    return { spec: undefined, generators, templates, problems };
  }
  if (isRecord(spec.template)) templates.push({ template: spec.template, path: 'spec.template', root: true });
  else if (isPresent(spec.template)) problems.push(notObject('spec.template', spec.template));

  const walkList = (list: unknown, path: string, keys: readonly (string | number)[], depth: number): void => {
    if (!isPresent(list)) return;
    if (!Array.isArray(list)) {
      problems.push(
        violation('TG-REQ-01', path, `is ${describeJsonType(list)}, not a list; the rules cannot read it`),
      );
      return;
    }
    if (depth > MAX_GENERATOR_DEPTH) {
      problems.push(
        violation(
          'TG-REQ-01',
          path,
          `nests generators more than ${MAX_GENERATOR_DEPTH} levels deep; Argo CD reads two`,
        ),
      );
      return;
    }
    list.forEach((entry: unknown, i) => {
      const entryPath = joinPath(path, i);
      if (!isRecord(entry)) {
        problems.push(notObject(entryPath, entry));
        return;
      }
      const entryKeys = keysTo(keys, i);
      generators.push({ entry, path: entryPath, keys: entryKeys, depth, raw: depth >= 2 });
      for (const kind of Object.keys(entry)) {
        const body = entry[kind];
        // Unknown kinds and case variants are TG-AS-05's and TG-AS-08's to report.
        if (!GENERATOR_KINDS.has(kind) || !isPresent(body)) continue;
        const kindPath = joinPath(entryPath, kind);
        if (!isRecord(body)) {
          problems.push(notObject(kindPath, body));
          continue;
        }
        const template = body.template;
        if (isRecord(template))
          templates.push({ template, path: joinPath(kindPath, 'template'), root: false });
        else if (isPresent(template)) problems.push(notObject(joinPath(kindPath, 'template'), template));
        if (kind === 'matrix' || kind === 'merge')
          walkList(
            body.generators,
            joinPath(kindPath, 'generators'),
            keysTo(entryKeys, kind, 'generators'),
            depth + 1,
          );
      }
    });
  };
  if (isPresent(spec.generators)) walkList(spec.generators, 'spec.generators', ['spec', 'generators'], 0);
  else
    problems.push(
      violation('TG-REQ-01', 'spec.generators', 'is missing; an ApplicationSet needs at least one generator'),
    );
  return { spec, generators, templates, problems };
}

/** The kinds an entry holds (its keys with a value), `selector` excluded. */
export function generatorKinds(entry: Record<string, unknown>): string[] {
  return Object.keys(entry).filter((k) => k !== 'selector' && isPresent(entry[k]));
}
