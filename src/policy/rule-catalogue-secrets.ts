/**
 * The cluster Secret and AppProject entries of the rule catalogue (rule-catalogue.ts), in the
 * order of SPEC section 5; kept apart only to keep each file short.
 */
export const CLUSTER_SECRET_AND_PROJECT_RULES = [
  {
    id: 'TG-CS-01',
    title: "A cluster Secret's tenant label is its cluster's owner",
    section: '5',
    module: 'src/policy/cluster-secret.ts',
    protects: "The Secret of a tenant's cluster belongs to that tenant and to no other.",
    fix: 'Set the tenant label to the owner of the cluster in `name`, or leave it to /mutate.',
    allowed: 'name: k8s-team-a-dev, labels: { tenantguard.dev/tenant: team-a }',
    denied: 'name: k8s-team-a-dev, labels: { tenantguard.dev/tenant: team-b }',
  },
  {
    id: 'TG-CS-02',
    title: 'Name and server as registered',
    section: '5',
    module: 'src/policy/cluster-secret.ts',
    protects:
      "Argo CD resolves `destination.name` through Secrets' `name`: a Secret named like a tenant's cluster with another server captures its syncs. Holds for every requester, whatever the config.",
    fix: 'Use the registered cluster name and its server exactly as the Tenant spells it (or leave `server` to /mutate).',
    allowed: 'name: k8s-team-a-dev, server: https://team-a-dev.example.com',
    denied: 'name: k8s-team-a-dev, server: https://attacker.example.com',
  },
  {
    id: 'TG-CS-03',
    title: 'Config keys from an exact allowlist',
    section: '5',
    module: 'src/policy/cluster-secret-config.ts',
    protects:
      "Keeps out `bearerToken`, `username`/`password`, `certData`/`keyData`, `awsAuthConfig` and `proxyUrl`, case variants and inherited names (`__proto__`) included; `serverName` is absent or the registered server's host, as client-go would check the certificate against another name while dialling `server`. Holds for every requester on a Secret that calls the plugin.",
    fix: "Keep only `execProviderConfig` (`command`, `args`, `apiVersion`, `installHint`, `provideClusterInfo`) and `tlsClientConfig` (`caData`, `serverName`, `insecure`) in `config`; leave `serverName` out (or the registered server's host).",
    allowed: 'config: { execProviderConfig: {...}, tlsClientConfig: { caData: ... } }',
    denied: 'config: { bearerToken: eyJ... }',
  },
  {
    id: 'TG-CS-04',
    title: 'The exec config is the plugin call or an exec profile',
    section: '5',
    module: 'src/policy/cluster-secret-exec.ts',
    protects:
      'An exec config runs inside the application controller (which holds the caller token for every tenant) and argocd-server. It is the canonical plugin call, or matches an exec profile of the settings exactly, for every Secret and requester: no shell, wrapper, interpreter or unlisted env. The plugin call has `provideClusterInfo: true`, so the broker binds each token to the server it is presented to (ADR 0011).',
    fix: 'Leave `execProviderConfig` to /mutate (the canonical call, `provideClusterInfo: true` included; Argo CD 3.5 or later), or, for a platform cluster, match a profile the platform configured.',
    allowed:
      'execProviderConfig: { command: /custom-tools/tenant-guard-credential, args: [BROKER, k8s-team-a-dev, TOKEN, --ca-file, CA], provideClusterInfo: true }',
    denied:
      'execProviderConfig: { command: /bin/sh, args: [-c, "cat /var/run/secrets/tenantguard/token | curl ..."] }',
  },
  {
    id: 'TG-CS-05',
    title: 'TLS as registered',
    section: '5',
    module: 'src/policy/cluster-secret-config.ts',
    protects:
      "`insecure` or another CA would let a man in the middle take the tenant's token; where the Tenant registers no CA, the system's roots are what it trusts, and `caData` stays absent. Holds for every requester on a Secret that calls the plugin.",
    fix: "Leave `tlsClientConfig.caData` to /mutate (the registry's CA; none where the Tenant registers none) and `insecure` absent or false.",
    allowed: "tlsClientConfig: { caData: <the Tenant's caData> }",
    denied: 'tlsClientConfig: { insecure: true }',
  },
  {
    id: 'TG-CS-06',
    title: 'Cluster label and project',
    section: '5',
    module: 'src/policy/cluster-secret.ts',
    protects:
      'The cluster label selects the Secret for `clusters` generators; a `project` on a Secret adds an implicit destination to that project.',
    fix: "Set the cluster label to `name` (or leave it to /mutate); a `project` must be one of the tenant's; a platform Secret names no tenant's project.",
    allowed: 'labels: { tenantguard.dev/cluster: k8s-team-a-dev }, project: team-a',
    denied: 'project: team-b',
  },
  {
    id: 'TG-CS-07',
    title: 'Only owners remove or rename a cluster Secret',
    section: '5',
    module: 'src/policy/cluster-secret.ts',
    protects:
      "Removing the cluster label, changing `name`, deleting, or removing the `argocd.argoproj.io/secret-type` label (what `argocd cluster rm` does) takes a tenant's cluster away.",
    fix: 'Ask an owner of the tenant, a platform admin, or use Argo CD.',
    allowed: 'an owner of team-a deletes the Secret of k8s-team-a-dev',
    denied: 'a member of team-b removes argocd.argoproj.io/secret-type from it',
  },
  {
    id: 'TG-CS-08',
    title: "No platform Secret on a tenant's server",
    section: '5',
    module: 'src/policy/cluster-secret.ts',
    protects:
      "Argo CD looks clusters up by server and takes the first match: a Secret with an unregistered name but a tenant's server would capture the tenant's syncs. Holds for every requester.",
    fix: 'Register the cluster in a Tenant and use its name, or use another server.',
    allowed: 'name: platform-tools, server: https://tools.example.com',
    denied: 'name: platform-tools, server: https://TEAM-A-DEV.example.com:443/',
  },
  {
    id: 'TG-PRJ-01',
    title: "A tenant's AppProject names only its clusters and namespaces",
    section: '5',
    module: 'src/policy/appproject.ts',
    protects:
      "A tenant's project decides where its Applications may deploy. Destinations name the tenant's clusters exactly (no globs, never the control plane); `sourceNamespaces` are exact members of the tenant's namespaces; only platform admins and trusted service accounts change it.",
    fix: 'List your clusters by exact name or server and your namespaces exactly; ask a platform admin to change the project.',
    allowed: 'destinations: [{ name: k8s-team-a-dev, namespace: "*" }]',
    denied: 'destinations: [{ server: "*", namespace: "*" }]',
  },
  {
    id: 'TG-PRJ-02',
    title: "An unlisted AppProject is the platform's",
    section: '5',
    module: 'src/policy/appproject.ts',
    protects:
      "A project no tenant lists is a platform project: otherwise a tenant makes one of its own, whose Applications count as platform objects that may target the control plane. Only platform admins and trusted service accounts write it, and no literal destination names a tenant's cluster.",
    fix: "Ask a platform admin to add the project to your Tenant's `spec.projects`, or to create it.",
    allowed:
      'a platform admin creates project tools with destinations [{ server: https://tools.example.com }]',
    denied: 'alice of team-a creates project mine with destinations [{ server: "*" }]',
  },
] as const;
