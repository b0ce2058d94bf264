/**
 * The Argo CD cluster Secret rules (SPEC section 5): TG-CS-01..08. A cluster Secret is a v1
 * Secret labelled `argocd.argoproj.io/secret-type: cluster`; its `name`, `server`, `project`
 * and `config` fields are read from `data` (base64) overlaid by `stringData`
 * (cluster-secret-view.ts); what `/mutate` adds is in cluster-secret-mutation.ts. Pure.
 *
 * A Secret of no tenant (its `name` is no registered cluster) is the platform's own (e.g.
 * `in-cluster`, or a cluster reached through an exec profile). For every requester it may
 * not carry a registered server (TG-CS-08) and whatever it runs is the plugin call or an
 * exec profile (TG-CS-04); one that runs anything but a profile is judged as a plugin call
 * (TG-CS-02, -03, -05 too), since it could carry a tenant's token anywhere. Its `project` is
 * no tenant's (TG-CS-06).
 * https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/#clusters
 */
import type { Tenant } from '../tenancy/tenant.js';
import { checkConfigKeys, checkTls } from './cluster-secret-config.js';
import { checkPlatformExec, checkTenantExec, isProfiled } from './cluster-secret-exec.js';
import { dataPath, sameSecretData } from './cluster-secret-data.js';
import { mutateClusterSecret } from './cluster-secret-mutation.js';
import { configValue, readView, type SecretView } from './cluster-secret-view.js';
import { isRegisteredServerSpelling } from './secret-server.js';
import { listClusterNames } from './destination.js';
import { getLabels, getPath, show } from './object-paths.js';
import type { OwnedCluster } from '../tenancy/registry.js';
import type { Findings, KindRules, KubeObject, PolicyContext, RuleScope, Violation } from './types.js';
import { violation } from './types.js';

/**
 * The cluster registered for a server in any spelling (`registry.clusterByServer`):
 * normalised as everywhere else (case, trailing dot, default port, the path as client-go
 * sends it) and without user info, query or fragment, which change what is sent, not where.
 *
 * Why the one normalisation: this once read the path through the URL parser's `href`,
 * which resolves `..` before empty segments where Go does the opposite. A platform Secret on
 * `https://team-a-dev.example.com/x//..` was no registered server here, while a team-a
 * Application with that destination was team-a's own cluster; Argo CD matched the two by
 * their text, and the tenant's syncs ran with the platform's credentials (a red-team review).
 */
function registeredServer(server: string | undefined, context: PolicyContext): OwnedCluster | undefined {
  if (server === undefined || server.trim() === '') return undefined;
  return context.registry.clusterByServer(server);
}

function labelPath(key: string): string {
  return `metadata.labels[${JSON.stringify(key)}]`;
}

/** TG-CS-01: the tenant label, when set, names the owner of the cluster in `name`. */
function checkTenantLabel(object: KubeObject, view: SecretView, context: PolicyContext): Violation[] {
  const label = getLabels(object)[context.settings.tenantLabel];
  const owned = view.name === undefined ? undefined : context.registry.clusterByName(view.name);
  if (label === undefined || owned === undefined || owned.tenant.name === label) return [];
  return [
    violation(
      'TG-CS-01',
      labelPath(context.settings.tenantLabel),
      `${show(label)} is not the owner of cluster ${show(view.name)}; set it to "${owned.tenant.name}"`,
    ),
  ];
}

/** TG-CS-02 for a tenant's Secret: `name` is one of its clusters, `server` spelled as registered. */
function checkTenantTarget(view: SecretView, tenant: Tenant, context: PolicyContext): Violation[] {
  const choices = `use one of: ${listClusterNames(tenant)}`;
  if (view.name === undefined || view.name === '')
    return [violation('TG-CS-02', dataPath('name'), `is missing; ${choices}`)];
  const cluster = tenant.clusters.find((c) => c.name === view.name);
  if (cluster === undefined) {
    const other = context.registry.clusterByName(view.name);
    const what =
      other === undefined
        ? 'is not a registered cluster'
        : `is a cluster of tenant "${other.tenant.name}", not`;
    return [
      violation(
        'TG-CS-02',
        dataPath('name'),
        `${show(view.name)} ${what} of tenant "${tenant.name}"; ${choices}`,
      ),
    ];
  }
  if (view.server === undefined)
    return [
      violation(
        'TG-CS-02',
        dataPath('server'),
        `is missing; /mutate sets it to the registered "${cluster.server}"`,
      ),
    ];
  if (!isRegisteredServerSpelling(view.server, cluster.server)) {
    return [
      violation(
        'TG-CS-02',
        dataPath('server'),
        `${show(view.server)} is not the server registered for cluster "${cluster.name}"; use "${cluster.server}" exactly`,
      ),
    ];
  }
  return [];
}

