/**
 * `/mutate`'s copy-on-write edit (src/policy/object-edit.ts): it never writes the object a
 * request brought, it copies only the containers on the way to what it adds, and what it
 * makes is exactly what the full copy edited in place made before it (same object, same
 * JSON Patch), for generated objects of every kind that /mutate edits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { isTenantGuardError } from '../../src/errors.js';
import { isRecord } from '../../src/json.js';
import { mutate } from '../../src/policy/evaluate.js';
import { cloneJson } from '../../src/policy/json-clone.js';
import { KIND_RULES } from '../../src/policy/kinds.js';
import { editObject, type ObjectEdit } from '../../src/policy/object-edit.js';
import type { KubeObject, PolicyRequest } from '../../src/policy/types.js';
import { applicationSetArb, clusterSecretArb, propertyContext } from '../property/arbitraries.js';
import { deepFreeze } from '../support/deep-freeze.js';

/** The edit /mutate made before copy on write: the caller's full copy, written in place. */
function inPlaceEdit(object: KubeObject): ObjectEdit {
  const own = (container: unknown, key: string | number): unknown =>
    typeof container === 'object' && container !== null && Object.hasOwn(container, key)
      ? (container as Record<string | number, unknown>)[key]
      : undefined;
  const child = (parent: Record<string, unknown>, key: string) => {
    const value = own(parent, key);
    return isRecord(value) ? value : undefined;
  };
  return {
    object,
    child,
    at(keys) {
      let current: unknown = object;
      for (const key of keys) {
        if (typeof key === 'number' ? !Array.isArray(current) : !isRecord(current)) return undefined;
        current = own(current, key);
      }
      return isRecord(current) ? current : undefined;
    },
    ensureRecord(parent, key) {
      return child(parent, key) ?? created(parent, key);
    },
    presentOrNew(parent, key) {
      // What the mutators did in place: `if (!isPresent(x.key)) x.key = {}`, then the object there.
      const value = own(parent, key);
      return value === undefined || value === null ? created(parent, key) : child(parent, key);
    },
  };
}

/** A new empty object at `key` of `parent` (a `__proto__` key stays a key). */
function created(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
  return value;
}

