/**
 * TG-APP-04: a sync a tenant starts deploys what the spec names, and an Application's
 * `status` is Argo CD's. Pure.
 *
 * Argo CD checks an Application against its AppProject (`sourceRepos`, destinations, the
 * hydrator's sources) by reading `spec` (util/argo ValidatePermissions). Three other places
 * feed a sync, and nothing there checks them:
 * - `operation.sync.source`, `sources` and `manifests`: the application controller syncs
 *   them in place of the spec's (controller/sync.go, newSyncOperationResult), and argocd-server
 *   sets them only for what its own checks allowed (the spec's sources; rollback to a source
 *   the controller recorded; local manifests after the `override` permission);
 * - `status.operationState`: while an operation is in flight, the controller resumes from its
 *   `operation` and `syncResult` sources, not from `operation`;
 * - `status.history`: argocd-server's Rollback copies an entry's sources into `operation`.
 * The Application CRD has no status subresource, so whoever may update an Application may
 * write all three. A tenant's owner could then sync a repository its project does not list,
 * with the credentials Argo CD keeps for that URL (a credential template for a whole Git
 * organisation serves every tenant): another tenant's private repository, rendered into its
 * own cluster. So, for a human (every requester but platform admins, whose findings evaluate
 * keeps as audited, and trusted service accounts, which are Argo CD itself):
 * - an `operation` the request sets or changes carries no `manifests`, and a `source` or
 *   `sources` only as the spec's own (what `argocd app sync` writes), compared as Go decodes
 *   them (an absent field and its zero value are the same);
 * - `status` keeps only what it had: a human may take from it, never add or change, except
 *   `operationState.phase` from `Running` to `Terminating` (what `argocd app terminate-op`
 *   does).
 * Keys are matched exactly: the API server prunes what the CRD's schema does not name,
 * case variants included, before any webhook sees the object.
 */
import { isRecord, sameJson } from '../json.js';
import { firstAddition } from './json-compare.js';
import { getPath, joinPaths, show } from './object-paths.js';
import type { KubeObject, RuleScope, Violation } from './types.js';
import { violation } from './types.js';

const BY_ARGO_CD =
  'only Argo CD (argocd-server after its own permission checks, the application controller) and platform admins set it';

/** TG-APP-04 for one request. */
export function checkSyncInputs(scope: RuleScope): Violation[] {
  const { request, role } = scope;
  if (role === 'trusted-service-account' || role === 'system-controller') return [];
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return [];
  const object = request.object;
  if (object === undefined) return [];
  const before = request.operation === 'UPDATE' ? request.oldObject : undefined;
  return [...checkOperation(object, before), ...checkStatus(object, before)];
}

/**
 * TG-APP-04 for the spec itself: a spec with `sourceHydrator` names no `source` or `sources`.
 * Argo CD then checks only the hydrator's sources against the project (util/argo
 * ValidatePermissions), yet every sync it starts, automated, through argocd-server or from an
 * empty `operation`, deploys a non-empty `spec.sources` (controller/sync.go
 * newSyncOperationResult): a second, unchecked way to deploy what the spec names. For every
 * requester (platform admins audited), since the ApplicationSet controller renders such a
 * spec from a template.
 */
export function checkHydratorSources(object: KubeObject): Violation[] {
  const spec = object.spec;
  if (!isRecord(spec) || !isRecord(spec.sourceHydrator)) return [];
  return (['source', 'sources'] as const)
    .filter((field) => !isGoZero(spec[field]))
    .map((field) =>
      violation(
        'TG-APP-04',
        `spec.${field}`,
        `is set beside spec.sourceHydrator; Argo CD checks only the hydrator's sources against the project, yet a sync deploys spec.sources: remove it (the hydrator's sync source is what is deployed)`,
      ),
    );
}

/** Go's zero values, which `omitempty` leaves out and which decode as a field left out does. */
function isGoZero(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    value === '' ||
    value === false ||
    value === 0 ||
    (Array.isArray(value) && value.length === 0)
  );
}

/**
 * True when Go decodes `a` and `b` to the same value: equal, but a field left out equals its
 * zero value. An empty object is kept (it is a non-nil pointer in Go). Explicit stack.
 */
export function sameAsGoDecodes(a: unknown, b: unknown): boolean {
  const stack: Array<[unknown, unknown]> = [[a, b]];
  for (let pair = stack.pop(); pair !== undefined; pair = stack.pop()) {
    const [x, y] = pair;
    if (x === y || (isGoZero(x) && isGoZero(y))) continue;
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) return false;
      x.forEach((element, i) => stack.push([element, y[i]]));
      continue;
    }
    if (!isRecord(x) || !isRecord(y)) return false;
    for (const key of new Set([...Object.keys(x), ...Object.keys(y)]))
      stack.push([Object.hasOwn(x, key) ? x[key] : undefined, Object.hasOwn(y, key) ? y[key] : undefined]);
  }
  return true;
}

