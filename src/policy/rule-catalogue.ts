/**
 * The one list of tenant-guard's rules, in the order of SPEC section 5 (the order a denial
 * lists its lines): each id with its title, SPEC section, the module that checks it, what
 * it protects, how to fix a denial, and an allowed and a denied example. `RuleId`,
 * `RULE_ORDER` and docs/rules.md (`npm run gen:rules`) come from here; a test keeps every
 * id in its module's source, so grepping an id finds its check.
 */
import { CLUSTER_SECRET_AND_PROJECT_RULES } from './rule-catalogue-secrets.js';

export const RULE_CATALOGUE = [
  {
    id: 'TG-REQ-01',
    title: 'A request the rules can read',
    section: '5',
    module: 'src/admission/review.ts',
    protects:
      "Every rule relies on the object's shape. A request whose object is missing, malformed, nested deeper or larger than the webhook inspects, is denied rather than skipped, so an unreadable object never passes unchecked.",
    fix: 'Send a well-formed object: `metadata` an object, labels a map of strings, `spec` an object. Past a size or depth limit, split the object or ask the platform to raise the limit setting named in the message.',
    allowed: 'spec: { project: team-a, destination: { name: k8s-team-a-dev } }',
    denied: 'spec: "oops"   # a string where an object is expected',
  },
  {
    id: 'TG-OWN-01',
    title: 'The tenant label agrees with the namespace, and stays',
    section: '4',
    module: 'src/policy/ownership.ts',
    protects:
      "An object is pinned to one tenant when it is made. A label naming another tenant than the namespace's, or an UPDATE that moves the object between tenants, would let one tenant's object act for another.",
    fix: "Set `tenantguard.dev/tenant` to the tenant that owns the namespace (or leave it out: /mutate sets it). Only a platform admin moves an object between tenants or turns a platform object into a tenant's.",
    allowed: 'metadata: { namespace: team-a, labels: { tenantguard.dev/tenant: team-a } }',
    denied: 'metadata: { namespace: team-a, labels: { tenantguard.dev/tenant: team-b } }',
  },
  {
    id: 'TG-OWN-02',
    title: "A human's object has a tenant",
    section: '4',
    module: 'src/policy/ownership.ts',
    protects:
      'An object whose tenant cannot be told is a platform object; a human who is not a platform admin may not make one.',
    fix: 'Create it in a namespace your tenant lists, or set the tenant label to one of the tenants the message lists for you.',
    allowed: 'metadata: { namespace: team-a }   # team-a lists the namespace',
    denied: 'metadata: { namespace: scratch }   # no tenant lists it, no label',
  },
  {
    id: 'TG-OWN-03',
    title: "Only the tenant's owners change its objects",
    section: '4',
    module: 'src/policy/ownership.ts',
    protects:
      "No change is too small: status, annotations, finalizers, ownerReferences and `operation` (which syncs `operation.sync.manifests`) of a tenant's object are for its owners, trusted service accounts within their scope, and platform admins.",
    fix: 'Ask an owner of the tenant (a member of `spec.owners.groups` or a user in `spec.owners.users`) to make the change, or use Argo CD, whose controllers are trusted.',
    allowed: 'user alice, groups [team-a-admins] updates an Application of team-a',
    denied: 'user mallory, groups [team-b-admins] sets operation.sync on an Application of team-a',
  },
  {
    id: 'TG-AS-01',
    title: "Templates use the tenant's projects",
    section: '5',
    module: 'src/policy/applicationset-templates.ts',
    protects:
      "Every Application an ApplicationSet generates lands in one of the tenant's AppProjects, never in another tenant's or in `default`.",
    fix: 'Set `spec.project` in every template to a literal project of the tenant (empty in `spec.template`: /mutate sets the default project).',
    allowed: 'spec.template.spec.project: team-a',
    denied: 'spec.template.spec.project: team-b',
  },
  {
    id: 'TG-AS-02',
    title: "Cluster generators select only the tenant's clusters",
    section: '5',
    module: 'src/policy/applicationset-selector.ts',
    protects:
      "`clusters: {}` selects every cluster Argo CD knows, the control plane included. Every `clusters` generator, at any depth, is narrowed to the tenant's label value.",
    fix: 'Leave `selector.matchLabels["tenantguard.dev/tenant"]` to /mutate, and drop any selector term on that key that says otherwise (another value, a template, NotIn, DoesNotExist, Exists).',
    allowed: 'clusters: { selector: { matchLabels: { tenantguard.dev/tenant: team-a } } }',
    denied:
      'clusters: { selector: { matchExpressions: [{ key: tenantguard.dev/tenant, operator: Exists }] } }',
  },
  {
    id: 'TG-AS-03',
    title: "Literal destinations are the tenant's clusters",
    section: '5',
    module: 'src/policy/applicationset-targets.ts',
    protects:
      "A literal `destination.server` or `destination.name` in any template must be one of the tenant's clusters, never the control plane (URLs compared normalised).",
    fix: 'Use one of the clusters the message lists, by `name` or by `server`, not both; or compute the destination from a `clusters` generator.',
    allowed: 'destination: { name: k8s-team-a-dev }',
    denied: 'destination: { server: https://kubernetes.default.svc }',
  },
  {
    id: 'TG-AS-04',
    title: 'No foreign target in generator parameters',
    section: '5',
    module: 'src/policy/applicationset-targets.ts',
    protects:
      "A `list` element, `elementsYaml` entry or cluster generator `values` entry naming another tenant's cluster or the control plane would be templated into a destination. YAML tags other than the core scalar ones are denied (go-yaml decodes `!!binary`), and so is a value nested deeper than the webhook inspects.",
    fix: "Name only your tenant's clusters in parameters; write plain YAML scalars in `elementsYaml`.",
    allowed: 'list: { elements: [{ cluster: k8s-team-a-dev }] }',
    denied: 'list: { elements: [{ cluster: in-cluster }] }',
  },
  {
    id: 'TG-AS-05',
    title: 'Known generators only, read where they belong',
    section: '5',
    module: 'src/policy/applicationset.ts',
    protects:
      "An unknown or unreviewed generator type, `clusterDecisionResource` unless allowed, an `scmProvider`/`pullRequest`/`plugin` generator outside the tenant's namespaces (its refs are read in the ApplicationSet's namespace), or what makes the controller act with the platform's credentials (an `appSecretName` or a plugin's `configMapRef`, both read in the Argo CD namespace; `scmProvider.awsCodeCommit`, the controller's own AWS identity) could reach what the tenant may not.",
    fix: 'Use `list`, `clusters`, `git`, `matrix`, `merge`; put SCM, pull-request and plugin generators in a namespace your tenant lists; call only the plugins the platform offers tenants (`--tenant-plugin-config-maps`); ask a platform admin for GitHub App credentials or awsCodeCommit.',
    allowed:
      'generators: [{ git: { repoURL: https://example.com/r.git, revision: HEAD, directories: [{ path: apps/* }] } }]',
    denied: 'generators: [{ scmProvider: { github: { appSecretName: github-app } } }]',
  },
  {
    id: 'TG-AS-06',
    title: 'No templatePatch',
    section: '5',
    module: 'src/policy/applicationset.ts',
    protects:
      '`templatePatch` is rendered after admission, so no static check bounds what it sets: it could null the tenant label of generated Applications and make them platform objects. Never relaxed by warn or audit mode.',
    fix: 'Express the variation with generator templates or parameters; a platform admin may use templatePatch.',
    allowed: 'spec.template.metadata.annotations: { team: a }',
    denied: 'spec.templatePatch: "metadata: {labels: null}"',
  },
  {
    id: 'TG-AS-09',
    title: 'Fields the controller leaves alone do not cover tenancy',
    section: '5',
    module: 'src/policy/applicationset-ignored.ts',
    protects:
      "An ApplicationSet that generates the name of an existing Application adopts it; `ignoreApplicationDifferences` or `preservedFields` covering the tenant label, `spec.project` or `spec.destination` (or a parent) would keep the victim's tenant and target while replacing its source. `jqPathExpressions` are for platform admins.",
    fix: 'Ignore only fields below `spec.source(s)`, annotations or other labels; use JSON pointers, not jq.',
    allowed: 'ignoreApplicationDifferences: [{ jsonPointers: [/spec/source/targetRevision] }]',
    denied: 'ignoreApplicationDifferences: [{ jsonPointers: [/spec/destination] }]',
  },
  {
    id: 'TG-AS-07',
    title: 'Generated Applications carry the tenant label',
    section: '5',
    module: 'src/policy/applicationset-templates.ts',
    protects:
      "Each generated Application is checked as the ApplicationSet's tenant's because it carries its tenant label. A generator template may not set it, and no template label key may be templated.",
    fix: 'Leave `spec.template.metadata.labels["tenantguard.dev/tenant"]` to /mutate, or set it to your tenant; use literal label keys.',
    allowed: 'spec.template.metadata.labels: { tenantguard.dev/tenant: team-a }',
    denied: 'spec.template.metadata.labels: { tenantguard.dev/tenant: team-b }',
  },
  {
    id: 'TG-AS-08',
    title: 'Nested generators use exact field names',
    section: '5',
    module: 'src/policy/applicationset-keys.ts',
    protects:
      "Argo CD decodes the raw-JSON children of `matrix` and `merge` with Go's case-insensitive decoder: a key that differs in case would be read as a field the webhook did not check.",
    fix: 'Spell every key of nested generators exactly as the ApplicationSet CRD does (`clusters`, `selector`, `matchLabels`...).',
    allowed: 'matrix: { generators: [{ clusters: {} }, { git: {} }] }',
    denied: 'matrix: { generators: [{ Clusters: {} }] }',
  },
  {
    id: 'TG-AS-10',
    title: "ApplicationSets read and template only the tenant's repositories",
    section: '5',
    module: 'src/policy/applicationset-repos.ts',
    protects:
      "For a Tenant with `spec.sourceRepos`: a `git` generator, at any depth, reads a literal repository the patterns admit (the ApplicationSet controller reads it with Argo CD's credentials, never checking the project's `sourceRepos`, and can publish what it read in the Applications it generates); a template's literal repositories are the tenant's too (a templated one is warned about: each generated Application is checked by TG-APP-05). No mode relaxes it.",
    fix: "Name your tenant's repositories literally in `git` generators (the message lists the patterns); ask a platform admin to add one to the Tenant's `spec.sourceRepos`.",
    allowed: 'generators: [{ git: { repoURL: https://git.example.com/team-a/apps.git, revision: HEAD } }]',
    denied: "generators: [{ git: { repoURL: '{{ .repo }}' } }]   # or another tenant's repository",
  },
  {
    id: 'TG-APP-01',
    title: "Applications use the tenant's projects",
    section: '5',
    module: 'src/policy/application.ts',
    protects:
      "An Application's AppProject decides its source repositories and credentials; a tenant's Application lives only in its own projects.",
    fix: 'Set `spec.project` to a project of your tenant (the message lists them).',
    allowed: 'spec.project: team-a',
    denied: 'spec.project: default',
  },
  {
    id: 'TG-APP-02',
    title: "Applications target the tenant's clusters",
    section: '5',
    module: 'src/policy/application.ts',
    protects:
      "The authoritative check: `spec.destination` names exactly one of `server` and `name`, one of the tenant's clusters, never the control plane; a platform object's destination is never a tenant's cluster.",
    fix: "Point the destination at one of your tenant's clusters (the message lists them), by name or by server.",
    allowed: 'spec.destination: { name: k8s-team-a-dev, namespace: web }',
    denied: 'spec.destination: { name: k8s-team-b-dev, namespace: web }',
  },
  {
    id: 'TG-APP-03',
    title: 'Only the ApplicationSet controller sets a controller ownerReference',
    section: '5',
    module: 'src/policy/application.ts',
    protects:
      "Pointing an Application at another ApplicationSet makes that ApplicationSet's controller adopt or prune it, cascading to everything it deployed.",
    fix: 'Leave controller ownerReferences to Argo CD; removing one is allowed.',
    allowed:
      'the ApplicationSet controller adds ownerReferences: [{ kind: ApplicationSet, controller: true }]',
    denied: 'a human adds ownerReferences: [{ kind: ApplicationSet, name: someone-elses, controller: true }]',
  },
  {
    id: 'TG-APP-04',
    title: "A tenant's sync deploys what the spec names; status is Argo CD's",
    section: '5',
    module: 'src/policy/application-sync.ts',
    protects:
      "Argo CD checks an Application's sources against its AppProject's `sourceRepos` by reading `spec`. It syncs `operation.sync.source`, `sources` and `manifests` in place of the spec's, resumes from `status.operationState` and rolls back to `status.history`, all unchecked, and the Application CRD has no status subresource. A human who sets them could sync a repository the project does not list, such as another tenant's, with the credentials Argo CD holds for it. And a spec with `sourceHydrator` names no other source: Argo CD checks only the hydrator's, yet syncs `spec.sources`.",
    fix: 'Start a sync without sources or manifests (`argocd app sync`, or `operation: {sync: {revision: ...}}`): Argo CD then syncs the spec. Leave `status` to Argo CD; remove from it if you must. Roll back through Argo CD (argocd-server is trusted).',
    allowed: 'operation: { sync: { revision: main } }',
    denied: 'operation: { sync: { source: { repoURL: https://git.example.com/team-b/private } } }',
  },
  {
    id: 'TG-APP-05',
    title: "Applications fetch only the tenant's repositories",
    section: '5',
    module: 'src/policy/application-repos.ts',
    protects:
      "For a Tenant with `spec.sourceRepos`: every repository an Application fetches from (its sources, the hydrator's dry and sync sources, an operation's sources) is one the patterns admit. Argo CD checks an AppProject's `sourceRepos` when it refreshes, not when a sync starts, so a spec change and a sync in one write reached another tenant's repository first; and one Application naming another tenant's hydrator repository blocks that tenant's hydration.",
    fix: "Fetch from your tenant's repositories (the message lists its patterns), spelled plainly; ask a platform admin to add a repository to the Tenant's `spec.sourceRepos`.",
    allowed:
      'spec.source.repoURL: https://git.example.com/team-a/apps.git   # sourceRepos: [https://git.example.com/team-a/*]',
    denied: 'spec.source.repoURL: https://git.example.com/team-b/private.git',
  },
  ...CLUSTER_SECRET_AND_PROJECT_RULES,
] as const;

export type RuleEntry = (typeof RULE_CATALOGUE)[number];

/** Every rule id. */
export type RuleId = RuleEntry['id'];

/** The order of SPEC section 5, in which a denial lists its lines. */
export const RULE_ORDER: readonly RuleId[] = RULE_CATALOGUE.map((r) => r.id);

/** A rule's entry in docs/rules.md. */
export function ruleReference(id: string): string {
  return `docs/rules.md#${id.toLowerCase()}`;
}