describe('editObject', () => {
  test('copies the containers on the way to a write, once, and shares the rest', () => {
    const original = deepFreeze({
      metadata: { name: 'x', labels: { a: '1' } },
      spec: { list: [{ keep: { deep: true } }, { touch: {} }], other: { big: [1, 2, 3] } },
    });
    const edit = editObject(original);
    const touched = edit.at(['spec', 'list', 1, 'touch']);
    assert.ok(touched !== undefined);
    touched.added = 'yes';
    assert.equal(edit.at(['spec', 'list', 1, 'touch']), touched, 'a container is copied once');
    const spec = edit.object.spec as { list: Array<Record<string, unknown>>; other: unknown };
    assert.deepEqual(spec.list[1], { touch: { added: 'yes' } });
    assert.notEqual(spec.list, original.spec.list);
    assert.equal(spec.list[0], original.spec.list[0], 'a sibling left alone is the same value');
    assert.equal(spec.other, original.spec.other);
    assert.equal(edit.object.metadata, original.metadata);
    assert.deepEqual(original.spec.list[1], { touch: {} }, 'the original is unchanged');
    assert.deepEqual(jsonPatch.compare(original, edit.object), [
      { op: 'add', path: '/spec/list/1/touch/added', value: 'yes' },
    ]);
  });

  test('steps only into what is there and of the right type', () => {
    const edit = editObject(deepFreeze({ spec: { list: [1, 'x', null], map: { a: 1 } } }));
    assert.equal(edit.at(['spec', 'list', 0]), undefined, 'a number is no container');
    assert.equal(edit.at(['spec', 'list', 5]), undefined, 'past the end');
    assert.equal(edit.at(['spec', 'list', 'length']), undefined, 'a name never steps into an array');
    assert.equal(edit.at(['spec', 'map', 0]), undefined, 'an index never steps into an object');
    assert.equal(edit.at(['spec', 'missing']), undefined);
    assert.equal(edit.at(['spec', 'list']), undefined, 'an array is not the object asked for');
    assert.equal(edit.child(edit.object, 'nothing'), undefined);
    assert.equal(edit.at(['toString']), undefined, "an inherited name is not the object's");
  });

  test('ensureRecord creates a missing container, replaces a value of another type, keeps an object', () => {
    const original = deepFreeze({ a: 'text', b: { c: 1 } } as KubeObject);
    const edit = editObject(original);
    assert.deepEqual(edit.ensureRecord(edit.object, 'a'), {});
    assert.deepEqual(edit.ensureRecord(edit.object, 'new'), {});
    const b = edit.ensureRecord(edit.object, 'b');
    b.d = 2;
    assert.deepEqual(edit.object, { a: {}, b: { c: 1, d: 2 }, new: {} });
    assert.deepEqual(original, { a: 'text', b: { c: 1 } });
  });

  test('a __proto__ key stays a key, in copies and in new containers, never the prototype', () => {
    const original = deepFreeze(
      JSON.parse('{"metadata":{"__proto__":{"polluted":true},"labels":{}}}') as KubeObject,
    );
    const edit = editObject(original);
    const proto = edit.at(['metadata', '__proto__']);
    assert.ok(proto !== undefined);
    proto.more = 1;
    const created = edit.ensureRecord(edit.ensureRecord(edit.object, 'spec'), '__proto__');
    created.x = 1;
    const metadata = edit.object.metadata as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(metadata), Object.prototype);
    assert.deepEqual(Object.keys(metadata), ['__proto__', 'labels']);
    assert.deepEqual(metadata.__proto__, { polluted: true, more: 1 });
    const spec = edit.object.spec as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(spec), Object.prototype);
    assert.ok(Object.hasOwn(spec, '__proto__'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  test('a write through a container it did not hand out is refused, not made in the original', () => {
    const original = deepFreeze({ spec: { a: { b: {} } } } as KubeObject);
    const edit = editObject(original);
    assert.throws(
      () => edit.child(original.spec as Record<string, unknown>, 'a'),
      (e: unknown) => isTenantGuardError(e, 'ERR_ADMISSION_INTERNAL') && /not writable/.test(e.message),
    );
  });
});

/** A CREATE of `object` by an owner of team-a. */
function createBy(kind: PolicyRequest['kind'], object: KubeObject): PolicyRequest {
  return {
    uid: 'u',
    kind,
    operation: 'CREATE',
    namespace: 'team-a',
    name: 'x',
    object,
    user: { username: 'alice', groups: ['team-a-admins'] },
    dryRun: false,
  };
}

describe('/mutate with copy on write makes what the full copy made', () => {
  const context = propertyContext();
  const tenant = context.registry.tenant('team-a');
  assert.ok(tenant !== undefined);

  const sameAsFullCopy = (object: KubeObject, kind: 'ApplicationSet' | 'ClusterSecret') => {
    const original = deepFreeze(cloneJson(object));
    const scope = { request: createBy(kind, original), tenant, role: 'human' as const, context };
    const rules = KIND_RULES[kind];
    const cow = editObject(original);
    rules.mutate(cow, scope);
    const full = inPlaceEdit(cloneJson(object));
    rules.mutate(full, scope);
    assert.deepStrictEqual(cow.object, full.object);
    assert.deepStrictEqual(jsonPatch.compare(original, cow.object), jsonPatch.compare(original, full.object));
  };

  test('ApplicationSets', () => {
    fc.assert(
      fc.property(applicationSetArb, (o) => sameAsFullCopy(o, 'ApplicationSet')),
      { numRuns: 2000 },
    );
  });

  test('cluster Secrets', () => {
    fc.assert(
      fc.property(clusterSecretArb, (o) => sameAsFullCopy(o, 'ClusterSecret')),
      { numRuns: 2000 },
    );
  });

  test('a container reached by two paths (a YAML alias, in `tenant-guard check`) is edited at both, never in place', () => {
    const shared = { selector: { matchLabels: { stage: 'dev' } } };
    const object = deepFreeze({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'x', namespace: 'team-a' },
      spec: {
        generators: [{ clusters: shared }, { clusters: shared }],
        template: { metadata: { name: '{{.name}}' }, spec: { project: 'team-a' } },
      },
    });
    const edited = mutate(createBy('ApplicationSet', object), context).object;
    const generators = (edited?.spec as { generators: Array<{ clusters: typeof shared }> }).generators;
    for (const generator of generators)
      assert.deepEqual(generator.clusters.selector.matchLabels, {
        stage: 'dev',
        'tenantguard.dev/tenant': 'team-a',
      });
    assert.notEqual(generators[0]!.clusters, generators[1]!.clusters);
    assert.deepEqual(shared, { selector: { matchLabels: { stage: 'dev' } } });
  });

  test("the typical ApplicationSet's untouched parts stay the request's own values", () => {
    const object = deepFreeze({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'x', namespace: 'team-a' },
      spec: {
        generators: [
          {
            matrix: {
              generators: [
                { clusters: {} },
                { git: { repoURL: 'https://git.example.com/a.git', directories: [{ path: '*' }] } },
              ],
            },
          },
        ],
        template: {
          metadata: { name: '{{.name}}' },
          spec: {
            project: 'team-a',
            source: { repoURL: 'https://git.example.com/a.git', path: '{{.path.path}}' },
            destination: { name: '{{.name}}', namespace: 'apps' },
          },
        },
      },
    });
    const edited = mutate(createBy('ApplicationSet', object), context).object;
    assert.ok(edited !== undefined);
    const at = (o: unknown, ...keys: (string | number)[]) =>
      keys.reduce<unknown>((c, k) => (c as Record<string | number, unknown>)[k], o);
    const template = ['spec', 'template', 'spec'] as const;
    assert.equal(at(edited, ...template, 'source'), at(object, ...template, 'source'));
    assert.equal(at(edited, ...template, 'destination'), at(object, ...template, 'destination'));
    const git = ['spec', 'generators', 0, 'matrix', 'generators', 1] as const;
    assert.equal(at(edited, ...git), at(object, ...git));
    assert.deepEqual(
      jsonPatch.compare(object, edited).map((op) => op.path),
      [
        '/spec/template/metadata/labels',
        '/spec/generators/0/matrix/generators/0/clusters/selector',
        '/metadata/labels',
      ],
    );
  });
});