/**
 * The sources Argo CD checked for this spec: `spec.GetSource()` (the hydrator's sync source,
 * else the first of `sources`, else `source`) and, for a multi-source spec, `sources`
 * (pkg/apis/application/v1alpha1 ApplicationSpec.GetSource, HasMultipleSources).
 */
function checkedSources(object: KubeObject): { source: unknown; sources: unknown } {
  const hydrator = getPath(object, ['spec', 'sourceHydrator']);
  if (isRecord(hydrator)) {
    const sync = isRecord(hydrator.syncSource) ? hydrator.syncSource : {};
    const dry = isRecord(hydrator.drySource) ? hydrator.drySource : {};
    return {
      source: {
        repoURL: isGoZero(sync.repoURL) ? dry.repoURL : sync.repoURL,
        path: sync.path,
        targetRevision: sync.targetBranch,
      },
      sources: undefined,
    };
  }
  const sources = getPath(object, ['spec', 'sources']);
  if (Array.isArray(sources) && sources.length > 0) return { source: sources[0], sources };
  return { source: getPath(object, ['spec', 'source']), sources: undefined };
}

/** The `operation` part: judged only when the request sets or changes it. */
function checkOperation(object: KubeObject, before: KubeObject | undefined): Violation[] {
  const operation = object.operation;
  if (operation === undefined || operation === null || sameJson(operation, before?.operation)) return [];
  if (!isRecord(operation))
    return [violation('TG-REQ-01', 'operation', `is ${show(operation)}, not an object`)];
  const sync = operation.sync;
  if (sync === undefined || sync === null) return [];
  if (!isRecord(sync)) return [violation('TG-REQ-01', 'operation.sync', `is ${show(sync)}, not an object`)];
  const out: Violation[] = [];
  if (!isGoZero(sync.manifests))
    out.push(
      violation(
        'TG-APP-04',
        'operation.sync.manifests',
        `carries local manifests, which Argo CD deploys in place of the spec's sources without checking them against the project; ${BY_ARGO_CD}`,
      ),
    );
  const checked = checkedSources(object);
  if (!isGoZero(sync.source) && !sameAsGoDecodes(sync.source, checked.source))
    out.push(
      violation(
        'TG-APP-04',
        'operation.sync.source',
        `${describeSource(sync.source)} is not the spec's source, and Argo CD syncs it without checking it against the project's sourceRepos; leave it out (the sync then uses the spec's), or ${BY_ARGO_CD.replace('only ', 'let ')}`,
      ),
    );
  if (
    !isGoZero(sync.sources) &&
    (checked.sources === undefined || !sameAsGoDecodes(sync.sources, checked.sources))
  )
    out.push(
      violation(
        'TG-APP-04',
        'operation.sync.sources',
        `are not the spec's sources, and Argo CD syncs them without checking them against the project's sourceRepos; leave them out (the sync then uses the spec's)`,
      ),
    );
  return out;
}

/** `repoURL "https://..."` of a source, or the value itself when it has none. */
function describeSource(source: unknown): string {
  return isRecord(source) && typeof source.repoURL === 'string'
    ? `repoURL ${show(source.repoURL)}`
    : show(source);
}

/**
 * The `status` part: what the request's status adds to or changes from the old object's (none
 * on CREATE), with `argocd app terminate-op`'s one change allowed.
 */
function checkStatus(object: KubeObject, before: KubeObject | undefined): Violation[] {
  const status = object.status;
  if (status === undefined || status === null) return [];
  const had = before?.status ?? {};
  const added = firstAddition(had, asIfNotTerminated(had, status));
  if (added === undefined) return [];
  const path = joinPaths('status', added);
  return [
    violation(
      'TG-APP-04',
      path,
      `is added or changed by a human; an Application's status is Argo CD's record, which its application controller resumes syncs from (operationState) and argocd-server rolls back to (history), unchecked against the project. ${BY_ARGO_CD.replace('set it', 'write it')}; others may only remove from it, or set operationState.phase from Running to Terminating`,
    ),
  ];
}

/** `status` with `operationState.phase` put back to `Running` when it only went to `Terminating`. */
function asIfNotTerminated(had: unknown, status: unknown): unknown {
  const wasRunning = getPath(had, ['operationState', 'phase']) === 'Running';
  const state = isRecord(status) ? status.operationState : undefined;
  if (!wasRunning || !isRecord(state) || state.phase !== 'Terminating') return status;
  return { ...(status as Record<string, unknown>), operationState: { ...state, phase: 'Running' } };
}
