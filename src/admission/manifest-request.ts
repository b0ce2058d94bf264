/**
 * The AdmissionRequest the API server would send for a write of a manifest: what
 * `tenant-guard check` runs through the webhook's own path, and what the tests POST to it.
 * One builder, so the offline check and the tests cannot drift from each other.
 * https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request
 */
import { TenantGuardError } from '../errors.js';
import { isRecord } from '../json.js';
import { groupVersion, type GroupVersionKind } from '../policy/evaluate.js';
import type { KubeObject, Operation, UserInfo } from '../policy/types.js';

/** One write of a manifest, as a client asks the API server to make it. */
export interface ManifestWrite {
  readonly uid: string;
  readonly operation: Operation;
  readonly user: UserInfo;
  /** The object written; absent on DELETE. */
  readonly object?: KubeObject | undefined;
  /** The object as stored: on UPDATE and DELETE. */
  readonly oldObject?: KubeObject | undefined;
  /**
   * The request namespace (the API server takes it from the URL), whatever the manifest
   * says. Default: the manifest's `metadata.namespace`, else `defaultNamespace`, else `''`.
   */
  readonly namespace?: string | undefined;
  /** The request namespace of a manifest that names none (kubectl's `default`). */
  readonly defaultNamespace?: string | undefined;
  /** Default false. */
  readonly dryRun?: boolean | undefined;
}

/**
 * An AdmissionRequest (`admission.k8s.io/v1`) as JSON. A type, not an interface, so that it
 * is a `Record<string, unknown>` as `readAdmissionRequest` takes it.
 */
export type ManifestAdmissionRequest = {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource: { readonly group: string; readonly version: string; readonly resource: string };
  readonly requestKind: GroupVersionKind;
  readonly namespace: string;
  readonly name: string;
  readonly operation: Operation;
  readonly userInfo: { readonly username: string; readonly groups: string[] };
  readonly object?: KubeObject;
  readonly oldObject?: KubeObject;
  readonly dryRun: boolean;
};

/** The group/version/kind of a manifest, from its `apiVersion` and `kind` (`''` where missing). */
export function manifestGvk(object: KubeObject): GroupVersionKind {
  const apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion : '';
  const kind = typeof object.kind === 'string' ? object.kind : '';
  return { ...groupVersion(apiVersion), kind };
}

/** A non-empty string of the manifest's metadata, if it has one. */
function metadataString(object: KubeObject, key: 'name' | 'namespace'): string | undefined {
  const value = isRecord(object.metadata) ? object.metadata[key] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The API server fills the request namespace into an object that names none. */
function withNamespace(object: KubeObject, namespace: string): KubeObject {
  if (!isRecord(object.metadata) || metadataString(object, 'namespace') !== undefined) return object;
  return { ...object, metadata: { ...object.metadata, namespace } };
}

/**
 * The AdmissionRequest for `write`. Its kind, name and namespace are those of `object`, or
 * of `oldObject` when there is no `object` (DELETE); `resource` is the kind's plural, as for
 * every kind tenant-guard judges (`applications`, `applicationsets`, `appprojects`,
 * `secrets`). When `namespace` or `defaultNamespace` is given, the request namespace is
 * also filled into `object` and `oldObject` where their metadata names none, as the API
 * server does before admission; otherwise both are sent as they are.
 * @throws TenantGuardError ERR_USAGE when the write has neither `object` nor `oldObject`.
 */
export function admissionRequestFor(write: ManifestWrite): ManifestAdmissionRequest {
  const subject = write.object ?? write.oldObject;
  if (subject === undefined) throw new TenantGuardError('ERR_USAGE', 'a write needs object or oldObject');
  const gvk = manifestGvk(subject);
  const fill = write.namespace !== undefined || write.defaultNamespace !== undefined;
  const namespace = write.namespace ?? metadataString(subject, 'namespace') ?? write.defaultNamespace ?? '';
  const sent = (object: KubeObject): KubeObject => (fill ? withNamespace(object, namespace) : object);
  return {
    uid: write.uid,
    kind: gvk,
    resource: { group: gvk.group, version: gvk.version, resource: `${gvk.kind.toLowerCase()}s` },
    requestKind: gvk,
    namespace,
    name: metadataString(subject, 'name') ?? '',
    operation: write.operation,
    userInfo: { username: write.user.username, groups: [...write.user.groups] },
    ...(write.object === undefined ? {} : { object: sent(write.object) }),
    ...(write.oldObject === undefined ? {} : { oldObject: sent(write.oldObject) }),
    dryRun: write.dryRun ?? false,
  };
}
