/**
 * TG-AS-09: fields the ApplicationSet controller leaves alone on the Applications it
 * generates. An ApplicationSet that generates the name of an existing Application adopts
 * it; whatever `spec.ignoreApplicationDifferences` or `spec.preservedFields` covers keeps
 * the victim's value while the rest (its source) is replaced. So they may not cover the
 * tenant label, `spec.project` or `spec.destination`, nor a parent of them.
 *
 * JSON pointers are read as Argo CD reads them: `util/argo/normalizers/diff_normalizer.go`
 * turns each into a json-patch `remove` operation applied with github.com/evanphx/json-patch,
 * whose `findObject` splits the path on `/`, drops the first segment unchecked, and decodes
 * each segment with `decodePatchKey` (`~1` to `/`, then `~0` to `~`). A path without `/`
 * finds nothing. So `x/spec/project` means `spec/project`, not an error as RFC 6901 says.
 * `jqPathExpressions` select whatever jq selects: no static check bounds them.
 */
import { isPresent } from './applicationset-walk.js';
import { joinPath, show } from './object-paths.js';
import { isRecord } from '../json.js';
import type { Violation } from './types.js';
import { violation } from './types.js';

/** Entries and pointers read per ApplicationSet; more is TG-REQ-01 (bounded work). */
const MAX_ENTRIES = 256;

/**
 * The segments a json-patch path reaches in Argo CD, or undefined when it reaches nothing
 * (no `/`). `/spec/project` and `x/spec/project` both give `['spec', 'project']`.
 */
export function argoPointerSegments(pointer: string): string[] | undefined {
  const split = pointer.split('/');
  if (split.length < 2) return undefined;
  return split.slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** The paths of a generated Application that an adopting ApplicationSet must set itself. */
function protectedPaths(label: string): string[][] {
  return [
    ['metadata', 'labels', label],
    ['spec', 'project'],
    ['spec', 'destination'],
  ];
}

/** True when `segments` is a protected path, a parent of one, or inside one. */
function coversProtected(segments: readonly string[], label: string): boolean {
  return protectedPaths(label).some((p) => {
    const n = Math.min(p.length, segments.length);
    for (let i = 0; i < n; i++) if (p[i] !== segments[i]) return false;
    return true;
  });
}

function describeCovered(label: string): string {
  return `the tenant label ${JSON.stringify(label)}, spec.project, spec.destination or a parent of them (metadata, metadata/labels, spec)`;
}

function notReadable(path: string, what: string): Violation {
  return violation('TG-REQ-01', path, `is not ${what}; the rules cannot read it`);
}

function checkPointers(value: unknown, path: string, label: string, out: Violation[]): void {
  if (!isPresent(value)) return;
  if (!Array.isArray(value)) {
    out.push(notReadable(path, 'a list'));
    return;
  }
  if (value.length > MAX_ENTRIES) {
    out.push(violation('TG-REQ-01', path, `holds ${value.length} pointers; at most ${MAX_ENTRIES} are read`));
    return;
  }
  value.forEach((pointer: unknown, i) => {
    const itemPath = joinPath(path, i);
    if (typeof pointer !== 'string') {
      out.push(notReadable(itemPath, 'a string'));
      return;
    }
    const segments = argoPointerSegments(pointer);
    if (segments === undefined || !coversProtected(segments, label)) return;
    out.push(
      violation(
        'TG-AS-09',
        itemPath,
        `${show(pointer)} reads as /${segments.join('/')} in Argo CD and covers ${describeCovered(label)}; an ApplicationSet that adopts an existing Application would keep its tenant, project and destination while replacing its source; ignore fields below spec.source or spec.syncPolicy instead`,
      ),
    );
  });
}

/**
 * TG-AS-09 for one ApplicationSet `spec`. TG-REQ-01 for parts of the wrong type.
 * `jqPathExpressions` are reported for everyone; `evaluate` lets platform admins through.
 */
export function checkIgnoredFields(spec: Record<string, unknown>, label: string): Violation[] {
  const out: Violation[] = [];
  const listPath = 'spec.ignoreApplicationDifferences';
  const entries = spec.ignoreApplicationDifferences;
  if (isPresent(entries) && !Array.isArray(entries)) out.push(notReadable(listPath, 'a list'));
  if (Array.isArray(entries)) {
    if (entries.length > MAX_ENTRIES)
      out.push(
        violation('TG-REQ-01', listPath, `holds ${entries.length} entries; at most ${MAX_ENTRIES} are read`),
      );
    else {
      entries.forEach((entry: unknown, i) => {
        const entryPath = joinPath(listPath, i);
        if (!isRecord(entry)) {
          if (isPresent(entry)) out.push(notReadable(entryPath, 'an object'));
          return;
        }
        checkPointers(
          Object.hasOwn(entry, 'jsonPointers') ? entry.jsonPointers : undefined,
          joinPath(entryPath, 'jsonPointers'),
          label,
          out,
        );
        const jq = Object.hasOwn(entry, 'jqPathExpressions') ? entry.jqPathExpressions : undefined;
        const jqPresent = Array.isArray(jq) ? jq.length > 0 : isPresent(jq);
        if (jqPresent)
          out.push(
            violation(
              'TG-AS-09',
              joinPath(entryPath, 'jqPathExpressions'),
              `${show(jq)} is set; no static check bounds what a jq expression selects, so only platform admins may use it: use jsonPointers`,
            ),
          );
      });
    }
  }

  const preservedPath = 'spec.preservedFields';
  const preserved = spec.preservedFields;
  if (isPresent(preserved) && !isRecord(preserved)) out.push(notReadable(preservedPath, 'an object'));
  if (isRecord(preserved)) {
    const labelsPath = joinPath(preservedPath, 'labels');
    const labels = Object.hasOwn(preserved, 'labels') ? preserved.labels : undefined;
    if (isPresent(labels) && !Array.isArray(labels)) out.push(notReadable(labelsPath, 'a list'));
    if (Array.isArray(labels)) {
      labels.forEach((key: unknown, i) => {
        if (key === label)
          out.push(
            violation(
              'TG-AS-09',
              joinPath(labelsPath, i),
              `${show(key)} is the tenant label; an ApplicationSet that adopts an existing Application would keep its tenant; remove it`,
            ),
          );
        else if (typeof key !== 'string') out.push(notReadable(joinPath(labelsPath, i), 'a string'));
      });
    }
  }
  return out;
}