/** TG-CS-02 for a Secret of no tenant that calls the plugin: only a registered cluster may. */
function checkPlatformPluginCall(view: SecretView): Violation[] {
  return [
    violation(
      'TG-CS-02',
      dataPath('name'),
      `${show(view.name)} is no registered cluster, and the Secret calls the tenant-guard plugin; only a tenant's registered cluster may call it (or use an exec profile for a platform cluster)`,
    ),
  ];
}

/**
 * TG-CS-08: a Secret whose `name` is no registered cluster may not carry the server of one,
 * in any spelling. Argo CD looks clusters up by server and takes the first match
 * (argo-cd #9606), so such a Secret would capture that tenant's syncs.
 */
function checkUnregisteredName(view: SecretView, context: PolicyContext): Violation[] {
  if (view.name !== undefined && context.registry.clusterByName(view.name) !== undefined) return [];
  const owned = registeredServer(view.server, context);
  if (owned === undefined) return [];
  return [
    violation(
      'TG-CS-08',
      dataPath('server'),
      `${show(view.server)} is the server of cluster "${owned.cluster.name}" of tenant "${owned.tenant.name}", but data.name ${show(view.name)} is no registered cluster; Argo CD would take this Secret for that cluster: name it "${owned.cluster.name}" or use another server`,
    ),
  ];
}

/** TG-CS-06 for a platform Secret: its `project` is no project a tenant lists. */
function checkPlatformProject(view: SecretView, context: PolicyContext): Violation[] {
  const owner =
    view.project === undefined || view.project === ''
      ? undefined
      : context.registry.tenantByProject(view.project);
  if (owner === undefined) return [];
  return [
    violation(
      'TG-CS-06',
      dataPath('project'),
      `${show(view.project)} is a project of tenant "${owner.name}", and this Secret's cluster is no cluster of that tenant; it would become a destination of the project: remove project or use a platform project`,
    ),
  ];
}

/** TG-CS-06: the cluster label equals `name`; `project`, if set, is one of the tenant's projects. */
function checkLabelAndProject(
  object: KubeObject,
  view: SecretView,
  tenant: Tenant,
  context: PolicyContext,
): Violation[] {
  const out: Violation[] = [];
  const key = context.settings.clusterLabel;
  const label = getLabels(object)[key];
  if (view.name !== undefined && view.name !== '' && label !== view.name) {
    out.push(
      violation(
        'TG-CS-06',
        labelPath(key),
        `${label === undefined ? 'is missing' : `${show(label)} differs from data.name`}; it must equal ${show(view.name)} (/mutate sets it when missing)`,
      ),
    );
  }
  if (view.project !== undefined && view.project !== '' && !tenant.projects.includes(view.project)) {
    out.push(
      violation(
        'TG-CS-06',
        dataPath('project'),
        `${show(view.project)} is not a project of tenant "${tenant.name}"; use one of: ${tenant.projects.join(', ')}`,
      ),
    );
  }
  return out;
}

const SECRET_TYPE_LABEL = 'argocd.argoproj.io/secret-type';

/** True when the object carries `argocd.argoproj.io/secret-type: cluster`. */
function isClusterSecret(object: KubeObject | undefined): boolean {
  return getLabels(object)[SECRET_TYPE_LABEL] === 'cluster';
}

/**
 * TG-CS-07: removing the cluster label, changing `name`, deleting, and removing the
 * secret-type label (a delete to Argo CD: `argocd cluster rm` does it) are for the tenant's
 * owners, trusted service accounts and platform admins only (tenant from `oldObject`).
 */
