/**
 * The oracle of property (c): every string an object puts where Argo CD reads a destination,
 * with whose target it names, found without the code under test. It reads what Argo CD
 * reads: template destinations, list elements, `elementsYaml` decoded as go-yaml would
 * (YAML 1.1: `!!binary` decoded, every merge key applied), generator `values`, an
 * Application's destination, an AppProject's destinations, a cluster Secret's name and
 * server. Owners come from the generators' POOL; anything else names nobody.
 */
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/policy/types.js';
import { POOL, type Owner } from './arbitraries.js';

export interface NamedTarget {
  readonly path: string;
  readonly value: string;
  readonly owner: Owner;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function own(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function named(value: string, path: string, out: NamedTarget[]): void {
  const owner = POOL.get(value) ?? 'none';
  if (owner !== 'none') out.push({ path, value, owner });
}

/** Every string in a value, keys included, at any depth. */
function allStrings(value: unknown, path: string, out: NamedTarget[]): void {
  if (typeof value === 'string') named(value, path, out);
  else if (value instanceof Uint8Array) named(Buffer.from(value).toString('utf8'), path, out);
  else if (Array.isArray(value)) value.forEach((v: unknown, i) => allStrings(v, `${path}[${i}]`, out));
  else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      named(k, `${path}.${k}`, out);
      allStrings(v, `${path}.${k}`, out);
    }
  }
}

/** `elementsYaml` as go-yaml reads it (its first document), or nothing when it does not parse. */
function decodeElementsYaml(text: string): unknown {
  try {
    const [doc] = parseAllDocuments(text, {
      version: '1.1',
      merge: true,
      uniqueKeys: false,
      logLevel: 'silent',
    });
    if (doc === undefined || !('errors' in doc) || doc.errors.length > 0) return undefined;
    return doc.toJS({ maxAliasCount: -1 });
  } catch {
    return undefined;
  }
}

/**
 * A destination's `server` is looked up among servers and its `name` among names: a
 * cluster name written as `server` (or a URL as `name`) names nothing in Argo CD.
 */
function destinationOf(
  value: unknown,
  path: string,
  out: NamedTarget[],
  fold: (key: string) => string = (k) => k,
): void {
  if (!isObject(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const field = fold(key);
    if (
      (field !== 'server' && field !== 'name') ||
      typeof v !== 'string' ||
      /^https?:/i.test(v) !== (field === 'server')
    )
      continue;
    named(v, `${path}.${key}`, out);
  }
}

/**
 * A key as Go's encoding/json may match it against a field name (case-insensitive, with
 * the long s and the Kelvin sign folded), for ApplicationSets, whose nested generators
 * Argo CD decodes from raw JSON. Over-approximates on typed levels, where the API server
 * prunes case variants (and TG-AS-08 reports them): the oracle asks more, never less.
 * Applications and AppProjects are typed throughout, so their keys are read exactly.
 */
function goFold(key: string): string {
  return key
    .replace(/\u017f/g, 's')
    .replace(/\u212a/g, 'k')
    .toLowerCase();
}

/** Walks an ApplicationSet spec for destinations, elements, elementsYaml and values. */
function walkAppSet(value: unknown, path: string, out: NamedTarget[]): void {
  if (Array.isArray(value)) {
    value.forEach((v: unknown, i) => walkAppSet(v, `${path}[${i}]`, out));
    return;
  }
  if (!isObject(value)) return;
  for (const [key, child] of Object.entries(value)) {
    const childPath = `${path}.${key}`;
    const field = goFold(key);
    if (field === 'destination') destinationOf(child, childPath, out, goFold);
    else if (field === 'elements' || field === 'values') allStrings(child, childPath, out);
    else if (field === 'elementsyaml' && typeof child === 'string')
      allStrings(decodeElementsYaml(child), childPath, out);
    else walkAppSet(child, childPath, out);
  }
}

function secretField(object: KubeObject, field: string): string | undefined {
  const data = object.data;
  const stringData = object.stringData;
  if (isObject(stringData) && typeof own(stringData, field) === 'string')
    return String(own(stringData, field));
  if (isObject(data) && typeof own(data, field) === 'string')
    return Buffer.from(String(own(data, field)), 'base64').toString('utf8');
  return undefined;
}

/** Every destination-like string of an object, with its owner (owner `none` left out). */
export function namedTargets(object: KubeObject): NamedTarget[] {
  const out: NamedTarget[] = [];
  const spec = object.spec;
  switch (object.kind) {
    case 'ApplicationSet':
      walkAppSet(spec, 'spec', out);
      break;
    case 'Application':
      if (isObject(spec)) destinationOf(own(spec, 'destination'), 'spec.destination', out);
      break;
    case 'AppProject': {
      const list = isObject(spec) ? own(spec, 'destinations') : undefined;
      if (Array.isArray(list))
        list.forEach((d: unknown, i) => destinationOf(d, `spec.destinations[${i}]`, out));
      break;
    }
    case 'Secret':
      for (const field of ['name', 'server']) {
        const v = secretField(object, field);
        if (v !== undefined && /^https?:/i.test(v) === (field === 'server')) named(v, `data.${field}`, out);
      }
      break;
  }
  return out;
}

/** The targets among `found` that an object of `tenant` (undefined: a platform object) may not name. */
export function foreignTo(found: readonly NamedTarget[], tenant: string | undefined): NamedTarget[] {
  return found.filter((t) =>
    tenant === undefined ? t.owner === 'team-a' || t.owner === 'team-b' : t.owner !== tenant,
  );
}
