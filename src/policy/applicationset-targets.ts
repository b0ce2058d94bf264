/**
 * TG-AS-03 (literal destinations of every template) and TG-AS-04 (foreign targets among
 * generator parameters). A tenant's ApplicationSet may name only its own clusters, never
 * the control plane; a platform ApplicationSet (no tenant) may name no tenant's cluster.
 * Computed values (`{{...}}`) are left to the Application rules, which check every
 * generated Application.
 */
import { isAlias, isMap, isNode, isScalar, isSeq, type Document, type Scalar } from 'yaml';
import { parseYamlWithin } from '../yaml-depth.js';
import { trimEndOf, trimStartOf } from './text-trim.js';
import type { TenantRegistry } from '../tenancy/registry.js';
import type { Tenant } from '../tenancy/tenant.js';
import type { GeneratorVisit, TemplateVisit } from './applicationset-walk.js';
import { GENERATOR_KINDS, isPresent } from './applicationset-walk.js';
import type { TemplateParts } from './applicationset-templates.js';
import { isControlPlaneTarget, serverKey } from '../tenancy/cluster-url.js';
import { isTemplated, joinPath, show } from './object-paths.js';
import { isRecord } from '../json.js';
import type { Violation } from './types.js';
import { violation } from './types.js';
import { listUnbuilt } from './finding-budget.js';
import { oncePerTenant } from './destination.js';

/** Whose clusters may be named: the tenant's, or (no tenant) none of any tenant's. */
export interface TargetScope {
  readonly tenant: Tenant | undefined;
  readonly registry: TenantRegistry;
}

/** What TG-AS-03/04 found: violations, and admission warnings for computed targets. */
export interface TargetFindings {
  readonly violations: Violation[];
  readonly warnings: string[];
}

/** The tenant's cluster names as these messages list them (built once per tenant). */
const tenantClusterNames = oncePerTenant(
  (t) => t.clusters.map((c) => c.name).join(', ') || '(none registered)',
);

/** The tenant's cluster servers as these messages list them (built once per tenant). */
const tenantServers = oncePerTenant((t) => t.clusters.map((c) => c.server).join(', ') || '(none registered)');

/** Why a literal destination field is not allowed, or undefined when it is. */
function destinationProblem(field: 'name' | 'server', value: string, scope: TargetScope): string | undefined {
  const { tenant, registry } = scope;
  if (tenant === undefined) {
    const owned = field === 'name' ? registry.clusterByName(value) : registry.clusterByServer(value);
    return owned === undefined
      ? undefined
      : `is a cluster of tenant "${owned.tenant.name}"; an ApplicationSet of no tenant may target no tenant's cluster`;
  }
  const allowed = field === 'name' ? tenantClusterNames(tenant) : tenantServers(tenant);
  if (isControlPlaneTarget(value))
    return `is the control plane, which no tenant may target; use one of: ${allowed}`;
  const own =
    field === 'name'
      ? tenant.clusters.some((c) => c.name === value)
      : tenant.clusters.some((c) => c.serverKey === serverKey(value));
  return own ? undefined : `is not a cluster of tenant "${tenant.name}"; use one of: ${allowed}`;
}

/** TG-AS-03 for one template: literal `destination.server`/`name`, and not both. */
export function checkDestination(
  visit: TemplateVisit,
  parts: TemplateParts,
  scope: TargetScope,
): TargetFindings {
  const violations: Violation[] = [];
  const warnings: string[] = [];
  const destPath = joinPath(joinPath(visit.path, 'spec'), 'destination');
  const destination = parts.spec?.destination;
  if (!isPresent(destination)) return { violations, warnings };
  if (!isRecord(destination))
    return {
      violations: [violation('TG-REQ-01', destPath, 'is not an object; the rules cannot read it')],
      warnings,
    };
  let set = 0;
  for (const field of ['server', 'name'] as const) {
    const value = destination[field];
    const path = joinPath(destPath, field);
    if (!isPresent(value) || value === '') continue;
    set++;
    if (typeof value !== 'string') {
      violations.push(
        violation('TG-REQ-01', path, `${show(value)} is not a string; the rules cannot read it`),
      );
    } else if (isTemplated(value)) {
      warnings.push(
        `[TG-AS-03] ${path} ${show(value)} is computed; each generated Application is checked by the Application rules (TG-APP-02)`,
      );
    } else {
      const problem = destinationProblem(field, value, scope);
      if (problem !== undefined) violations.push(violation('TG-AS-03', path, `${show(value)} ${problem}`));
    }
  }
  if (set === 2)
    violations.push(violation('TG-AS-03', destPath, 'sets both server and name; set exactly one'));
  return { violations, warnings };
}

const namesControlPlane = () => 'names the control plane, which no tenant may target';

