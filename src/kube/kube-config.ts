import { accessSync, constants } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { errnoCode, TenantGuardError } from '../errors.js';

/**
 * The control plane's Kubernetes API for the broker (TokenReview, key Secret) and the
 * Tenant watch: the `--kubeconfig` file when given, else in-cluster when
 * KUBERNETES_SERVICE_HOST is set, else undefined (the caller says what then fails).
 *
 * The loaded configuration is checked at once (`kubeConfigProblem`): client-node loads
 * almost anything and fails only at the first call, with an error that has no network code
 * and so reads as "the API server is unreachable" in every log after it.
 * @throws TenantGuardError ERR_SETTINGS_INVALID when the kubeconfig file cannot be loaded or
 *   cannot work, saying why.
 */
export function loadKubeConfig(
  kubeconfig: string | undefined,
  env: NodeJS.ProcessEnv,
): KubeConfig | undefined {
  const kc = new KubeConfig();
  if (kubeconfig !== undefined) {
    try {
      kc.loadFromFile(kubeconfig);
    } catch (cause) {
      throw new TenantGuardError(
        'ERR_SETTINGS_INVALID',
        `setting --kubeconfig: cannot load ${kubeconfig}: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
    const problem = kubeConfigProblem(kc);
    if (problem !== undefined)
      throw new TenantGuardError('ERR_SETTINGS_INVALID', `setting --kubeconfig: ${kubeconfig}: ${problem}`);
    return kc;
  }
  if (env.KUBERNETES_SERVICE_HOST !== undefined) {
    kc.loadFromCluster();
    const problem = kubeConfigProblem(kc);
    if (problem !== undefined)
      throw new TenantGuardError(
        'ERR_SETTINGS_INVALID',
        `the in-cluster Kubernetes configuration: ${problem}`,
      );
    return kc;
  }
  return undefined;
}

/**
 * What keeps client-node from calling the API server with this configuration, found
 * without calling it; undefined when nothing does. Never includes a token or key.
 */
export function kubeConfigProblem(kc: KubeConfig): string | undefined {
  const contextName = kc.getCurrentContext();
  if (contextName === undefined || contextName === '') return 'no current-context is set';
  const context = kc.getContextObject(contextName);
  if (context === null)
    return `current-context "${contextName}" is not among its contexts (${
      kc
        .getContexts()
        .map((c) => c.name)
        .join(', ') || 'none'
    })`;
  const cluster = kc.getCurrentCluster();
  if (cluster === null)
    return `context "${contextName}" names cluster "${context.cluster}", which is not among its clusters`;
  const where = `cluster "${cluster.name}"`;
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    return `${where}: server "${cluster.server}" is not a URL`;
  }
  if (url.protocol === 'http:' && cluster.skipTLSVerify !== true) {
    return `${where}: server ${cluster.server} is plain HTTP, which @kubernetes/client-node refuses unless the cluster sets insecure-skip-tls-verify: true ("HTTP protocol is not allowed when skipTLSVerify is not set or false"); use the API server's https URL`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return `${where}: server ${cluster.server} is not an https URL`;
  if (context.user !== undefined && context.user !== '' && kc.getCurrentUser() === null)
    return `context "${contextName}" names user "${context.user}", which is not among its users`;
  const user = kc.getCurrentUser();
  const files: Array<[string, string | undefined]> = [
    [`${where}: certificate-authority`, cluster.caFile],
    [`user "${user?.name ?? ''}": client-certificate`, user?.certFile],
    [`user "${user?.name ?? ''}": client-key`, user?.keyFile],
  ];
  for (const [what, file] of files) {
    if (file === undefined || file === '') continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      return `${what} ${file} cannot be read (${errnoCode(err) ?? 'error'})`;
    }
  }
  return undefined;
}
