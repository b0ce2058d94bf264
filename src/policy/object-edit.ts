/**
 * The edit `/mutate` makes of a request's object, copy on write: the object the request
 * brought is never written, and only the containers on the way to what changes are copied
 * (shallowly, once). Everything else stays the very same value in the edited object, so the
 * JSON Patch diff, which skips identical references, walks only what changed. A full copy
 * and a full diff cost half of a typical ApplicationSet's mutation, and grew with the size
 * of the object, not with what /mutate adds.
 *
 * The rules' `mutate` write only into what `child`, `at`, `ensureRecord` or `presentOrNew`
 * return: anything read from the object directly is the original's.
 * test/policy/object-edit.test.ts holds every mutation to deeply frozen objects and to
 * the patch a full copy gives.
 */
import { TenantGuardError } from '../errors.js';
import { isRecord } from '../json.js';
import type { KubeObject } from './types.js';

export interface ObjectEdit {
  /** The edited object: a copy of the original's top level, sharing all it did not write. */
  readonly object: KubeObject;
  /**
   * `parent[key]` made writable: the own object (not array) at `key` of `parent`, which must
   * itself be writable (`object`, or what this edit returned), copied on first use and put
   * in its place. Undefined when there is no own object there.
   */
  child(parent: Record<string, unknown>, key: string): Record<string, unknown> | undefined;
  /**
   * The object at `keys` below the top (array indexes as numbers), every container on the
   * way made writable. Undefined when a step is missing or of another type.
   */
  at(keys: readonly (string | number)[]): Record<string, unknown> | undefined;
  /** `child(parent, key)`, or a new empty object put at `key` when there is none. */
  ensureRecord(parent: Record<string, unknown>, key: string): Record<string, unknown>;
  /**
   * `child(parent, key)`, or a new empty object put at `key` when nothing is there (absent
   * or null); undefined when a value of another type is there, which is left alone.
   */
  presentOrNew(parent: Record<string, unknown>, key: string): Record<string, unknown> | undefined;
}

function ownValue(container: object, key: string | number): unknown {
  return Object.hasOwn(container, key) ? (container as Record<string | number, unknown>)[key] : undefined;
}

/** Sets an own data property: a key `__proto__` stays a key, never the prototype. */
function put(container: object, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(container, key, { value, enumerable: true, writable: true, configurable: true });
  else (container as Record<string, unknown>)[key] = value;
}

/**
 * A shallow copy keeping own enumerable keys in their order (spread and Object.assign
 * define a `__proto__` key as a key) and the prototype of a plain object (Object.prototype
 * or null); anything else (not what JSON or YAML parsing gives) is copied whole by
 * `structuredClone`, as a full copy did.
 */
function shallowCopy<T extends object>(value: T): T {
  if (Array.isArray(value)) return value.slice() as T;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === Object.prototype) return { ...value };
  if (prototype === null) return Object.assign(Object.create(null) as T, value);
  return structuredClone(value);
}

/** Containers an edit tracks in a list before it moves them to a Set. */
const SHORT_OWNED = 32;

/** The copy-on-write edit; see the module comment. */
class CopyOnWrite implements ObjectEdit {
  readonly object: KubeObject;
  /**
   * Every container this edit made: a list while short (a typical edit makes about ten, and
   * a scan of ten beats a Set's hashing), a Set past `SHORT_OWNED` (an edit of every
   * generator of a large ApplicationSet).
   */
  private owned: object[] | Set<object> = [];

  constructor(original: KubeObject) {
    this.object = shallowCopy(original);
    this.own(this.object);
  }

  child(parent: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
    this.mustOwn(parent, key);
    return isRecord(ownValue(parent, key))
      ? (this.writable(parent, key) as Record<string, unknown>)
      : undefined;
  }

  at(keys: readonly (string | number)[]): Record<string, unknown> | undefined {
    let current: object = this.object;
    for (const key of keys) {
      // An index steps into an array, a name into an object.
      if (typeof key === 'number' ? !Array.isArray(current) : !isRecord(current)) return undefined;
      const next = this.writable(current, key);
      if (next === undefined) return undefined;
      current = next;
    }
    return isRecord(current) ? current : undefined;
  }

  ensureRecord(parent: Record<string, unknown>, key: string): Record<string, unknown> {
    return this.child(parent, key) ?? this.created(parent, key);
  }

  presentOrNew(parent: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
    const value = ownValue(parent, key);
    return value === undefined || value === null ? this.created(parent, key) : this.child(parent, key);
  }

  /**
   * Refuses a parent this edit did not hand out. A rule writing into what it read from the
   * original is a bug: fail loudly (a 500, which the webhook's failurePolicy turns into a
   * denial), never edit the original.
   */
  private mustOwn(parent: object, key: string): void {
    if (!this.owns(parent))
      throw new TenantGuardError(
        'ERR_ADMISSION_INTERNAL',
        `object edit: the parent of "${key}" is not writable (a rule wrote into the request's object)`,
      );
  }

  /** A new empty object put at `key` of `parent`, which must be writable. */
  private created(parent: Record<string, unknown>, key: string): Record<string, unknown> {
    this.mustOwn(parent, key);
    const created: Record<string, unknown> = {};
    this.own(created);
    put(parent, key, created);
    return created;
  }

  private owns(container: object): boolean {
    return Array.isArray(this.owned) ? this.owned.includes(container) : this.owned.has(container);
  }

  private own(container: object): void {
    if (!Array.isArray(this.owned)) this.owned.add(container);
    else if (this.owned.length < SHORT_OWNED) this.owned.push(container);
    else this.owned = new Set([...this.owned, container]);
  }

  /** The container at `parent[key]` (own), copied into its place unless this edit made it. */
  private writable(parent: object, key: string | number): object | undefined {
    const value = ownValue(parent, key);
    if (typeof value !== 'object' || value === null) return undefined;
    if (this.owns(value)) return value;
    const copy = shallowCopy(value);
    this.own(copy);
    // An own key already (ownValue found it): assigning replaces its value, whatever its name.
    (parent as Record<string | number, unknown>)[key] = copy;
    return copy;
  }
}

/** Starts a copy-on-write edit of `original`, which it never writes. */
export function editObject(original: KubeObject): ObjectEdit {
  return new CopyOnWrite(original);
}

/** The object's `metadata.labels`, writable, made (with `metadata`) when missing. */
export function writableLabels(edit: ObjectEdit): Record<string, unknown> {
  return edit.ensureRecord(edit.ensureRecord(edit.object, 'metadata'), 'labels');
}