/**
 * Why a parameter value is a foreign target (a function that writes it: a finding past the
 * request's budget never does), or undefined when it is not.
 */
function parameterProblem(value: string, scope: TargetScope): (() => string) | undefined {
  const { tenant, registry } = scope;
  if (tenant !== undefined && isControlPlaneTarget(value)) return namesControlPlane;
  const owned = registry.clusterByName(value) ?? registry.clusterByServer(value);
  if (owned === undefined || owned.tenant.name === tenant?.name) return undefined;
  return tenant === undefined
    ? () =>
        `names a cluster of tenant "${owned.tenant.name}"; an ApplicationSet of no tenant may target no tenant's cluster`
    : () =>
        `names a cluster of another tenant; tenant "${tenant.name}" may name only its own clusters: ${tenantClusterNames(tenant)}`;
}

/**
 * How deep parameter values are walked. A value nested deeper is not inspected, so it is
 * denied (TG-AS-04), never skipped: Argo CD flattens and renders values at any depth.
 */
export const MAX_VALUE_DEPTH = 32;

/** Elements of `elementsYaml` and list items walked per generator; more is denied. */
const MAX_YAML_NODES = 20_000;

/** Explicit YAML tags Argo CD's go-yaml reads as the plain scalar they look like. */
const CORE_SCALAR_TAGS: ReadonlySet<string> = new Set(
  ['str', 'int', 'float', 'bool', 'null'].map((t) => `tag:yaml.org,2002:${t}`),
);

type Check = (value: string, path: string) => void;
type Deny = (path: string, detail: string) => void;

function tooDeep(): string {
  return `nests values more than ${MAX_VALUE_DEPTH} levels deep; the webhook does not inspect deeper, and Argo CD reads every level: flatten the values`;
}

/**
 * Calls `check` for every string in a JSON value: object keys and values, list items. A
 * value nested deeper than MAX_VALUE_DEPTH is denied through `deny`.
 */
function eachString(value: unknown, path: string, check: Check, deny: Deny, depth = 0): void {
  if (typeof value === 'string') {
    check(value, path);
    return;
  }
  if (!Array.isArray(value) && !isRecord(value)) return;
  if (depth >= MAX_VALUE_DEPTH) {
    deny(path, tooDeep());
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v: unknown, i) => eachString(v, joinPath(path, i), check, deny, depth + 1));
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const keyPath = joinPath(path, k);
    check(k, keyPath);
    eachString(v, keyPath, check, deny, depth + 1);
  }
}

