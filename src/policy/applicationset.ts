/**
 * The ApplicationSet rules, TG-AS-01..09 (SPEC section 5). Pure: the request and the
 * registry in, violations and warnings out. `evaluate` adds ownership, modes and the
 * platform-admin bypass.
 * See https://argo-cd.readthedocs.io/en/stable/operator-manual/applicationset/
 */
import { checkGitGeneratorRepo, checkTemplateRepos } from './applicationset-repos.js';
import type { Tenant } from '../tenancy/tenant.js';
import { checkIgnoredFields } from './applicationset-ignored.js';
import { checkFieldNames, foldKey } from './applicationset-keys.js';
import { addTenantSelector, checkClustersSelector } from './applicationset-selector.js';
import { checkDestination, checkParameters, type TargetScope } from './applicationset-targets.js';
import { addTemplateDefaults, checkLabels, checkProject, templateParts } from './applicationset-templates.js';
import {
  GENERATOR_KINDS,
  generatorKinds,
  isPresent,
  walkApplicationSet,
  type GeneratorVisit,
} from './applicationset-walk.js';
import { getLabels, getString, isTemplated, joinPath, show } from './object-paths.js';
import { isRecord } from '../json.js';
import type { Findings, KindRules, KubeObject, PolicyContext, RuleScope, Violation } from './types.js';
import { violation } from './types.js';
import type { ObjectEdit } from './object-edit.js';

/** Generator kinds a tenant may use (SPEC TG-AS-05): every kind but `clusterDecisionResource`, which only a setting allows. */
const ALLOWED_KINDS: ReadonlySet<string> = new Set(
  [...GENERATOR_KINDS].filter((kind) => kind !== 'clusterDecisionResource'),
);

/**
 * Kinds allowed only in a tenant's namespaces (SPEC TG-AS-05): scmProvider and pullRequest
 * read `tokenRef` and `caRef` in the ApplicationSet's own namespace, which in the Argo CD
 * namespace holds Argo CD's own Secrets. (A plugin's `configMapRef` is read in the Argo CD
 * namespace wherever the ApplicationSet is: checkPlatformCredentials.)
 */
const NAMESPACE_BOUND_KINDS: ReadonlySet<string> = new Set(['scmProvider', 'pullRequest', 'plugin']);

/** The known keys of a generator entry, by their fold (folded once, not per key judged). */
const KNOWN_ENTRY_KEYS_BY_FOLD: ReadonlyMap<string, readonly string[]> = (() => {
  const byFold = new Map<string, string[]>();
  for (const key of [...GENERATOR_KINDS, 'selector']) {
    const folded = foldKey(key);
    byFold.set(folded, [...(byFold.get(folded) ?? []), key]);
  }
  return byFold;
})();

/** True when `key` is a case variant of a known entry key (TG-AS-08 reports it). */
function isCaseVariant(key: string): boolean {
  return (KNOWN_ENTRY_KEYS_BY_FOLD.get(foldKey(key)) ?? []).some((k) => k !== key);
}

