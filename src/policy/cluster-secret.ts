/**
 * The Argo CD cluster Secret rules (SPEC section 5): TG-CS-01..07. A cluster Secret is a v1
 * Secret labelled `argocd.argoproj.io/secret-type: cluster`; its `name`, `server`, `project`
 * and `config` fields are read from `data` (base64) overlaid by `stringData`. Pure.
 *
 * A Secret of no tenant whose `name` is no registered cluster is the platform's own (e.g.
 * `in-cluster`); it gets only TG-CS-02 and TG-CS-04, and only when it would run the
 * tenant-guard plugin: such a Secret could otherwise send a tenant's token anywhere.
 * https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/#clusters
 */
import type { Tenant } from '../tenancy/tenant.js';
import { callsPlugin, canonicalExec, checkConfigKeys, checkExec, checkTls, completeConfig } from './cluster-secret-config.js';
import { addDataField, dataPath, fieldText, readSecretData, replaceDataConfig, sameSecretData, type SecretData } from './cluster-secret-data.js';
import { parseClusterConfig, type ParsedConfig } from './cluster-secret-json.js';
import { listClusterNames } from './destination.js';
import { getLabels, getPath, isRecord, show } from './object-paths.js';
import type { Findings, KindRules, KubeObject, PolicyContext, RuleScope, Violation } from './types.js';
import { violation } from './types.js';

/** What the rules read from one cluster Secret. */
interface SecretView {
  readonly data: SecretData;
  readonly name: string | undefined;
  readonly server: string | undefined;
  readonly project: string | undefined;
  /** Absent when the Secret has no `config`. */
  readonly config: ParsedConfig | undefined;
  /** TG-REQ-01: unreadable data, unparseable config. */
  readonly problems: readonly Violation[];
}

function readView(object: KubeObject | undefined): SecretView {
  const data = readSecretData(object);
  const problems = [...data.problems];
  const configText = fieldText(data, 'config');
  const config = configText === undefined ? undefined : parseClusterConfig(configText);
  if (config !== undefined && !config.ok) problems.push(violation('TG-REQ-01', dataPath('config'), `${config.reason}; Argo CD cannot read it either`));
  return { data, name: fieldText(data, 'name'), server: fieldText(data, 'server'), project: fieldText(data, 'project'), config, problems };
}

function configValue(view: SecretView): Record<string, unknown> | undefined {
  return view.config?.ok === true ? view.config.value : undefined;
}

function labelPath(key: string): string {
  return `metadata.labels[${JSON.stringify(key)}]`;
}

/** TG-CS-01: the tenant label, when set, names the owner of the cluster in `name`. */
function checkTenantLabel(object: KubeObject, view: SecretView, context: PolicyContext): Violation[] {
  const label = getLabels(object)[context.settings.tenantLabel];
  const owned = view.name === undefined ? undefined : context.registry.clusterByName(view.name);
  if (label === undefined || owned === undefined || owned.tenant.name === label) return [];
  return [violation('TG-CS-01', labelPath(context.settings.tenantLabel), `${show(label)} is not the owner of cluster ${show(view.name)}; set it to "${owned.tenant.name}"`)];
}

/** TG-CS-02 for a tenant's Secret: `name` is one of its clusters, `server` spelled as registered. */
function checkTenantTarget(view: SecretView, tenant: Tenant, context: PolicyContext): Violation[] {
  const choices = `use one of: ${listClusterNames(tenant)}`;
  if (view.name === undefined || view.name === '') return [violation('TG-CS-02', dataPath('name'), `is missing; ${choices}`)];
  const cluster = tenant.clusters.find((c) => c.name === view.name);
  if (cluster === undefined) {
    const other = context.registry.clusterByName(view.name);
    const what = other === undefined ? 'is not a registered cluster' : `is a cluster of tenant "${other.tenant.name}", not`;
    return [violation('TG-CS-02', dataPath('name'), `${show(view.name)} ${what} of tenant "${tenant.name}"; ${choices}`)];
  }
  if (view.server === undefined) return [violation('TG-CS-02', dataPath('server'), `is missing; /mutate sets it to the registered "${cluster.server}"`)];
  if (view.server !== cluster.server) {
    return [violation('TG-CS-02', dataPath('server'), `${show(view.server)} is not the server registered for cluster "${cluster.name}"; use "${cluster.server}" exactly`)];
  }
  return [];
}

/** TG-CS-02 for a Secret of no tenant that runs the plugin: only for a registered name, never a tenant's server. */
function checkPlatformTarget(view: SecretView, context: PolicyContext): Violation[] {
  const out: Violation[] = [];
  const owned = view.name === undefined ? undefined : context.registry.clusterByName(view.name);
  if (owned === undefined) {
    out.push(violation('TG-CS-02', dataPath('name'), `${show(view.name)} is no registered cluster, and the Secret runs the tenant-guard plugin; only a tenant's registered cluster may call it (or use another credential for a platform cluster)`));
  } else if (view.server !== owned.cluster.server) {
    out.push(violation('TG-CS-02', dataPath('server'), `${show(view.server)} is not the server registered for cluster "${owned.cluster.name}"; use "${owned.cluster.server}" exactly`));
  }
  const byServer = view.server === undefined ? undefined : context.registry.clusterByServer(view.server);
  if (byServer !== undefined && byServer.cluster.name !== view.name) {
    out.push(violation('TG-CS-02', dataPath('server'), `${show(view.server)} is the server of cluster "${byServer.cluster.name}" of tenant "${byServer.tenant.name}", not of ${show(view.name)}`));
  }
  return out;
}

