import { KubeConfig } from '@kubernetes/client-node';
import { TenantGuardError } from './errors.js';

/**
 * The control plane's Kubernetes API for the broker (TokenReview, key Secret) and the
 * Tenant watch: the `--kubeconfig` file when given, else in-cluster when
 * KUBERNETES_SERVICE_HOST is set, else undefined (the caller says what then fails).
 * @throws TenantGuardError ERR_SETTINGS_INVALID when the kubeconfig file cannot be loaded.
 */
export function loadKubeConfig(kubeconfig: string | undefined, env: NodeJS.ProcessEnv): KubeConfig | undefined {
  const kc = new KubeConfig();
  if (kubeconfig !== undefined) {
    try {
      kc.loadFromFile(kubeconfig);
    } catch (cause) {
      throw new TenantGuardError('ERR_SETTINGS_INVALID', `setting --kubeconfig: cannot load ${kubeconfig}`, { cause });
    }
    return kc;
  }
  if (env.KUBERNETES_SERVICE_HOST !== undefined) {
    kc.loadFromCluster();
    return kc;
  }
  return undefined;
}
