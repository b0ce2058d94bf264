/**
 * What `/mutate` adds to a cluster Secret (SPEC section 5): the tenant and cluster labels
 * when missing, the registered `server`, and the parts of `config` tenant-guard writes (the
 * canonical exec call, the registered CA). It only adds: what is there is left for the
 * rules of cluster-secret.ts to judge. Pure: writes only through the edit it is given.
 */
import type { Tenant } from '../tenancy/tenant.js';
import { completeConfig } from './cluster-secret-config.js';
import { addDataField, replaceDataConfig } from './cluster-secret-data.js';
import { cloneJson } from './json-clone.js';
import { canonicalExec } from './cluster-secret-exec.js';
import { readView, type SecretView } from './cluster-secret-view.js';
import { writableLabels, type ObjectEdit } from './object-edit.js';
import type { PolicyContext, RuleScope } from './types.js';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Adds the cluster's `server` and the missing parts of `config` to `data` (base64). */
function mutateData(edit: ObjectEdit, view: SecretView, tenant: Tenant, context: PolicyContext): void {
  const cluster = tenant.clusters.find((c) => c.name === view.name);
  if (cluster === undefined || view.data.problems.length > 0) return;
  addDataField(edit, 'server', cluster.server);
  // stringData wins over data: a config given there is left as it is.
  if (view.data.fromStringData.has('config')) return;
  if (view.config === undefined) {
    const config: Record<string, unknown> = {
      execProviderConfig: canonicalExec(context.settings, cluster.name),
    };
    if (cluster.caData !== undefined) config.tlsClientConfig = { caData: cluster.caData };
    addDataField(edit, 'config', JSON.stringify(config));
    return;
  }
  // Rewriting a config with repeated keys would drop what Go's decoder keeps: leave it for TG-CS-03.
  if (!view.config.ok || view.config.duplicateKeys.length > 0) return;
  const config = cloneJson(view.config.value);
  if (completeConfig(config, cluster.name, context.settings, cluster.caData))
    replaceDataConfig(edit, JSON.stringify(config));
}

/**
 * `/mutate` on a cluster Secret: the tenant label names the owner of the cluster in `name`
 * (else the requester's tenant), the cluster label is `name` when it is a valid label value,
 * then `server` and `config` as in `mutateData`.
 */
export function mutateClusterSecret(edit: ObjectEdit, scope: RuleScope & { tenant: Tenant }): void {
  const { tenant, context } = scope;
  const view = readView(edit.object);
  const labels = writableLabels(edit);
  const owner = view.name === undefined ? undefined : context.registry.clusterByName(view.name)?.tenant;
  if (labels[context.settings.tenantLabel] === undefined)
    labels[context.settings.tenantLabel] = (owner ?? tenant).name;
  if (
    view.name !== undefined &&
    view.name !== '' &&
    labels[context.settings.clusterLabel] === undefined &&
    view.name.length <= 63 &&
    LABEL_VALUE.test(view.name)
  ) {
    labels[context.settings.clusterLabel] = view.name;
  }
  mutateData(edit, view, tenant, context);
}
