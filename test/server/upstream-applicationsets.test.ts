/**
 * Every ApplicationSet example of upstream Argo CD (../shared/fixtures/upstream/argocd/
 * applicationsets/), taken as tenant team-a's object, goes through POST /mutate and POST
 * /validate of the real webhook app: no server error, a well-formed AdmissionReview, every
 * `clusters` generator at any depth carrying the tenant selector after the patch, and the
 * patched object valid against the openAPIV3Schema of the real ApplicationSet CRD (ajv).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { isRecord } from '../../src/json.js';
import type { KubeObject } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { runHttp, webhookApp } from '../attacks/admission-flow.js';
import { clustersBodies, tenantSelectorOf as tenantSelector } from '../support/generator-walk.js';
import { loadTenants } from '../support/policy-fixtures.js';

/** ../shared, resolved from the repository root. */
const UPSTREAM = new URL('../../../shared/fixtures/upstream/argocd/', import.meta.url);
const EXAMPLES = new URL('applicationsets/', UPSTREAM);
const CRD = new URL('crds/applicationset-crd.yaml', UPSTREAM);

/**
 * Examples upstream gets wrong: they fail the CRD schema as published, before any mutation.
 * The test asserts that exactly these fail, so the list cannot rot.
 */
const UPSTREAM_WRONG: Readonly<Record<string, string>> = {
  'design-doc__applicationset.yaml':
    'the design doc predates the required spec.template.spec.project (the /mutate default fixes it)',
  'design-doc__applicationset-fasttemplate.yaml':
    'the design doc predates the required spec.template.spec.project (the /mutate default fixes it)',
  'design-doc__git-directory-discovery.yaml':
    'git generator without the required revision; template without project',
  'design-doc__git-directory-discovery-fasttemplate.yaml':
    'git generator without the required revision; template without project',
  'design-doc__git-files-discovery.yaml':
    'git generator without the required revision; template without project',
  'design-doc__git-files-discovery-fasttemplate.yaml':
    'git generator without the required revision; template without project',
  'design-doc__git-files-literal.yaml':
    'git generator without the required revision; template without project',
  'design-doc__git-files-literal-fasttemplate.yaml':
    'git generator without the required revision; template without project',
  'design-doc__proposal__filters.yaml':
    'a proposal: `filters` was never a generator field; git generator without revision',
  'docs__operator-manual__applicationset.yaml':
    "doc snippets pasted together: a clusterDecisionResource's fields beside it instead of inside, `revision` under source, `values` under scmProvider.github, `awsCodeCommit` under pullRequest",
};

type Schema = Record<string, unknown>;

/**
 * A Kubernetes structural schema as JSON Schema for ajv. `x-kubernetes-int-or-string` is an
 * integer or a string; `x-kubernetes-preserve-unknown-fields` keeps unknown fields; any other
 * object with properties refuses unknown fields, as kubectl's default strict field validation
 * does. Other `x-kubernetes-*` keywords say nothing about validity here and are dropped.
 */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!isRecord(node)) return node;
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-')) continue;
    if (key === 'properties' && isRecord(value))
      out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonSchema(v)]));
    else out[key] = toJsonSchema(value);
  }
  if (node['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (
    node.type === 'object' &&
    isRecord(node.properties) &&
    node.additionalProperties === undefined &&
    !preserve
  )
    out.additionalProperties = false;
  return out;
}

