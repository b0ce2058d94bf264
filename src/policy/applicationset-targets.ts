/**
 * TG-AS-03 (literal destinations of every template) and TG-AS-04 (foreign targets among
 * generator parameters). A tenant's ApplicationSet may name only its own clusters, never
 * the control plane; a platform ApplicationSet (no tenant) may name no tenant's cluster.
 * Computed values (`{{...}}`) are left to the Application rules, which check every
 * generated Application.
 */
import { parse } from 'yaml';
import type { TenantRegistry } from '../tenancy/registry.js';
import type { Tenant } from '../tenancy/tenant.js';
import type { GeneratorVisit, TemplateVisit } from './applicationset-walk.js';
import { GENERATOR_KINDS, isPresent } from './applicationset-walk.js';
import type { TemplateParts } from './applicationset-templates.js';
import { isControlPlaneTarget, serverKey } from './cluster-url.js';
import { isRecord, isTemplated, joinPath, show } from './object-paths.js';
import type { Violation } from './types.js';
import { violation } from './types.js';

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

function tenantClusterNames(tenant: Tenant): string {
  return tenant.clusters.map((c) => c.name).join(', ') || '(none registered)';
}

function tenantServers(tenant: Tenant): string {
  return tenant.clusters.map((c) => c.server).join(', ') || '(none registered)';
}

/** Why a literal destination field is not allowed, or undefined when it is. */
function destinationProblem(field: 'name' | 'server', value: string, scope: TargetScope): string | undefined {
  const { tenant, registry } = scope;
  if (tenant === undefined) {
    const owned = field === 'name' ? registry.clusterByName(value) : registry.clusterByServer(value);
    return owned === undefined ? undefined : `is a cluster of tenant "${owned.tenant.name}"; an ApplicationSet of no tenant may target no tenant's cluster`;
  }
  const allowed = field === 'name' ? tenantClusterNames(tenant) : tenantServers(tenant);
  if (isControlPlaneTarget(value)) return `is the control plane, which no tenant may target; use one of: ${allowed}`;
  const own = field === 'name' ? tenant.clusters.some((c) => c.name === value) : tenant.clusters.some((c) => c.serverKey === serverKey(value));
  return own ? undefined : `is not a cluster of tenant "${tenant.name}"; use one of: ${allowed}`;
}

/** TG-AS-03 for one template: literal `destination.server`/`name`, and not both. */
export function checkDestination(visit: TemplateVisit, parts: TemplateParts, scope: TargetScope): TargetFindings {
  const violations: Violation[] = [];
  const warnings: string[] = [];
  const destPath = joinPath(joinPath(visit.path, 'spec'), 'destination');
  const destination = parts.spec?.destination;
  if (!isPresent(destination)) return { violations, warnings };
  if (!isRecord(destination)) return { violations: [violation('TG-REQ-01', destPath, 'is not an object; the rules cannot read it')], warnings };
  let set = 0;
  for (const field of ['server', 'name'] as const) {
    const value = destination[field];
    const path = joinPath(destPath, field);
    if (!isPresent(value) || value === '') continue;
    set++;
    if (typeof value !== 'string') {
      violations.push(violation('TG-REQ-01', path, `${show(value)} is not a string; the rules cannot read it`));
    } else if (isTemplated(value)) {
      warnings.push(`[TG-AS-03] ${path} ${show(value)} is computed; each generated Application is checked by the Application rules (TG-APP-02)`);
    } else {
      const problem = destinationProblem(field, value, scope);
      if (problem !== undefined) violations.push(violation('TG-AS-03', path, `${show(value)} ${problem}`));
    }
  }
  if (set === 2) violations.push(violation('TG-AS-03', destPath, 'sets both server and name; set exactly one'));
  return { violations, warnings };
}

/** Why a parameter value is a foreign target, or undefined when it is not. */
function parameterProblem(value: string, scope: TargetScope): string | undefined {
  const { tenant, registry } = scope;
  if (tenant !== undefined && isControlPlaneTarget(value)) return 'names the control plane, which no tenant may target';
  const owned = registry.clusterByName(value) ?? registry.clusterByServer(value);
  if (owned === undefined || owned.tenant.name === tenant?.name) return undefined;
  return tenant === undefined
    ? `names a cluster of tenant "${owned.tenant.name}"; an ApplicationSet of no tenant may target no tenant's cluster`
    : `names a cluster of another tenant; tenant "${tenant.name}" may name only its own clusters: ${tenantClusterNames(tenant)}`;
}

const MAX_VALUE_DEPTH = 32;

/** Calls `visit` for every string in a JSON value (object values and list items). */
function eachString(value: unknown, path: string, visit: (s: string, path: string) => void, depth = 0): void {
  if (depth > MAX_VALUE_DEPTH) return;
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((v: unknown, i) => eachString(v, joinPath(path, i), visit, depth + 1));
  else if (isRecord(value)) for (const [k, v] of Object.entries(value)) eachString(v, joinPath(path, k), visit, depth + 1);
}

/** Splits raw YAML/JSON text into scalar-like tokens (for `elementsYaml` that does not parse). */
function rawTokens(text: string): string[] {
  return text.split(/[\s"'`,[\]{}()|]+/).map((t) => t.replace(/^-+|:+$/g, '')).filter((t) => t !== '');
}

/**
 * TG-AS-04 for one generator entry: string values of `list.elements` (at any depth), the
 * entries of `list.elementsYaml`, and the `values` map of every generator kind.
 * `elementsYaml` is parsed as YAML; when it is templated or does not parse, each token of
 * the raw text is compared instead (so a foreign cluster written literally is still
 * caught) and a templated one gets a warning: what it renders to is checked on each
 * generated Application.
 */
export function checkParameters(generator: GeneratorVisit, scope: TargetScope): TargetFindings {
  const violations: Violation[] = [];
  const warnings: string[] = [];
  const check = (value: string, path: string): void => {
    if (isTemplated(value)) return;
    const problem = parameterProblem(value, scope);
    if (problem !== undefined) violations.push(violation('TG-AS-04', path, `${show(value)} ${problem}`));
  };
  for (const kind of Object.keys(generator.entry)) {
    const body = generator.entry[kind];
    if (!GENERATOR_KINDS.has(kind) || !isRecord(body)) continue;
    const kindPath = joinPath(generator.path, kind);
    if (isRecord(body.values)) eachString(body.values, joinPath(kindPath, 'values'), check);
    if (kind !== 'list') continue;
    eachString(body.elements, joinPath(kindPath, 'elements'), check);
    const yamlText = body.elementsYaml;
    if (typeof yamlText !== 'string' || yamlText.trim() === '') continue;
    const yamlPath = joinPath(kindPath, 'elementsYaml');
    let parsed: unknown;
    let parsedOk = !isTemplated(yamlText);
    if (parsedOk) {
      try {
        parsed = parse(yamlText, { uniqueKeys: false, maxAliasCount: 100 });
      } catch {
        parsedOk = false;
      }
    }
    if (parsedOk) {
      eachString(parsed, yamlPath, check);
      continue;
    }
    const seen = new Set<string>();
    for (const token of rawTokens(yamlText)) {
      const problem = seen.has(token) ? undefined : parameterProblem(token, scope);
      seen.add(token);
      if (problem !== undefined) violations.push(violation('TG-AS-04', yamlPath, `contains ${show(token)}, which ${problem}`));
    }
    if (isTemplated(yamlText)) warnings.push(`[TG-AS-04] ${yamlPath} is computed; the elements it renders are checked on each generated Application by the Application rules`);
  }
  return { violations, warnings };
}
