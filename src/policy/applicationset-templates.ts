/**
 * TG-AS-01 (project) and TG-AS-07 (labels of generated Applications) over every template.
 * Argo CD merges a generator's `template` over `spec.template`, the generator's non-empty
 * values winning, so a generator template may leave the project out (it inherits) but may
 * not set what `spec.template` pins.
 * See https://argo-cd.readthedocs.io/en/stable/operator-manual/applicationset/Template/
 */
import type { Tenant } from '../tenancy/tenant.js';
import type { TemplateVisit } from './applicationset-walk.js';
import { isPresent } from './applicationset-walk.js';
import { isTemplated, joinPath, show } from './object-paths.js';
import { isRecord } from '../json.js';
import type { Violation } from './types.js';
import { violation, violationInEveryMode } from './types.js';
import type { ObjectEdit } from './object-edit.js';

/** The parts of a template the rules read; TG-REQ-01 for those of the wrong type. */
export interface TemplateParts {
  readonly spec: Record<string, unknown> | undefined;
  readonly labels: Record<string, unknown> | undefined;
  readonly problems: Violation[];
}

/** Reads `spec` and `metadata.labels` of a template, reporting those that are not objects. */
export function templateParts(visit: TemplateVisit): TemplateParts {
  const problems: Violation[] = [];
  const read = (value: unknown, path: string): Record<string, unknown> | undefined => {
    if (isRecord(value)) return value;
    if (isPresent(value))
      problems.push(violation('TG-REQ-01', path, 'is not an object; the rules cannot read it'));
    return undefined;
  };
  const spec = read(visit.template.spec, joinPath(visit.path, 'spec'));
  const metadataPath = joinPath(visit.path, 'metadata');
  const metadata = read(visit.template.metadata, metadataPath);
  const labels = metadata === undefined ? undefined : read(metadata.labels, joinPath(metadataPath, 'labels'));
  return { spec, labels, problems };
}

/**
 * Mutation for TG-AS-01 and TG-AS-07 on `spec.template`: the default project when the project
 * is missing or empty, and the tenant label when missing. Creates the objects on the way
 * when they are missing; never replaces a value of the wrong type.
 */
export function addTemplateDefaults(
  edit: ObjectEdit,
  spec: Record<string, unknown>,
  tenant: Tenant,
  label: string,
): void {
  const template = edit.presentOrNew(spec, 'template');
  if (template === undefined) return;
  const defaultProject = tenant.projects[0];
  const tspec = edit.presentOrNew(template, 'spec');
  if (
    tspec !== undefined &&
    defaultProject !== undefined &&
    (!isPresent(tspec.project) || tspec.project === '')
  )
    tspec.project = defaultProject;
  const metadata = edit.presentOrNew(template, 'metadata');
  if (metadata === undefined) return;
  const labels = edit.presentOrNew(metadata, 'labels');
  if (labels !== undefined && !isPresent(labels[label])) labels[label] = tenant.name;
}

/** TG-AS-01 for one template of a tenant's ApplicationSet. */
export function checkProject(visit: TemplateVisit, parts: TemplateParts, tenant: Tenant): Violation[] {
  const path = joinPath(joinPath(visit.path, 'spec'), 'project');
  const allowed = tenant.projects.join(', ');
  const project = parts.spec?.project;
  if (!isPresent(project) || project === '') {
    // A generator template without a project inherits the one of spec.template.
    return visit.root
      ? [
          violation(
            'TG-AS-01',
            path,
            `is missing; set it to one of the projects of tenant "${tenant.name}": ${allowed}`,
          ),
        ]
      : [];
  }
  if (typeof project !== 'string')
    return [violation('TG-AS-01', path, `${show(project)} is not a project name; use one of: ${allowed}`)];
  if (isTemplated(project))
    return [
      violation(
        'TG-AS-01',
        path,
        `${show(project)} is templated; the project must be literal, one of: ${allowed}`,
      ),
    ];
  // Another tenant's project, or the platform's: the ApplicationSet controller reads a git
  // generator's repository with that project's credentials (RELAXABLE_RULES).
  if (!tenant.projects.includes(project))
    return [
      violationInEveryMode(
        'TG-AS-01',
        path,
        `${show(project)} is not a project of tenant "${tenant.name}"; use one of: ${allowed}`,
      ),
    ];
  return [];
}

/**
 * TG-AS-07 for one template. No label key may be templated (it could render to the tenant
 * label). A tenant's `spec.template` carries the tenant label with the tenant's name; a
 * platform ApplicationSet's does not carry it at all (its Applications would claim a
 * tenant); no generator template sets it.
 */
export function checkLabels(
  visit: TemplateVisit,
  parts: TemplateParts,
  tenant: Tenant | undefined,
  label: string,
): Violation[] {
  const out: Violation[] = [];
  const labelsPath = joinPath(joinPath(visit.path, 'metadata'), 'labels');
  const labels = parts.labels ?? {};
  for (const key of Object.keys(labels)) {
    if (isTemplated(key))
      out.push(
        violation(
          'TG-AS-07',
          joinPath(labelsPath, key),
          'is a templated label key; label keys must be literal (a computed key could set the tenant label)',
        ),
      );
  }
  const path = joinPath(labelsPath, label);
  const value = labels[label];
  if (!visit.root) {
    if (isPresent(value))
      out.push(
        violation(
          'TG-AS-07',
          path,
          `${show(value)} is set in a generator template; only spec.template may carry the tenant label`,
        ),
      );
  } else if (tenant === undefined) {
    if (isPresent(value))
      out.push(
        violation(
          'TG-AS-07',
          path,
          `${show(value)} is set, but this ApplicationSet belongs to no tenant; remove it or label the ApplicationSet itself`,
        ),
      );
  } else if (!isPresent(value)) {
    out.push(violation('TG-AS-07', path, `is missing; it must be "${tenant.name}"`));
  } else if (value !== tenant.name) {
    out.push(
      violation(
        'TG-AS-07',
        path,
        `${show(value)} is not the tenant "${tenant.name}"; it must be "${tenant.name}"`,
      ),
    );
  }
  return out;
}