/** TG-AS-05 for one generator entry. */
function checkGeneratorKinds(generator: GeneratorVisit, scope: RuleScope): Violation[] {
  const out: Violation[] = [];
  const { tenant, request, context } = scope;
  // For messages only: built when one is written, not for every generator judged.
  const allowedList = () =>
    [
      ...ALLOWED_KINDS,
      ...(context.settings.allowClusterDecisionResource ? ['clusterDecisionResource'] : []),
    ].join(', ');
  const kinds = generatorKinds(generator.entry);
  for (const kind of kinds) {
    const path = joinPath(generator.path, kind);
    // Case variants, and unknown keys inside raw JSON, are TG-AS-08's to report.
    if (isCaseVariant(kind) || (generator.raw && !GENERATOR_KINDS.has(kind))) continue;
    if (kind === 'clusterDecisionResource') {
      if (!context.settings.allowClusterDecisionResource)
        out.push(
          violation(
            'TG-AS-05',
            path,
            'is not allowed: clusterDecisionResource generators are disabled by the allow-cluster-decision-resource setting',
          ),
        );
    } else if (!GENERATOR_KINDS.has(kind)) {
      out.push(
        violation(
          'TG-AS-05',
          path,
          `is not a known generator; use one of: ${allowedList()} (a new Argo CD generator must be reviewed first)`,
        ),
      );
    } else if (
      NAMESPACE_BOUND_KINDS.has(kind) &&
      !(tenant?.namespaces.includes(request.namespace) ?? false)
    ) {
      const where =
        tenant === undefined || tenant.namespaces.length === 0
          ? 'a namespace of a tenant'
          : `one of the namespaces of tenant "${tenant.name}": ${tenant.namespaces.join(', ')}`;
      out.push(
        violation(
          'TG-AS-05',
          path,
          `is not allowed in namespace "${request.namespace}": ${kind === 'plugin' ? 'plugin generators are for the namespaces of tenants' : 'its tokenRef and caRef are read there'}; create this ApplicationSet in ${where}`,
        ),
      );
    }
  }
  out.push(...checkPlatformCredentials(generator, scope));
  if (kinds.length === 0)
    out.push(violation('TG-AS-05', generator.path, `holds no generator; use one of: ${allowedList()}`));
  return out;
}

/** Kinds whose providers may read GitHub App credentials through `appSecretName`. */
const APP_SECRET_KINDS: readonly string[] = ['scmProvider', 'pullRequest'];
const APP_SECRET_FIELD = foldKey('appSecretName');
const AWS_CODE_COMMIT = foldKey('awsCodeCommit');
const CONFIG_MAP_REF = foldKey('configMapRef');
const NAME = foldKey('name');

/** The own entries of `value` whose key folds to `folded` (Go reads case variants as the field). */
function foldedEntries(value: unknown, folded: string): Array<[string, unknown]> {
  if (!isRecord(value)) return [];
  return Object.entries(value).filter(([key]) => foldKey(key) === folded);
}

/**
 * TG-AS-05: what makes the ApplicationSet controller act with the platform's credentials
 * rather than the tenant's, whatever namespace the ApplicationSet is in; platform admins
 * only (the bypass keeps their use audited). Case variants count (inside raw JSON Go reads
 * them as the field; TG-AS-08 also reports them).
 * - `appSecretName` of an scmProvider or pullRequest provider: GitHub App credentials, read
 *   in the Argo CD namespace.
 * - `scmProvider.awsCodeCommit`: the controller's own AWS identity, which may assume any
 *   `role` it can (applicationset/services/scm_provider/aws_codecommit.go).
 * - a `plugin` generator whose `configMapRef` the settings do not offer tenants: Argo CD
 *   reads the plugin's ConfigMap and token Secret in its own namespace
 *   (applicationset/generators/plugin.go), so any tenant could call any platform plugin
 *   with the platform's token and parameters of its choosing. Nor can an offered plugin
 *   tell its callers apart: Argo CD sends it only `applicationSetName` and the caller's
 *   `input.parameters` (applicationset/services/plugin/plugin_service.go), so the settings
 *   say to offer only plugins that answer every caller alike.
 */
