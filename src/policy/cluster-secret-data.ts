/**
 * Reading and writing the fields of an Argo CD cluster Secret (SPEC section 4): `data` is
 * base64, `stringData`, when present, wins over it; writes go to `data`. Pure.
 *
 * The API server folds `stringData` into `data` before admission webhooks run, so a real
 * request carries `data` only; `stringData` is seen offline (`tenant-guard check`).
 * https://kubernetes.io/docs/concepts/configuration/secret/#restriction-names-data
 */
import { getPath, show } from './object-paths.js';
import { isRecord } from '../json.js';
import type { KubeObject, Violation } from './types.js';
import { violation } from './types.js';
import type { ObjectEdit } from './object-edit.js';

/** A Secret's effective data: every key's bytes after `stringData` is laid over `data`. */
export interface SecretData {
  /** Effective bytes per key. */
  readonly bytes: ReadonlyMap<string, Buffer>;
  /** The keys that come from `stringData` (they win; mutate leaves them alone). */
  readonly fromStringData: ReadonlySet<string>;
  /** TG-REQ-01 findings: `data` or `stringData` not a string map, a value not base64. */
  readonly problems: readonly Violation[];
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True when the text is canonical padded standard base64 (what Kubernetes writes). */
export function isBase64(text: string): boolean {
  return BASE64.test(text);
}

/** Where a data key is read, for denial paths: `data.config`. */
export function dataPath(key: string): string {
  return /^[A-Za-z_][\w-]*$/.test(key) ? `data.${key}` : `data[${JSON.stringify(key)}]`;
}

/** Decodes `data` and overlays `stringData`. Never throws; what it cannot read is a problem. */
export function readSecretData(object: KubeObject | undefined): SecretData {
  const bytes = new Map<string, Buffer>();
  const fromStringData = new Set<string>();
  const problems: Violation[] = [];
  const data = getPath(object, ['data']);
  if (data !== undefined && data !== null) {
    if (!isRecord(data))
      problems.push(violation('TG-REQ-01', 'data', `is ${show(data)}, not a map of base64 strings`));
    else {
      for (const [key, value] of Object.entries(data)) {
        if (typeof value !== 'string')
          problems.push(
            violation('TG-REQ-01', dataPath(key), `is ${show(typeof value)}, not a base64 string`),
          );
        else if (!isBase64(value))
          problems.push(
            violation('TG-REQ-01', dataPath(key), 'is not valid base64 (value withheld: Secret data)'),
          );
        else bytes.set(key, Buffer.from(value, 'base64'));
      }
    }
  }
  const stringData = getPath(object, ['stringData']);
  if (stringData !== undefined && stringData !== null) {
    if (!isRecord(stringData))
      problems.push(violation('TG-REQ-01', 'stringData', `is ${show(stringData)}, not a map of strings`));
    else {
      for (const [key, value] of Object.entries(stringData)) {
        if (typeof value !== 'string') {
          problems.push(
            violation('TG-REQ-01', `stringData.${key}`, `is ${show(typeof value)}, not a string`),
          );
          continue;
        }
        bytes.set(key, Buffer.from(value, 'utf8'));
        fromStringData.add(key);
      }
    }
  }
  return { bytes, fromStringData, problems };
}

/** The text of one effective field (UTF-8), or undefined when absent. */
export function fieldText(data: SecretData, key: string): string | undefined {
  return data.bytes.get(key)?.toString('utf8');
}

/**
 * True when two Secrets hold the same effective data: the same raw `data` and `stringData`,
 * or, when both read cleanly, the same keys with the same bytes.
 */
export function sameSecretData(a: KubeObject, b: KubeObject): boolean {
  const raw = (o: KubeObject) => JSON.stringify([o.data ?? null, o.stringData ?? null]);
  if (raw(a) === raw(b)) return true;
  const da = readSecretData(a);
  const db = readSecretData(b);
  return cleanReads(da, db) && da.bytes.size === db.bytes.size && fieldsHeldIn(da, db);
}

/**
 * True when `after`'s effective data keeps only what `before`'s held: every key it has,
 * `before` had with the same bytes (keys may be gone). False when either does not read
 * cleanly. For objects of no data at all, true.
 */
export function secretDataKeepsOnly(before: KubeObject, after: KubeObject): boolean {
  const db = readSecretData(before);
  const da = readSecretData(after);
  return cleanReads(db, da) && fieldsHeldIn(da, db);
}

function cleanReads(a: SecretData, b: SecretData): boolean {
  return a.problems.length === 0 && b.problems.length === 0;
}

/** True when every field of `some` is in `all` with the same bytes. */
function fieldsHeldIn(some: SecretData, all: SecretData): boolean {
  for (const [key, value] of some.bytes) {
    const held = all.bytes.get(key);
    if (held === undefined || !held.equals(value)) return false;
  }
  return true;
}

/**
 * Writes `key` into `object.data` as base64, unless the key is already set in `data` or
 * in `stringData` (which wins). Returns true when it wrote.
 */
export function addDataField(edit: ObjectEdit, key: string, value: string): boolean {
  const object = edit.object;
  if (isRecord(object.stringData) && object.stringData[key] !== undefined) return false;
  const existing = object.data;
  if (existing !== undefined && existing !== null && !isRecord(existing)) return false;
  if (isRecord(existing) && existing[key] !== undefined) return false;
  const data = edit.ensureRecord(object, 'data');
  data[key] = Buffer.from(value, 'utf8').toString('base64');
  return true;
}

/**
 * Replaces `config` in `object.data` with new text. Used only to add missing parts to a
 * config the caller parsed from `data` (never from `stringData`).
 */
export function replaceDataConfig(edit: ObjectEdit, text: string): void {
  const data = edit.child(edit.object, 'data');
  if (data !== undefined) data.config = Buffer.from(text, 'utf8').toString('base64');
}
