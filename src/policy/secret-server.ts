/**
 * TG-CS-02's comparison of a cluster Secret's `server` with the registered one, shared with
 * the broker, which compares the server a token will be presented to (the exec plugin's
 * `KUBERNETES_EXEC_INFO`, `spec.cluster.server`) with the target's registered server. Pure.
 */
import { trimEndOf } from './text-trim.js';

/**
 * True when `server` is `registered` as Argo CD reads it: Argo CD strips every trailing slash
 * from a cluster Secret's `server` (util/db/cluster.go, SecretToCluster); otherwise spelled
 * exactly as registered.
 */
export function isRegisteredServerSpelling(server: string, registered: string): boolean {
  return trimEndOf(server, '/') === trimEndOf(registered, '/');
}