/** What the API server does before validation: fields set to null (none is nullable here) are dropped. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (!isRecord(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, dropNulls(v)]),
  );
}

function crdValidator(): ValidateFunction {
  const crd: unknown = parse(readFileSync(CRD, 'utf8'));
  const versions = isRecord(crd) && isRecord(crd.spec) ? crd.spec.versions : undefined;
  assert.ok(Array.isArray(versions), 'the CRD lists versions');
  const v1alpha1: unknown = versions.find((v: unknown) => isRecord(v) && v.name === 'v1alpha1');
  const schema =
    isRecord(v1alpha1) && isRecord(v1alpha1.schema) ? v1alpha1.schema.openAPIV3Schema : undefined;
  assert.ok(isRecord(schema), 'the CRD has an openAPIV3Schema for v1alpha1');
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const converted = toJsonSchema(schema);
  assert.ok(isRecord(converted));
  return ajv.compile(converted);
}

function schemaErrors(validate: ValidateFunction, object: unknown): string[] {
  if (validate(dropNulls(object))) return [];
  return (validate.errors ?? []).map(
    (e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
}

interface Example {
  readonly file: string;
  readonly index: number;
  readonly object: KubeObject;
}

function loadExamples(): Example[] {
  const out: Example[] = [];
  for (const file of readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    parseAllDocuments(readFileSync(new URL(file, EXAMPLES), 'utf8')).forEach((doc, index) => {
      const object: unknown = doc.toJS();
      if (isRecord(object) && object.kind === 'ApplicationSet') out.push({ file, index, object });
    });
  }
  return out;
}

/** The example as team-a's object: in team-a's namespace. */
function asTenantObject(object: KubeObject): KubeObject {
  const copy = structuredClone(object);
  const metadata = isRecord(copy.metadata) ? copy.metadata : (copy.metadata = {});
  metadata.namespace = 'team-a';
  return copy;
}

describe('upstream ApplicationSet examples through /mutate and /validate', () => {
  const examples = loadExamples();
  const validate = crdValidator();
  const settings = resolveSettings({});
  const { app } = webhookApp(loadTenants('dev-only', settings.argocdNamespace), settings);

  test('the examples and the CRD are there', () => {
    assert.ok(examples.length >= 50, `found ${examples.length} ApplicationSets under ${EXAMPLES.pathname}`);
  });

  test('exactly the listed examples fail the CRD schema before mutation', () => {
    const failing = [
      ...new Set(examples.filter((e) => schemaErrors(validate, e.object).length > 0).map((e) => e.file)),
    ].sort();
    assert.deepEqual(failing, Object.keys(UPSTREAM_WRONG).sort());
  });

  test('the schema check can fail: a misspelt field, a wrong type and an unknown generator field are caught', () => {
    const base = examples.find((e) => !(e.file in UPSTREAM_WRONG));
    assert.ok(base !== undefined);
    const broken = asTenantObject(base.object);
    assert.ok(isRecord(broken.spec));
    broken.spec.goTemplate = 'yes';
    broken.spec.generators = [{ clusters: { selectr: {} } }];
    const errors = schemaErrors(validate, broken).join('\n');
    assert.match(errors, /\/spec\/goTemplate must be boolean/);
    assert.match(errors, /additionalProperty":"selectr"/);
  });

  for (const example of examples) {
    test(`${example.file}${example.index > 0 ? ` #${example.index + 1}` : ''}`, async () => {
      const uid = `0b5e7a00-0000-4000-8000-${String(examples.indexOf(example)).padStart(12, '0')}`;
      const object = asTenantObject(example.object);
      const result = await runHttp(
        {
          uid,
          operation: 'CREATE',
          user: { username: 'alice', groups: ['team-a-admins', 'system:authenticated'] },
          object,
        },
        app,
      );
      for (const line of result.lines)
        assert.match(line, /^\[TG-[A-Z]+-\d\d\] \S/, 'every denial line names its rule');
      const mutated = result.object;
      assert.ok(mutated !== undefined);
      const bodies = clustersBodies(mutated);
      assert.equal(
        bodies.length,
        clustersBodies(object).length,
        'every clusters generator is still there after /mutate',
      );
      for (const { path, body } of bodies) {
        assert.equal(tenantSelector(body), 'team-a', `${path} carries the tenant selector after /mutate`);
      }
      const after = schemaErrors(validate, mutated);
      const reason = UPSTREAM_WRONG[example.file];
      if (reason === undefined) {
        assert.deepEqual(after, [], 'the mutated object validates against the ApplicationSet CRD');
      } else {
        const before = new Set(schemaErrors(validate, object));
        assert.deepEqual(
          after.filter((e) => !before.has(e)),
          [],
          `the mutation adds no schema error (upstream: ${reason})`,
        );
      }
    });
  }

  // Counted from the examples themselves, not summed by the tests above: a filtered or
  // reordered run cannot change what this says.
  test('the examples hold enough clusters generators for the selector checks above to mean something', () => {
    const clusters = examples.reduce((n, e) => n + clustersBodies(e.object).length, 0);
    assert.ok(clusters >= 15, `only ${clusters} clusters generators in the examples`);
  });
});
