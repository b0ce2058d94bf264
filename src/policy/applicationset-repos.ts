/**
 * TG-AS-10: an ApplicationSet of a tenant with `spec.sourceRepos` reads and templates only
 * repositories those patterns admit. Pure.
 *
 * A `git` generator is read by the ApplicationSet controller itself, before any Application
 * exists, with the credentials Argo CD finds for the URL and never against the project's
 * `sourceRepos` (applicationset/generators/git.go, services/repo_service.go); its files and
 * paths become the generated Applications' parameters, where the tenant reads them. So its
 * `repoURL` is literal and the tenant's, at any depth of `matrix` and `merge` (a templated one
 * renders from other generators' parameters, unseen here). A template's repositories only
 * reach Applications, which TG-APP-05 judges: a literal one is checked here for an early
 * answer, a templated one is a warning.
 */
import type { Tenant } from '../tenancy/tenant.js';
import type { GeneratorVisit, TemplateVisit } from './applicationset-walk.js';
import {
  checkRepoUrl,
  repoFieldPath,
  specRepoFields,
  tooManySources,
  type RepoField,
} from './application-repos.js';
import { isRecord } from '../json.js';
import { isTemplated, joinPath, show } from './object-paths.js';
import type { Findings, Violation } from './types.js';
import { violation } from './types.js';

/** TG-AS-10 for one template (`spec` as templateParts read it). */
export function checkTemplateRepos(
  visit: TemplateVisit,
  spec: Record<string, unknown> | undefined,
  tenant: Tenant | undefined,
): Findings {
  const patterns = tenant?.sourceRepos;
  if (tenant === undefined || patterns === undefined || spec === undefined)
    return { violations: [], warnings: [] };
  const base = joinPath(visit.path, 'spec');
  const violations: Violation[] = [...tooManySources(spec, base)];
  const warnings: string[] = [];
  for (const field of specRepoFields(spec, base)) {
    if (typeof field.value === 'string' && isTemplated(field.value)) {
      warnings.push(
        `[TG-AS-10] ${repoFieldPath(field)} ${show(field.value)} is computed; each generated Application is checked against the tenant's repositories (TG-APP-05)`,
      );
      continue;
    }
    const found = checkRepoUrl('TG-AS-10', field, tenant, patterns);
    if (found !== undefined) violations.push(found);
  }
  return { violations, warnings };
}

/** TG-AS-10 for one generator entry: its `git` generator's repository. */
export function checkGitGeneratorRepo(generator: GeneratorVisit, tenant: Tenant | undefined): Violation[] {
  const patterns = tenant?.sourceRepos;
  const git = Object.hasOwn(generator.entry, 'git') ? generator.entry.git : undefined;
  if (tenant === undefined || patterns === undefined || !isRecord(git)) return [];
  const value = Object.hasOwn(git, 'repoURL') ? git.repoURL : undefined;
  const field: RepoField = { base: generator.path, keys: ['git', 'repoURL'], value };
  if (typeof value === 'string' && isTemplated(value))
    return [
      violation(
        'TG-AS-10',
        repoFieldPath(field),
        `${show(value)} is templated; the ApplicationSet controller reads whatever it renders to before any Application is checked, so name one of tenant "${tenant.name}"'s repositories literally`,
      ),
    ];
  if (value === undefined || value === null || value === '')
    return [
      violation(
        'TG-AS-10',
        repoFieldPath(field),
        'is missing; a git generator reads the repository it names',
      ),
    ];
  const found = checkRepoUrl('TG-AS-10', field, tenant, patterns);
  return found === undefined ? [] : [found];
}