/** Splits raw YAML/JSON text into scalar-like tokens (for `elementsYaml` that does not parse). */
export function rawTokens(text: string): string[] {
  return text
    .split(/[\s"'`,[\]{}()|]+/)
    .map((token) => trimEndOf(trimStartOf(token, '-'), ':'))
    .filter((t) => t !== '');
}

/** The texts of a scalar to compare: its value as go-yaml would render it, and its source. */
function scalarText(node: Scalar): string[] {
  const out: string[] = [];
  const value: unknown = node.value;
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    out.push(String(value));
  if (typeof node.source === 'string' && !out.includes(node.source)) out.push(node.source);
  return out;
}

/**
 * Walks every node of one parsed `elementsYaml` document, keys included. Every scalar is
 * checked whatever the structure, so values that go-yaml merges in through `<<` (YAML 1.1
 * merge keys, which apply however many there are) or reaches through an alias are seen at
 * the place they are written. An explicit tag other than the core scalar ones is denied:
 * go-yaml decodes `!!binary` into the text it hides, and other tags are read in ways the
 * webhook does not model.
 */
function walkYaml(
  node: unknown,
  path: string,
  check: Check,
  deny: Deny,
  budget: { nodes: number },
  depth: number,
): void {
  if (node === null || node === undefined || isAlias(node)) return;
  if (--budget.nodes < 0) return;
  if (isNode(node) && typeof node.tag === 'string' && !(isScalar(node) && CORE_SCALAR_TAGS.has(node.tag))) {
    deny(
      path,
      `carries the YAML tag ${show(node.tag)}; Argo CD's go-yaml decodes tags such as !!binary into values the webhook cannot compare; write the value plainly (allowed tags: !!str, !!int, !!float, !!bool, !!null)`,
    );
  }
  if (isScalar(node)) {
    for (const text of scalarText(node)) check(text, path);
    return;
  }
  if (!isMap(node) && !isSeq(node)) return;
  if (depth >= MAX_VALUE_DEPTH) {
    deny(path, tooDeep());
    return;
  }
  if (isSeq(node)) {
    node.items.forEach((item: unknown, i) =>
      walkYaml(item, joinPath(path, i), check, deny, budget, depth + 1),
    );
    return;
  }
  for (const pair of node.items) {
    const key: unknown = pair.key;
    const keyText = isScalar(key) ? String(key.value) : '?';
    const keyPath = joinPath(path, keyText);
    walkYaml(key, keyPath, check, deny, budget, depth + 1);
    walkYaml(pair.value, keyPath, check, deny, budget, depth + 1);
  }
}

/**
 * Reads `elementsYaml` text: every document parsed (go-yaml reads the first; the others
 * are checked too) and walked node by node. False when it does not parse.
 */
function inspectYaml(text: string, path: string, check: Check, deny: Deny): boolean {
  let docs: Document.Parsed[];
  try {
    // Nested past what the walk reads, it is denied as such, and never composed (the
    // composer recurses once per level: yaml-depth.ts).
    const parsed = parseYamlWithin(text, MAX_VALUE_DEPTH, { uniqueKeys: false, merge: false });
    if (!parsed.ok) {
      deny(path, tooDeep());
      return true;
    }
    docs = parsed.docs;
    if (docs.some((d) => d.errors.length > 0)) return false;
  } catch {
    // Anything else the parser throws.
    return false;
  }
  const budget = { nodes: MAX_YAML_NODES };
  for (const doc of docs) walkYaml(doc.contents, path, check, deny, budget, 0);
  if (budget.nodes < 0)
    deny(
      path,
      `holds more than ${MAX_YAML_NODES} YAML nodes; the webhook does not inspect more: split the generator`,
    );
  return true;
}

/**
 * TG-AS-04 for one generator entry: every string (keys included) of `list.elements` and of
 * the `values` map of every generator kind, at any depth up to MAX_VALUE_DEPTH (deeper is
 * denied), and every scalar of `list.elementsYaml`, parsed as YAML and walked node by node
 * (explicit non-core tags denied). Templated `elementsYaml` gets a warning (what it
 * renders to is checked on each generated Application) and is walked the same way when it
 * parses; when it does not, each token of its raw text is compared instead (so a foreign
 * cluster or a tag written literally is still caught). Untemplated `elementsYaml` that
 * does not parse is denied: what it holds cannot be inspected.
 */
export function checkParameters(generator: GeneratorVisit, scope: TargetScope): TargetFindings {
  const violations: Violation[] = [];
  const warnings: string[] = [];
  const check: Check = (value, path) => {
    if (isTemplated(value)) return;
    const problem = parameterProblem(value, scope);
    if (problem !== undefined)
      violations.push(violation('TG-AS-04', path, () => `${show(value)} ${problem()}`));
  };
  const deny: Deny = (path, detail) => void violations.push(violation('TG-AS-04', path, detail));
  for (const kind of Object.keys(generator.entry)) {
    const body = generator.entry[kind];
    if (!GENERATOR_KINDS.has(kind) || !isRecord(body)) continue;
    const kindPath = joinPath(generator.path, kind);
    const values = Object.hasOwn(body, 'values') ? body.values : undefined;
    if (isPresent(values)) eachString(values, joinPath(kindPath, 'values'), check, deny);
    if (kind !== 'list') continue;
    eachString(
      Object.hasOwn(body, 'elements') ? body.elements : undefined,
      joinPath(kindPath, 'elements'),
      check,
      deny,
    );
    const yamlText = Object.hasOwn(body, 'elementsYaml') ? body.elementsYaml : undefined;
    if (typeof yamlText !== 'string' || yamlText.trim() === '') continue;
    const yamlPath = joinPath(kindPath, 'elementsYaml');
    const templated = isTemplated(yamlText);
    if (templated)
      warnings.push(
        `[TG-AS-04] ${yamlPath} is computed; the elements it renders are checked on each generated Application by the Application rules`,
      );
    // Templated text that parses is walked like any other: its literal scalars and tags
    // are what they are whatever the template renders around them.
    if (inspectYaml(yamlText, yamlPath, check, deny)) continue;
    if (!templated) {
      violations.push(
        violation(
          'TG-AS-04',
          yamlPath,
          'is not YAML the webhook can read, so its values cannot be inspected; Argo CD may read it differently: write it as plain YAML or use list.elements',
        ),
      );
      continue;
    }
    const seen = new Set<string>();
    for (const token of rawTokens(yamlText)) {
      if (seen.has(token)) continue;
      seen.add(token);
      const problem = token.startsWith('!')
        ? () => "is a YAML tag, which Argo CD's go-yaml may decode into a value the webhook cannot compare"
        : parameterProblem(token, scope);
      if (problem !== undefined)
        violations.push(violation('TG-AS-04', yamlPath, () => `contains ${show(token)}, which ${problem()}`));
    }
  }
  // One line for the findings past the request's budget, not one stand-in each.
  return { violations: listUnbuilt(violations), warnings };
}