/** TG-CS-06: the cluster label equals `name`; `project`, if set, is one of the tenant's projects. */
function checkLabelAndProject(object: KubeObject, view: SecretView, tenant: Tenant, context: PolicyContext): Violation[] {
  const out: Violation[] = [];
  const key = context.settings.clusterLabel;
  const label = getLabels(object)[key];
  if (view.name !== undefined && view.name !== '' && label !== view.name) {
    out.push(violation('TG-CS-06', labelPath(key), `${label === undefined ? 'is missing' : `${show(label)} differs from data.name`}; it must equal ${show(view.name)} (/mutate sets it when missing)`));
  }
  if (view.project !== undefined && view.project !== '' && !tenant.projects.includes(view.project)) {
    out.push(violation('TG-CS-06', dataPath('project'), `${show(view.project)} is not a project of tenant "${tenant.name}"; use one of: ${tenant.projects.join(', ')}`));
  }
  return out;
}

/** TG-CS-07: removing the cluster label, changing `name`, or deleting: tenant owners and platform admins only. */
function checkProtectedChange(scope: RuleScope): Violation[] {
  const { request, tenant, role, context } = scope;
  if (tenant === undefined || role === 'platform-admin') return [];
  const { username, groups } = request.user;
  if (role === 'human' && context.registry.isOwner(tenant, username, groups)) return [];
  const who = `${role === 'human' ? 'user' : 'service account'} "${username}" is not an owner of tenant "${tenant.name}"; only its owners and platform admins may`;
  if (request.operation === 'DELETE') return [violation('TG-CS-07', 'metadata.name', `${show(request.name)}: deleting a cluster Secret of tenant "${tenant.name}" is refused: ${who}`)];
  if (request.operation !== 'UPDATE' || request.object === undefined || request.oldObject === undefined) return [];
  const out: Violation[] = [];
  const key = context.settings.clusterLabel;
  if (getLabels(request.oldObject)[key] !== undefined && getLabels(request.object)[key] === undefined) {
    out.push(violation('TG-CS-07', labelPath(key), `is removed: ${who}`));
  }
  const before = readView(request.oldObject).name;
  const after = readView(request.object).name;
  if (before !== after) out.push(violation('TG-CS-07', dataPath('name'), `changes from ${show(before)} to ${show(after)}: ${who}`));
  return out;
}

function validateObject(object: KubeObject, tenant: Tenant | undefined, context: PolicyContext): Violation[] {
  const view = readView(object);
  const out: Violation[] = [...view.problems];
  const config = configValue(view);
  const configUnreadable = view.config !== undefined && !view.config.ok;
  if (tenant === undefined) {
    if (!callsPlugin(config, context.settings)) return out;
    return [...out, ...checkPlatformTarget(view, context), ...checkExec(config, view.name, context.settings)];
  }
  const cluster = tenant.clusters.find((c) => c.name === view.name);
  out.push(...checkTenantLabel(object, view, context), ...checkTenantTarget(view, tenant, context));
  if (!configUnreadable) {
    if (view.config?.ok === true) out.push(...checkConfigKeys(view.config.value, view.config.duplicateKeys));
    out.push(...checkExec(config, view.name, context.settings), ...checkTls(config, cluster?.name, cluster?.caData));
  }
  out.push(...checkLabelAndProject(object, view, tenant, context));
  return out;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Adds the cluster's `server` and the missing parts of `config` to `data` (base64). */
function mutateData(object: KubeObject, view: SecretView, tenant: Tenant, context: PolicyContext): void {
  const cluster = tenant.clusters.find((c) => c.name === view.name);
  if (cluster === undefined || view.data.problems.length > 0) return;
  addDataField(object, 'server', cluster.server);
  // stringData wins over data: a config given there is left as it is.
  if (view.data.fromStringData.has('config')) return;
  if (view.config === undefined) {
    const config: Record<string, unknown> = { execProviderConfig: canonicalExec(context.settings, cluster.name) };
    if (cluster.caData !== undefined) config.tlsClientConfig = { caData: cluster.caData };
    addDataField(object, 'config', JSON.stringify(config));
    return;
  }
  // Rewriting a config with repeated keys would drop what Go's decoder keeps: leave it for TG-CS-03.
  if (!view.config.ok || view.config.duplicateKeys.length > 0) return;
  const config = structuredClone(view.config.value);
  if (completeConfig(config, cluster.name, context.settings, cluster.caData)) replaceDataConfig(object, JSON.stringify(config));
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
    const labels = (o: KubeObject) => JSON.stringify(Object.entries(getLabels(o)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return !sameSecretData(oldObject, newObject) || getPath(oldObject, ['type']) !== getPath(newObject, ['type']) || labels(oldObject) !== labels(newObject);
  },

  mutate(object, scope) {
    const { tenant, context } = scope;
    const view = readView(object);
    const metadata = isRecord(object.metadata) ? object.metadata : (object.metadata = {});
    const labels = isRecord(metadata.labels) ? metadata.labels : (metadata.labels = {});
    const owner = view.name === undefined ? undefined : context.registry.clusterByName(view.name)?.tenant;
    if (labels[context.settings.tenantLabel] === undefined) labels[context.settings.tenantLabel] = (owner ?? tenant).name;
    if (view.name !== undefined && view.name !== '' && labels[context.settings.clusterLabel] === undefined && view.name.length <= 63 && LABEL_VALUE.test(view.name)) {
      labels[context.settings.clusterLabel] = view.name;
    }
    mutateData(object, view, tenant, context);
  },

  validate(scope: RuleScope): Findings {
    const { request, tenant, context } = scope;
    if (request.operation === 'CONNECT') return { violations: [], warnings: [] };
    const out = checkProtectedChange(scope);
    if (request.operation === 'DELETE' || request.object === undefined) return { violations: out, warnings: [] };
    return { violations: [...validateObject(request.object, tenant, context), ...out], warnings: [] };
  },
};
