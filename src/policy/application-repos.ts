/**
 * TG-APP-05: an Application of a tenant with `spec.sourceRepos` fetches only repositories
 * those patterns admit (src/tenancy/repo-patterns.ts). Pure.
 *
 * Why the webhook checks what an AppProject's `sourceRepos` already says: Argo CD checks it
 * when it refreshes an Application, not when it starts a sync (controller/appcontroller.go
 * processAppOperationQueueItem, controller/sync.go SyncAppState read the conditions of the
 * last refresh), so a spec change and an operation in one write sync another tenant's
 * repository before the refresh objects; and the source hydrator groups every Application
 * naming the same dry and sync repository, so one naming another tenant's blocks that
 * tenant's hydration (controller/hydrator, "hydration cannot be partial"). Every repository
 * an Application names is read: the sources, the hydrator's dry and sync sources, and an
 * operation's sources. What a fetched repository fetches itself (Kustomize remote bases and
 * components) is bounded by credential scoping (docs/requirements.md), not here.
 */
import type { Tenant } from '../tenancy/tenant.js';
import { judgeRepoUrl } from '../tenancy/repo-patterns.js';
import { isRecord } from '../json.js';
import { getPath, joinPath, joinPaths, show } from './object-paths.js';
import type { KubeObject, RuleId, Violation } from './types.js';
import { violation } from './types.js';

/**
 * One `repoURL` of an Application spec (or an ApplicationSet template's spec). Its path is
 * spelled only for a finding: spelling every path cost more than matching the URL.
 */
export interface RepoField {
  /** Where the spec sits (`spec`, `spec.template.spec`), and the keys from there. */
  readonly base: string;
  readonly keys: ReadonlyArray<string | number>;
  readonly value: unknown;
}

/** The path of a RepoField: `spec.sources[1].repoURL`. */
export function repoFieldPath(field: RepoField): string {
  return joinPaths(field.base, field.keys);
}

const SOURCE_KEYS: readonly string[] = ['source', 'repoURL'];

/** Most sources of one list read; past it the list is denied (TG-REQ-01). */
export const MAX_SOURCES_READ = 256;

/**
 * Every `repoURL` Argo CD fetches from in an Application-shaped spec at `base`: `source`,
 * each of `sources`, and the hydrator's `drySource` and `syncSource` (`hydrateTo` names a
 * branch of the sync source's repository). Values as found; absent ones are left out.
 */
export function specRepoFields(spec: unknown, base: string): RepoField[] {
  if (!isRecord(spec)) return [];
  const out: RepoField[] = [];
  if (isRecord(spec.source) && spec.source.repoURL !== undefined)
    out.push({ base, keys: SOURCE_KEYS, value: spec.source.repoURL });
  if (Array.isArray(spec.sources)) {
    const count = Math.min(spec.sources.length, MAX_SOURCES_READ);
    for (let i = 0; i < count; i += 1) {
      const source: unknown = spec.sources[i];
      if (isRecord(source) && source.repoURL !== undefined)
        out.push({ base, keys: ['sources', i, 'repoURL'], value: source.repoURL });
    }
  }
  const hydrator = spec.sourceHydrator;
  if (isRecord(hydrator))
    for (const part of ['drySource', 'syncSource'] as const) {
      const source = hydrator[part];
      if (isRecord(source) && source.repoURL !== undefined)
        out.push({ base, keys: ['sourceHydrator', part, 'repoURL'], value: source.repoURL });
    }
  return out;
}

/** The list of sources past MAX_SOURCES_READ, as a TG-REQ-01 finding. */
export function tooManySources(spec: unknown, base: string): Violation[] {
  const sources = getPath(spec, ['sources']);
  return Array.isArray(sources) && sources.length > MAX_SOURCES_READ
    ? [
        violation(
          'TG-REQ-01',
          joinPath(base, 'sources'),
          `has ${sources.length} entries; at most ${MAX_SOURCES_READ} are read`,
        ),
      ]
    : [];
}

/** At most this many patterns are named in a denial line. */
const PATTERNS_SHOWN = 5;

/** `use one matching: a, b (and 3 more)`. */
function allowedText(tenant: Tenant, patterns: readonly string[]): string {
  if (patterns.length === 0)
    return `tenant "${tenant.name}" may fetch no repository (spec.sourceRepos is empty)`;
  const shown = patterns.slice(0, PATTERNS_SHOWN).join(', ');
  const more = patterns.length > PATTERNS_SHOWN ? ` (and ${patterns.length - PATTERNS_SHOWN} more)` : '';
  return `use one matching: ${shown}${more}`;
}

/**
 * The finding for one literal `repoURL`, or undefined when the tenant's patterns admit it.
 * Absent or empty: nothing is fetched. Not a string: TG-REQ-01.
 */
export function checkRepoUrl(
  rule: RuleId,
  field: RepoField,
  tenant: Tenant,
  patterns: readonly string[],
): Violation | undefined {
  const { value } = field;
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string')
    return violation('TG-REQ-01', repoFieldPath(field), `is ${show(value)}, not a string`);
  const verdict = judgeRepoUrl(patterns, value);
  if (verdict === 'admitted') return undefined;
  const path = repoFieldPath(field);
  if (verdict !== 'not admitted') return violation(rule, path, `${show(value)} ${verdict.unplain}`);
  return violation(
    rule,
    path,
    `${show(value)} is not one of tenant "${tenant.name}"'s repositories (spec.sourceRepos); ${allowedText(tenant, patterns)}`,
  );
}

/** TG-APP-05 for an Application of `tenant` (none for a platform object or a tenant without patterns). */
export function checkRepositories(object: KubeObject, tenant: Tenant | undefined): Violation[] {
  const patterns = tenant?.sourceRepos;
  if (tenant === undefined || patterns === undefined) return [];
  const sync = getPath(object, ['operation', 'sync']);
  const fields = [...specRepoFields(object.spec, 'spec'), ...specRepoFields(sync, 'operation.sync')];
  return [
    ...tooManySources(object.spec, 'spec'),
    ...tooManySources(sync, 'operation.sync'),
    ...fields.flatMap((field) => checkRepoUrl('TG-APP-05', field, tenant, patterns) ?? []),
  ];
}
