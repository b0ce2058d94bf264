/**
 * The in-memory object store behind the test API server: any registered resource, one
 * global monotonically increasing resourceVersion, a bounded event history for watches,
 * optimistic concurrency, uid, creationTimestamp and generation as the API server keeps them,
 * and etcd's bound on an object's stored size (api-size.ts).
 */
import { randomUUID } from 'node:crypto';
import {
  ApiStatusError,
  alreadyExists,
  badRequest,
  conflict,
  expired,
  invalid,
  notFound,
  type StatusBody,
  type StatusTarget,
} from './api-status.js';
import { ETCD_MAX_REQUEST_BYTES, goJsonBytes, requestTooLarge } from './api-size.js';
import type { ObjectPredicate } from './selectors.js';

/** A resource the server serves. */
export interface ResourceType {
  /** API group; `''` for the core group (`/api/v1`). */
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Has a `/status` subresource: the main PUT keeps `status`, the status PUT keeps the rest. */
  statusSubresource?: boolean;
  /** PUT without `metadata.resourceVersion` allowed (core types); custom resources refuse it. Default: group is core. */
  unconditionalUpdate?: boolean;
}

export type KubeJson = Record<string, unknown>;
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** One line of a watch stream. */
export interface WatchEvent {
  type: WatchEventType;
  object: KubeJson | StatusBody;
}

interface HistoryEntry {
  rv: number;
  typeKey: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeJson;
  old: KubeJson | undefined;
}

interface Watcher {
  typeKey: string;
  namespace: string | undefined;
  predicate: ObjectPredicate;
  send(event: WatchEvent): void;
}

export function typeKeyOf(type: Pick<ResourceType, 'group' | 'plural'>): string {
  return `${type.group}/${type.plural}`;
}

