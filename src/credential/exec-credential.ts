/**
 * The ExecCredential the plugin prints for client-go: the apiVersion to answer in and the
 * server the token will be presented to (both from KUBERNETES_EXEC_INFO), and the token with
 * its expiry as RFC 3339 in whole seconds.
 */
import { TenantGuardError } from '../errors.js';
import { isRecord, ownValue } from '../json.js';

/** The ExecCredential API versions client-go speaks today (v1alpha1 went with Kubernetes 1.24). */
export type ExecCredentialApiVersion =
  'client.authentication.k8s.io/v1' | 'client.authentication.k8s.io/v1beta1';

const SUPPORTED: readonly ExecCredentialApiVersion[] = [
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
];

function isSupported(value: string): value is ExecCredentialApiVersion {
  return SUPPORTED.some((v) => v === value);
}

/** Characters a server URL may have: the plugin sends no longer one, and the broker refuses one. */
export const MAX_SERVER_CHARS = 2048;

/** What the plugin reads from KUBERNETES_EXEC_INFO. */
export interface ExecInfo {
  apiVersion: ExecCredentialApiVersion;
  /**
   * `spec.cluster.server`: the URL client-go will present the credential to, given when the
   * exec config has `provideClusterInfo: true`; undefined without cluster info.
   */
  server?: string;
}

function field(value: unknown, key: string): unknown {
  return isRecord(value) ? ownValue(value, key) : undefined;
}

/**
 * Reads KUBERNETES_EXEC_INFO, which client-go sets to an ExecCredential naming the version of
 * the kubeconfig's exec config
 * (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#input-and-output-formats):
 * the apiVersion to answer in (unset or empty means v1, as the original plugin answered) and,
 * when client-go sent cluster info, `spec.cluster.server`, which the broker binds the token to
 * (ADR 0011).
 * @throws TenantGuardError ERR_CREDENTIAL_EXEC_INFO when it is not JSON, names a version we do
 *         not speak, or has cluster info whose server is not one http(s) URL of bounded length.
 */
export function readExecInfo(execInfo: string | undefined): ExecInfo {
  if (execInfo === undefined || execInfo.trim() === '')
    return { apiVersion: 'client.authentication.k8s.io/v1' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(execInfo);
  } catch (cause) {
    throw new TenantGuardError('ERR_CREDENTIAL_EXEC_INFO', 'KUBERNETES_EXEC_INFO is not JSON', { cause });
  }
  const apiVersion = readApiVersion(parsed);
  const cluster = field(field(parsed, 'spec'), 'cluster');
  if (cluster === undefined || cluster === null) return { apiVersion };
  return { apiVersion, server: readServer(field(cluster, 'server')) };
}

function readServer(server: unknown): string {
  const bad = (why: string): TenantGuardError =>
    new TenantGuardError(
      'ERR_CREDENTIAL_EXEC_INFO',
      `KUBERNETES_EXEC_INFO spec.cluster.server ${why}; the cluster's server must be an http(s) URL`,
    );
  if (server === undefined || server === null || server === '') throw bad('is missing');
  if (typeof server !== 'string') throw bad('is not a string');
  if (server.length > MAX_SERVER_CHARS)
    throw bad(`has ${server.length} characters, more than ${MAX_SERVER_CHARS}`);
  if (!URL.canParse(server) || !/^https?:$/.test(new URL(server).protocol)) throw bad('is no http(s) URL');
  return server;
}

function readApiVersion(parsed: unknown): ExecCredentialApiVersion {
  const apiVersion = field(parsed, 'apiVersion');
  if (typeof apiVersion !== 'string')
    throw new TenantGuardError('ERR_CREDENTIAL_EXEC_INFO', 'KUBERNETES_EXEC_INFO has no apiVersion');
  if (!isSupported(apiVersion)) {
    throw new TenantGuardError(
      'ERR_CREDENTIAL_EXEC_INFO',
      `KUBERNETES_EXEC_INFO asks for ${JSON.stringify(apiVersion).slice(0, 80)}; supported: ${SUPPORTED.join(', ')}`,
    );
  }
  return apiVersion;
}

/** An ExecCredential as printed on stdout. */
export interface ExecCredential {
  apiVersion: ExecCredentialApiVersion;
  kind: 'ExecCredential';
  status: { token: string; expirationTimestamp?: string };
}

/** RFC 3339 in whole seconds, UTC, rounded down (the form Kubernetes writes `metav1.Time` in). */
export function formatTimestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Builds the ExecCredential for a token.
 * @param expiresAt the token's own expiry (its `exp`), ms since the epoch; when undefined no
 *        `expirationTimestamp` is set and client-go keeps the token until a request gets 401
 * @param marginMs how long before `expiresAt` to report it expired, because client-go reuses
 *        a credential until exactly `expirationTimestamp` and API servers allow no leeway on `exp`
 */
export function buildExecCredential(
  apiVersion: ExecCredentialApiVersion,
  token: string,
  expiresAt: number | undefined,
  marginMs: number,
): ExecCredential {
  const status: ExecCredential['status'] = { token };
  if (expiresAt !== undefined) status.expirationTimestamp = formatTimestamp(expiresAt - marginMs);
  return { apiVersion, kind: 'ExecCredential', status };
}