function checkProtectedChange(scope: RuleScope): Violation[] {
  const { request, tenant, role, context } = scope;
  if (tenant === undefined || role !== 'human') return [];
  const { username, groups } = request.user;
  if (context.registry.isOwner(tenant, username, groups)) return [];
  const who = `user "${username}" is not an owner of tenant "${tenant.name}"; only its owners, trusted service accounts and platform admins may`;
  if (request.operation === 'DELETE')
    return [
      violation(
        'TG-CS-07',
        'metadata.name',
        `${show(request.name)}: deleting a cluster Secret of tenant "${tenant.name}" is refused: ${who}`,
      ),
    ];
  if (request.operation !== 'UPDATE' || request.object === undefined || request.oldObject === undefined)
    return [];
  const out: Violation[] = [];
  const key = context.settings.clusterLabel;
  if (getLabels(request.oldObject)[key] !== undefined && getLabels(request.object)[key] === undefined) {
    out.push(violation('TG-CS-07', labelPath(key), `is removed: ${who}`));
  }
  if (isClusterSecret(request.oldObject) && !isClusterSecret(request.object)) {
    out.push(
      violation(
        'TG-CS-07',
        labelPath(SECRET_TYPE_LABEL),
        `is removed or changed, which takes the cluster out of Argo CD like a delete: ${who}`,
      ),
    );
  }
  const before = readView(request.oldObject).name;
  const after = readView(request.object).name;
  if (before !== after)
    out.push(
      violation('TG-CS-07', dataPath('name'), `changes from ${show(before)} to ${show(after)}: ${who}`),
    );
  return out;
}

/** A Secret of no tenant: TG-CS-08 and its project; what it runs, if it is not an exec profile. */
function validatePlatform(view: SecretView, context: PolicyContext): Violation[] {
  const out: Violation[] = [];
  const config = view.config;
  const reading = view.exec;
  if ((config === undefined || config.ok) && reading.runsCommand && !isProfiled(reading, context.settings)) {
    // It runs something that is no exec profile: the plugin, or what must be judged as it.
    if (reading.execCall?.command === context.settings.pluginCommand)
      out.push(...checkPlatformPluginCall(view));
    if (config !== undefined) out.push(...checkConfigKeys(config.value, config.duplicateKeys));
    out.push(
      ...checkPlatformExec(reading, view.name, context.settings),
      ...checkTls(configValue(view), undefined),
    );
  }
  out.push(...checkPlatformProject(view, context), ...checkUnregisteredName(view, context));
  return out;
}

function validateObject(object: KubeObject, tenant: Tenant | undefined, context: PolicyContext): Violation[] {
  const view = readView(object);
  if (tenant === undefined) return [...view.problems, ...validatePlatform(view, context)];
  const out: Violation[] = [...view.problems];
  const cluster = tenant.clusters.find((c) => c.name === view.name);
  out.push(...checkTenantLabel(object, view, context), ...checkTenantTarget(view, tenant, context));
  if (view.config === undefined || view.config.ok) {
    if (view.config !== undefined) out.push(...checkConfigKeys(view.config.value, view.config.duplicateKeys));
    out.push(
      ...checkTenantExec(view.exec, view.name, context.settings),
      ...checkTls(configValue(view), cluster),
    );
  }
  out.push(...checkLabelAndProject(object, view, tenant, context), ...checkUnregisteredName(view, context));
  return out;
}

/**
 * Rules for Argo CD cluster Secrets. The tenant named by a cluster Secret is the owner of the
 * cluster in its `name`. On DELETE only TG-CS-07 applies.
 */
export const clusterSecretRules: KindRules = {
  kind: 'ClusterSecret',

  namedTenant(object, context) {
    const name = readView(object).name;
    return name === undefined ? undefined : context.registry.clusterByName(name)?.tenant;
  },

  hasMaterialChange(oldObject, newObject) {
    const labels = (o: KubeObject) =>
      JSON.stringify(Object.entries(getLabels(o)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return (
      !sameSecretData(oldObject, newObject) ||
      getPath(oldObject, ['type']) !== getPath(newObject, ['type']) ||
      labels(oldObject) !== labels(newObject)
    );
  },

  mutate(edit, scope) {
    mutateClusterSecret(edit, scope);
  },

  validate(scope: RuleScope): Findings {
    const { request, tenant, context } = scope;
    if (request.operation === 'CONNECT') return { violations: [], warnings: [] };
    const out = checkProtectedChange(scope);
    // Taking the secret-type label off is a delete to Argo CD: judged only by who may delete.
    const leaves =
      request.operation === 'UPDATE' &&
      isClusterSecret(request.oldObject) &&
      !isClusterSecret(request.object);
    if (request.operation === 'DELETE' || request.object === undefined || leaves)
      return { violations: out, warnings: [] };
    return { violations: [...validateObject(request.object, tenant, context), ...out], warnings: [] };
  },
};
