/**
 * TG-REQ-01's shape check of an admitted object: the one place that says which parts every
 * rule reads must be objects, strings or string maps. The admission layer runs it on the raw
 * request (src/admission/review.ts) and `evaluate` on a PolicyRequest built any other way, so
 * both report the same paths. Pure: no I/O; names keys, never Secret values.
 */
import { describeJsonType, isRecord } from '../json.js';
import { violation, type GuardedKind, type Violation } from './types.js';

/**
 * Checks the parts of an object every rule reads; returns TG-REQ-01 lines under `at`
 * (`object.metadata.labels`, `oldObject.spec`, ...).
 */
export function objectShapeProblems(
  value: unknown,
  at: 'object' | 'oldObject',
  kind: GuardedKind,
): Violation[] {
  if (!isRecord(value))
    return [violation('TG-REQ-01', at, `is ${describeJsonType(value)}; expected a Kubernetes object`)];
  const out: Violation[] = [];
  const metadata = value.metadata;
  if (metadata !== undefined && !isRecord(metadata))
    out.push(
      violation('TG-REQ-01', `${at}.metadata`, `is ${describeJsonType(metadata)}; expected an object`),
    );
  if (isRecord(metadata)) {
    for (const key of ['name', 'namespace', 'generateName', 'deletionTimestamp']) {
      const v = metadata[key];
      if (v !== undefined && v !== null && typeof v !== 'string')
        out.push(
          violation('TG-REQ-01', `${at}.metadata.${key}`, `is ${describeJsonType(v)}; expected a string`),
        );
    }
    for (const key of ['labels', 'annotations'])
      out.push(...stringMapProblems(metadata[key], `${at}.metadata.${key}`));
  }
  if (kind === 'ClusterSecret') {
    // Secret `data` is base64 strings and `stringData` plain strings (SPEC section 4).
    for (const key of ['data', 'stringData']) out.push(...stringMapProblems(value[key], `${at}.${key}`));
    if (value.type !== undefined && typeof value.type !== 'string')
      out.push(violation('TG-REQ-01', `${at}.type`, `is ${describeJsonType(value.type)}; expected a string`));
  } else if (value.spec !== undefined && !isRecord(value.spec)) {
    out.push(violation('TG-REQ-01', `${at}.spec`, `is ${describeJsonType(value.spec)}; expected an object`));
  }
  return out;
}

function stringMapProblems(value: unknown, path: string): Violation[] {
  if (value === undefined || value === null) return [];
  if (!isRecord(value))
    return [violation('TG-REQ-01', path, `is ${describeJsonType(value)}; expected a map of strings`)];
  const bad = Object.keys(value).filter((k) => typeof value[k] !== 'string');
  // Name the keys, never the values: they may be Secret data.
  return bad.length === 0
    ? []
    : [
        violation(
          'TG-REQ-01',
          path,
          `has values that are not strings (keys: ${bad.slice(0, 5).join(', ')}); expected a map of strings`,
        ),
      ];
}
