/**
 * Loads the attack catalogue: one YAML file per attack under `manifests/`, each opening with
 * a comment that says what it tries and why it would work without tenant-guard. Every YAML
 * document of a file is one write, in order (most attacks are one write; some show what
 * the ApplicationSet controller does next):
 *
 *   requester: { user: alice, groups: [team-a-admins] }
 *   operation: CREATE            # CREATE | UPDATE | DELETE
 *   expect:
 *     denied: [TG-AS-02]         # rule ids that must all be among the denial lines
 *     # or: allowed: true, warnings: [TG-AS-03]
 *   object: { ... }              # absent on DELETE
 *   oldObject: { ... }           # UPDATE and DELETE
 *   knownHole: why it passes     # optional: a hole reported but not closed yet (test is `todo`)
 *
 * Secrets are written with `stringData` for reading; `secretVariants` derives what the API
 * server sends (`data` only, base64) and keeps the `stringData` form too.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { isRecord } from '../../src/json.js';
import type { KubeObject, Operation, UserInfo } from '../../src/policy/types.js';
import type { WriteRequest } from './admission-flow.js';

export const MANIFESTS = new URL('./manifests/', import.meta.url);
export const ATTACK_TENANTS = new URL('./tenants.yaml', import.meta.url);

/** What one write must come to. */
export type Expectation =
  | { readonly allowed: false; readonly rules: readonly string[] }
  | { readonly allowed: true; readonly warnings: readonly string[] };

/** One write of an attack. */
export interface AttackStep {
  readonly operation: Operation;
  readonly user: UserInfo;
  readonly object: KubeObject | undefined;
  readonly oldObject: KubeObject | undefined;
  readonly expect: Expectation;
  /**
   * Set when the write is known to get through today: why. The test then runs as a `todo`
   * (reported, not failing the suite) until the hole is closed.
   */
  readonly knownHole: string | undefined;
}

export interface Attack {
  readonly file: string;
  /** The opening comment, without the `#`. */
  readonly header: string;
  readonly steps: readonly AttackStep[];
}

const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE'];

function stringList(value: unknown, what: string): string[] {
  assert.ok(
    Array.isArray(value) && value.every((v) => typeof v === 'string'),
    `${what} is a list of strings`,
  );
  return value.map(String);
}

function optionalObject(value: unknown, what: string): KubeObject | undefined {
  if (value === undefined || value === null) return undefined;
  assert.ok(isRecord(value), `${what} is an object`);
  return value;
}

function readStep(doc: unknown, where: string): AttackStep {
  assert.ok(isRecord(doc), `${where} is a mapping`);
  const requester = doc.requester;
  assert.ok(isRecord(requester) && typeof requester.user === 'string', `${where}: requester.user is set`);
  const operation = OPERATIONS.find((op) => op === doc.operation);
  assert.ok(operation !== undefined, `${where}: operation is one of ${OPERATIONS.join(', ')}`);
  const expect = doc.expect;
  assert.ok(isRecord(expect), `${where}: expect is set`);
  let expectation: Expectation;
  if (expect.allowed === true) {
    expectation = {
      allowed: true,
      warnings: expect.warnings === undefined ? [] : stringList(expect.warnings, `${where}: expect.warnings`),
    };
  } else {
    const rules = stringList(expect.denied, `${where}: expect.denied`);
    assert.ok(rules.length > 0, `${where}: expect.denied names at least one rule`);
    expectation = { allowed: false, rules };
  }
  const object = optionalObject(doc.object, `${where}: object`);
  const oldObject = optionalObject(doc.oldObject, `${where}: oldObject`);
  assert.equal(
    object !== undefined,
    operation !== 'DELETE',
    `${where}: object is given unless the operation is DELETE`,
  );
  assert.equal(
    oldObject !== undefined,
    operation !== 'CREATE',
    `${where}: oldObject is given for UPDATE and DELETE`,
  );
  const knownHole = typeof doc.knownHole === 'string' ? doc.knownHole : undefined;
  const user = {
    username: requester.user,
    groups: stringList(requester.groups ?? [], `${where}: requester.groups`),
  };
  return { operation, user, object, oldObject, expect: expectation, knownHole };
}

function headerOf(text: string): string {
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('#')) break;
    lines.push(line.replace(/^#\s?/, ''));
  }
  return lines.join('\n');
}

/** Every attack of the catalogue, loaded fresh, in file-name order. */
export function loadAttacks(): Attack[] {
  return readdirSync(MANIFESTS)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => {
      const text = readFileSync(new URL(file, MANIFESTS), 'utf8');
      const docs = parseAllDocuments(text);
      const steps = docs.map((d, i) => {
        assert.equal(
          d.errors.length,
          0,
          `${file} document ${i + 1}: ${d.errors.map((e) => e.message).join('; ')}`,
        );
        return readStep(d.toJS(), `${file} document ${i + 1}`);
      });
      return { file, header: headerOf(text), steps };
    });
}

function isSecret(object: KubeObject | undefined): boolean {
  return object !== undefined && object.apiVersion === 'v1' && object.kind === 'Secret';
}

/** A Secret as the API server stores and sends it: `stringData` folded into base64 `data`. */
export function foldStringData(object: KubeObject): KubeObject {
  const out = structuredClone(object);
  const stringData = out.stringData;
  delete out.stringData;
  if (!isRecord(stringData)) return out;
  const data: Record<string, unknown> = isRecord(out.data) ? out.data : {};
  for (const [key, value] of Object.entries(stringData))
    data[key] = Buffer.from(String(value), 'utf8').toString('base64');
  out.data = data;
  return out;
}

/** The form a write is sent in: as written, or (Secrets) with `data` only. */
export type Variant = 'as written' | 'data only' | 'stringData';

/**
 * The writes to send for one step. Other kinds: the step as written. A Secret: once with
 * `data` only (what the API server sends) and once with `stringData` as written; the old
 * object always comes from storage, so it is `data` only.
 */
export function secretVariants(
  step: AttackStep,
  uid: string,
): Array<{ variant: Variant; write: WriteRequest }> {
  const oldObject =
    step.oldObject !== undefined && isSecret(step.oldObject)
      ? foldStringData(step.oldObject)
      : step.oldObject;
  const base = {
    uid,
    operation: step.operation,
    user: step.user,
    ...(oldObject === undefined ? {} : { oldObject }),
  };
  if (!isSecret(step.object ?? step.oldObject))
    return [
      {
        variant: 'as written',
        write: { ...base, ...(step.object === undefined ? {} : { object: step.object }) },
      },
    ];
  if (step.object === undefined) return [{ variant: 'data only', write: base }];
  return [
    { variant: 'data only', write: { ...base, object: foldStringData(step.object) } },
    { variant: 'stringData', write: { ...base, object: structuredClone(step.object) } },
  ];
}