function checkPlatformCredentials(generator: GeneratorVisit, scope: RuleScope): Violation[] {
  const out: Violation[] = [];
  for (const kind of APP_SECRET_KINDS) {
    const body = Object.hasOwn(generator.entry, kind) ? generator.entry[kind] : undefined;
    if (!isRecord(body)) continue;
    for (const [provider, config] of Object.entries(body)) {
      const providerPath = joinPath(joinPath(generator.path, kind), provider);
      if (kind === 'scmProvider' && foldKey(provider) === AWS_CODE_COMMIT && isPresent(config))
        out.push(
          violation(
            'TG-AS-05',
            providerPath,
            "lists repositories with the ApplicationSet controller's own AWS identity (and any role it may assume); only platform admins may use awsCodeCommit",
          ),
        );
      for (const [field, value] of foldedEntries(config, APP_SECRET_FIELD)) {
        if (!isPresent(value) || value === '') continue;
        out.push(
          violation(
            'TG-AS-05',
            joinPath(providerPath, field),
            `${show(value)} names GitHub App credentials that Argo CD reads in its own namespace; only platform admins may set appSecretName: use tokenRef with a Secret in the tenant's namespace`,
          ),
        );
      }
    }
  }
  const plugin = Object.hasOwn(generator.entry, 'plugin') ? generator.entry.plugin : undefined;
  if (isRecord(plugin)) {
    const offered = scope.context.settings.tenantPluginConfigMaps;
    const refs = foldedEntries(plugin, CONFIG_MAP_REF);
    const names = refs.flatMap(([, ref]) => foldedEntries(ref, NAME).map(([, name]) => name));
    const isOffered = (name: unknown) =>
      typeof name === 'string' && !isTemplated(name) && offered.includes(name);
    if (names.length !== 1 || refs.length !== 1 || !isOffered(names[0])) {
      const [refKey = 'configMapRef'] = refs.map(([key]) => key);
      const shown = names.length === 1 ? show(names[0]) : 'no single ConfigMap';
      out.push(
        violation(
          'TG-AS-05',
          joinPath(joinPath(joinPath(generator.path, 'plugin'), refKey), 'name'),
          `${shown} is no plugin offered to tenants: Argo CD reads a plugin's ConfigMap and token in its own namespace, so only platform admins may call it; ${offered.length === 0 ? 'the platform offers none (setting --tenant-plugin-config-maps)' : `use one of: ${offered.join(', ')}`}`,
        ),
      );
    }
  }
  return out;
}

/**
 * TG-AS-06: `spec.templatePatch` is rendered after admission, so nothing bounds it. Outside
 * the tenant's own namespaces (the Argo CD namespace) it is also TG-AS-07: generated
 * Applications land in the ApplicationSet's namespace, where their tenant label decides
 * whose they are, and a patch can set that label; TG-AS-07 is one no mode relaxes.
 */
function checkTemplatePatch(spec: Record<string, unknown>, scope: RuleScope): Violation[] {
  const patch = spec.templatePatch;
  if (!isPresent(patch) || (typeof patch === 'string' && patch.trim() === '')) return [];
  const out = [
    violation(
      'TG-AS-06',
      'spec.templatePatch',
      'is set; templatePatch is rendered after admission, so only platform admins may use it: use spec.template',
    ),
  ];
  const { tenant, request } = scope;
  if (tenant !== undefined && !tenant.namespaces.includes(request.namespace)) {
    out.push(
      violation(
        'TG-AS-07',
        'spec.templatePatch',
        `is set in namespace "${request.namespace}", where the tenant label of each generated Application decides its tenant and a templatePatch could change it; remove templatePatch or move the ApplicationSet to a namespace of tenant "${tenant.name}"`,
      ),
    );
  }
  return out;
}

function validateObject(object: KubeObject, scope: RuleScope): Findings {
  const { tenant, context } = scope;
  const label = context.settings.tenantLabel;
  const walk = walkApplicationSet(object);
  const violations: Violation[] = [...walk.problems];
  const warnings: string[] = [];
  if (walk.spec === undefined) return { violations, warnings };
  const targets: TargetScope = { tenant, registry: context.registry };
  if (tenant !== undefined && !isPresent(walk.spec.template)) {
    violations.push(
      violation(
        'TG-AS-01',
        'spec.template.spec.project',
        `is missing; set it to one of the projects of tenant "${tenant.name}": ${tenant.projects.join(', ')}`,
      ),
    );
    violations.push(
      violation(
        'TG-AS-07',
        `spec.template.metadata.labels${JSON.stringify([label])}`,
        `is missing; it must be "${tenant.name}"`,
      ),
    );
  }
  for (const visit of walk.templates) {
    const parts = templateParts(visit);
    violations.push(...parts.problems);
    if (tenant !== undefined) violations.push(...checkProject(visit, parts, tenant));
    const destination = checkDestination(visit, parts, targets);
    violations.push(...destination.violations);
    warnings.push(...destination.warnings);
    violations.push(...checkLabels(visit, parts, tenant, label));
    const repos = checkTemplateRepos(visit, parts.spec, tenant);
    violations.push(...repos.violations);
    warnings.push(...repos.warnings);
  }
  for (const generator of walk.generators) {
    const clusters = generator.entry.clusters;
    if (tenant !== undefined && isRecord(clusters))
      violations.push(
        ...checkClustersSelector(clusters, joinPath(generator.path, 'clusters'), label, tenant.name),
      );
    const parameters = checkParameters(generator, targets);
    violations.push(...parameters.violations);
    warnings.push(...parameters.warnings);
    violations.push(...checkGeneratorKinds(generator, scope));
    violations.push(...checkGitGeneratorRepo(generator, tenant));
  }
  violations.push(...checkTemplatePatch(walk.spec, scope));
  violations.push(...checkIgnoredFields(walk.spec, label));
  violations.push(...checkFieldNames(walk.spec));
  return { violations, warnings };
}