export function apiVersionOf(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

function meta(object: KubeJson): KubeJson {
  const m = object.metadata;
  if (typeof m === 'object' && m !== null && !Array.isArray(m)) return m as KubeJson;
  const created: KubeJson = {};
  object.metadata = created;
  return created;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function hasFinalizers(object: KubeJson): boolean {
  const f = meta(object).finalizers;
  return Array.isArray(f) && f.length > 0;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Secrets: the API server folds `stringData` into `data` (base64) before storing. */
function foldStringData(type: ResourceType, object: KubeJson): void {
  if (type.group !== '' || type.plural !== 'secrets') return;
  const sd = object.stringData;
  if (typeof sd === 'object' && sd !== null) {
    const data = typeof object.data === 'object' && object.data !== null ? (object.data as KubeJson) : {};
    for (const [k, v] of Object.entries(sd)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
    object.data = data;
  }
  delete object.stringData;
}

/** Options of `ObjectStore`. */
export interface ObjectStoreOptions {
  /** Events kept for watches; a watch from an older resourceVersion gets 410. Default 1000. */
  historyLimit?: number;
  now?: () => number;
  /** Most bytes of an object as stored (Go's JSON); a larger write is refused. Default etcd's 1.5 MiB. */
  maxObjectBytes?: number;
}

/** See the file comment. Objects go in and out as deep copies. */
export class ObjectStore {
  private rv = 0;
  private historyStart = 0;
  private readonly history: HistoryEntry[] = [];
  private readonly objects = new Map<string, Map<string, KubeJson>>();
  private readonly watchers = new Set<Watcher>();
  private readonly historyLimit: number;
  private readonly now: () => number;
  private readonly maxObjectBytes: number;

  constructor(options: ObjectStoreOptions = {}) {
    this.historyLimit = options.historyLimit ?? 1000;
    this.now = options.now ?? Date.now;
    this.maxObjectBytes = options.maxObjectBytes ?? ETCD_MAX_REQUEST_BYTES;
  }

  /** etcd refuses an object over its size bound (not reached by a dry run). */
  private checkSize(object: KubeJson): void {
    // At most 6 bytes a UTF-16 unit: most objects are too small to need counting.
    if (JSON.stringify(object).length * 6 <= this.maxObjectBytes) return;
    if (goJsonBytes(object) > this.maxObjectBytes) throw requestTooLarge();
  }

  /** The current global resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  private bucket(type: ResourceType): Map<string, KubeJson> {
    const key = typeKeyOf(type);
    let b = this.objects.get(key);
    if (b === undefined) {
      b = new Map();
      this.objects.set(key, b);
    }
    return b;
  }

  private target(type: ResourceType, name: string): StatusTarget {
    return { name, group: type.group, plural: type.plural };
  }

  private keyOf(type: ResourceType, namespace: string | undefined, name: string): string {
    return type.namespaced ? `${namespace ?? ''}/${name}` : name;
  }

  /** Lists objects (namespace undefined: all namespaces) with the list's resourceVersion. */
  list(
    type: ResourceType,
    namespace: string | undefined,
    predicate: ObjectPredicate,
  ): { items: KubeJson[]; resourceVersion: string } {
    const items = [...this.bucket(type).values()]
      .filter((o) => namespace === undefined || meta(o).namespace === namespace)
      .filter(predicate)
      .sort(
        (a, b) =>
          String(meta(a).namespace ?? '').localeCompare(String(meta(b).namespace ?? '')) ||
          String(meta(a).name).localeCompare(String(meta(b).name)),
      )
      .map(clone);
    return { items, resourceVersion: String(this.rv) };
  }

  get(type: ResourceType, namespace: string | undefined, name: string): KubeJson {
    const found = this.bucket(type).get(this.keyOf(type, namespace, name));
    if (found === undefined) throw notFound(this.target(type, name));
    return clone(found);
  }

  /** Creates an object (`generateName` honoured). @throws 409 AlreadyExists, 400 on a namespace mismatch. */
  create(type: ResourceType, namespace: string | undefined, input: KubeJson, dryRun = false): KubeJson {
    const object = clone(input);
    const m = meta(object);
    if (str(m.name) === undefined && str(m.generateName) !== undefined)
      m.name = `${String(m.generateName)}${randomUUID().slice(0, 5)}`;
    const name = str(m.name);
    if (name === undefined)
      throw invalid(
        this.target(type, ''),
        type.kind,
        'metadata.name',
        'Required value: name or generateName is required',
      );
    if (type.namespaced) {
      if (m.namespace !== undefined && m.namespace !== namespace)
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      m.namespace = namespace;
    } else delete m.namespace;
    const key = this.keyOf(type, namespace, name);
    if (this.bucket(type).has(key)) throw alreadyExists(this.target(type, name));
    foldStringData(type, object);
    object.apiVersion = apiVersionOf(type);
    object.kind = type.kind;
    m.uid = randomUUID();
    m.creationTimestamp = new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    if ('spec' in object) m.generation = 1;
    delete m.deletionTimestamp;
    if (dryRun) return object;
    this.checkSize(object);
    m.resourceVersion = String(++this.rv);
    this.bucket(type).set(key, object);
    this.record(type, 'ADDED', object, undefined);
    return clone(object);
  }

  /**
   * Replaces an object (PUT), or its status (`subresource: 'status'`).
   * @throws 404, 409 Conflict on a resourceVersion mismatch, 422 when a custom resource omits it.
   */
  update(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    input: KubeJson,
    options: { subresource?: 'status'; dryRun?: boolean } = {},
  ): KubeJson {
    const key = this.keyOf(type, namespace, name);
    const current = this.bucket(type).get(key);
    if (current === undefined) throw notFound(this.target(type, name));
    const object = clone(input);
    const m = meta(object);
    if (m.name !== undefined && m.name !== name)
      throw badRequest(
        `the name of the object (${String(m.name)}) does not match the name on the URL (${name})`,
      );
    const wanted = str(m.resourceVersion);
    const unconditional = type.unconditionalUpdate ?? type.group === '';
    if (wanted === undefined && !unconditional)
      throw invalid(
        this.target(type, name),
        type.kind,
        'metadata.resourceVersion',
        'Invalid value: 0x0: must be specified for an update',
      );
    if (wanted !== undefined && wanted !== meta(current).resourceVersion)
      throw conflict(this.target(type, name));
    return this.commit(type, key, current, object, options);
  }

  /** Writes `next` over `current` after the checks of `update`/`patch` passed. */
  commit(
    type: ResourceType,
    key: string,
    current: KubeJson,
    next: KubeJson,
    options: { subresource?: 'status'; dryRun?: boolean } = {},
  ): KubeJson {
    const cm = meta(current);
    let object: KubeJson;
    if (options.subresource === 'status') {
      object = clone(current);
      object.status = clone(next.status);
    } else {
      object = next;
      foldStringData(type, object);
      if (type.statusSubresource === true) {
        if ('status' in current) object.status = clone(current.status);
        else delete object.status;
      }
    }
    const m = meta(object);
    object.apiVersion = apiVersionOf(type);
    object.kind = type.kind;
    m.name = cm.name;
    if (type.namespaced) m.namespace = cm.namespace;
    m.uid = cm.uid;
    m.creationTimestamp = cm.creationTimestamp;
    if (cm.deletionTimestamp !== undefined) m.deletionTimestamp = cm.deletionTimestamp;
    if (typeof cm.generation === 'number')
      m.generation = cm.generation + (sameJson(current.spec, object.spec) ? 0 : 1);
    else if ('spec' in object) m.generation = 1;
    if (options.dryRun === true) return object;
    m.resourceVersion = cm.resourceVersion;
    if (sameJson(current, object)) return clone(current); // a no-op write keeps the resourceVersion
    this.checkSize(object);
    if (m.deletionTimestamp !== undefined && !hasFinalizers(object)) {
      // The last finalizer is gone from an object being deleted: it goes now.
      this.bucket(type).set(key, object);
      return this.delete(type, str(m.namespace), String(m.name));
    }
    m.resourceVersion = String(++this.rv);
    this.bucket(type).set(key, object);
    this.record(type, 'MODIFIED', object, current);
    return clone(object);
  }

  /** Key of an object for `commit`. */
  storeKey(type: ResourceType, namespace: string | undefined, name: string): string {
    return this.keyOf(type, namespace, name);
  }

  /** Deletes an object and returns its last state (with a new resourceVersion). */
  delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    options: { dryRun?: boolean; preconditionResourceVersion?: string } = {},
  ): KubeJson {
    const key = this.keyOf(type, namespace, name);
    const current = this.bucket(type).get(key);
    if (current === undefined) throw notFound(this.target(type, name));
    if (
      options.preconditionResourceVersion !== undefined &&
      options.preconditionResourceVersion !== meta(current).resourceVersion
    ) {
      throw conflict(this.target(type, name));
    }
    if (options.dryRun === true) return clone(current);
    if (hasFinalizers(current)) {
      // Finalizers hold the object: it only gets a deletionTimestamp until they are removed.
      if (meta(current).deletionTimestamp !== undefined) return clone(current);
      const marked = clone(current);
      meta(marked).deletionTimestamp = new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
      meta(marked).resourceVersion = String(++this.rv);
      this.bucket(type).set(key, marked);
      this.record(type, 'MODIFIED', marked, current);
      return clone(marked);
    }
    const gone = clone(current);
    meta(gone).resourceVersion = String(++this.rv);
    this.bucket(type).delete(key);
    this.record(type, 'DELETED', gone, current);
    return clone(gone);
  }

  private record(
    type: ResourceType,
    kind: HistoryEntry['type'],
    object: KubeJson,
    old: KubeJson | undefined,
  ): void {
    const entry: HistoryEntry = {
      rv: this.rv,
      typeKey: typeKeyOf(type),
      type: kind,
      object: clone(object),
      old: old === undefined ? undefined : clone(old),
    };
    this.history.push(entry);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped !== undefined) this.historyStart = dropped.rv;
    }
    for (const w of this.watchers) this.deliver(w, entry);
  }

  /** Forgets all history: any watch from a resourceVersion before now gets 410 Expired. */
  compact(): void {
    this.history.length = 0;
    this.historyStart = this.rv;
  }

  private deliver(w: Watcher, e: HistoryEntry): void {
    if (w.typeKey !== e.typeKey) return;
    const inNs = (o: KubeJson | undefined): boolean =>
      o !== undefined && (w.namespace === undefined || meta(o).namespace === w.namespace);
    const now = inNs(e.object) && w.predicate(e.object);
    const before = e.old !== undefined && inNs(e.old) && w.predicate(e.old);
    if (e.type === 'DELETED') {
      if (before) w.send({ type: 'DELETED', object: clone(e.object) });
    } else if (now) {
      w.send({ type: before ? 'MODIFIED' : 'ADDED', object: clone(e.object) });
    } else if (before) {
      // No longer selected: the watch cache reports it as deleted.
      w.send({ type: 'DELETED', object: clone(e.object) });
    }
  }

  /**
   * Starts a watch. From resourceVersion '' or '0': synthetic ADDED events for the current
   * objects, then changes. From N: every change after N, or a 410 Expired when N is older
   * than the kept history (`'expired'` with the Status to send).
   */
  watch(
    type: ResourceType,
    namespace: string | undefined,
    resourceVersion: string | undefined,
    predicate: ObjectPredicate,
    send: (event: WatchEvent) => void,
  ): { stop(): void } | { expired: StatusBody } {
    const w: Watcher = { typeKey: typeKeyOf(type), namespace, predicate, send };
    if (resourceVersion === undefined || resourceVersion === '' || resourceVersion === '0') {
      const current = [...this.bucket(type).values()].filter(
        (o) => (namespace === undefined || meta(o).namespace === namespace) && predicate(o),
      );
      current.sort((a, b) => Number(meta(a).resourceVersion) - Number(meta(b).resourceVersion));
      for (const o of current) send({ type: 'ADDED', object: clone(o) });
    } else {
      const from = Number(resourceVersion);
      if (!Number.isInteger(from) || from < 0)
        throw badRequest(`invalid resource version: ${resourceVersion}`);
      if (from < this.historyStart) return { expired: expired(resourceVersion, this.historyStart + 1) };
      for (const e of this.history) if (e.rv > from) this.deliver(w, e);
    }
    this.watchers.add(w);
    return { stop: () => this.watchers.delete(w) };
  }
}

export { ApiStatusError };