/**
 * The mutation: default project, tenant label on generated Applications, cluster selectors.
 * The walk reads the object; every write goes through `edit`, to the containers it copies.
 */
function mutateObject(edit: ObjectEdit, tenant: Tenant, label: string): void {
  const walk = walkApplicationSet(edit.object);
  if (walk.spec === undefined) return;
  const spec = edit.child(edit.object, 'spec');
  if (spec === undefined) return;
  addTemplateDefaults(edit, spec, tenant, label);
  for (const generator of walk.generators) {
    if (!isRecord(generator.entry.clusters)) continue;
    const entry = edit.at(generator.keys);
    const clusters = entry === undefined ? undefined : edit.child(entry, 'clusters');
    if (clusters !== undefined) addTenantSelector(edit, clusters, label, tenant.name);
  }
}

function stableJson(value: unknown): string {
  return JSON.stringify(value) ?? '';
}

/**
 * The ApplicationSet rules:
 * - `namedTenant`: the tenant listing the literal project of `spec.template.spec.project`.
 * - `hasMaterialChange`: `spec` or the tenant label differ.
 * - `mutate`: TG-AS-01 default project, TG-AS-02 tenant selector on every `clusters`
 *   generator at any depth, TG-AS-07 tenant label on `spec.template`. Idempotent; adds only.
 * - `validate`: every violation of TG-AS-01..09 (TG-REQ-01 for parts it cannot read) and
 *   warnings for computed destinations and `elementsYaml`; nothing on DELETE (ownership is
 *   `evaluate`'s). For an ApplicationSet of no tenant (scope.tenant undefined) TG-AS-01 and
 *   -02 do not apply; TG-AS-03/-04 deny any tenant's cluster but allow the control plane;
 *   TG-AS-05 denies `scmProvider`/`pullRequest`/`plugin` (no tenant namespace); TG-AS-07
 *   denies the tenant label in its template. Platform admins pass through `evaluate`.
 */
export const applicationSetRules: KindRules = {
  kind: 'ApplicationSet',

  namedTenant(object: KubeObject, context: PolicyContext): Tenant | undefined {
    const project = getString(object, ['spec', 'template', 'spec', 'project']);
    if (project === undefined || project === '' || isTemplated(project)) return undefined;
    return context.registry.tenantByProject(project);
  },

  hasMaterialChange(oldObject: KubeObject, newObject: KubeObject, context: PolicyContext): boolean {
    const label = context.settings.tenantLabel;
    return (
      stableJson(oldObject.spec) !== stableJson(newObject.spec) ||
      getLabels(oldObject)[label] !== getLabels(newObject)[label]
    );
  },

  mutate(edit: ObjectEdit, scope: RuleScope & { tenant: Tenant }): void {
    mutateObject(edit, scope.tenant, scope.context.settings.tenantLabel);
  },

  validate(scope: RuleScope): Findings {
    const { request } = scope;
    if (request.operation === 'DELETE' || request.operation === 'CONNECT' || request.object === undefined)
      return { violations: [], warnings: [] };
    return validateObject(request.object, scope);
  },
};
