/**
 * The settings of SPEC section 3: the values, their defaults, and their flags and environment
 * variables (`settingFlags`). `resolveSettings` builds them (flag, then environment, then
 * default); a bad value is ERR_SETTINGS_INVALID naming its flag.
 */
import { TenantGuardError } from './errors.js';
import { parseBooleanText } from './flag-value.js';
import { parseExecProfiles, type ExecProfile } from './policy/cluster-secret-profiles.js';

/**
 * Settings of SPEC section 3. Every one has a flag and an environment variable
 * (see `settingFlags`); defaults are those of the spec.
 */
export interface Settings {
  /** Label that names an object's tenant. Default `tenantguard.dev/tenant`. */
  tenantLabel: string;
  /** Label on a cluster Secret that carries its cluster name. Default `tenantguard.dev/cluster`. */
  clusterLabel: string;
  /** Namespace Argo CD runs in. Default `argocd`. */
  argocdNamespace: string;
  /** Groups whose members bypass tenant rules (still audited). Default `platform-admins`. */
  platformAdminGroups: string[];
  /**
   * Service accounts that act for tenants (SPEC section 3): they skip the owner check
   * (TG-OWN-03), never the target and project rules. One with a `scope` may change only
   * those fields. Default: Argo CD's ApplicationSet controller, argocd-server, the
   * application controller and the notifications controller (scope `annotations`), in
   * the Argo CD namespace.
   */
  trustedServiceAccounts: TrustedServiceAccount[];
  /**
   * Kubernetes system controllers (SPEC section 4): they may DELETE, and UPDATE only to
   * remove finalizers or ownerReferences, without any tenant rule. Default: kube-system's
   * garbage collector and namespace controller.
   */
  systemControllers: string[];
  /** Path of the exec plugin inside the Argo CD application controller. */
  pluginCommand: string;
  /**
   * The exec commands other than the plugin that platform cluster Secrets may run (TG-CS-04),
   * as exec profiles: JSON, see `src/policy/cluster-secret-profiles.ts`. Default none.
   */
  execProfiles: readonly ExecProfile[];
  /** Broker URL the exec plugin calls, as written into cluster Secrets. */
  brokerUrl: string;
  /** Path of the caller's projected token inside the application controller. */
  callerTokenPath: string;
  /** Path of the broker's CA bundle inside the application controller. */
  brokerCaPath: string;
  /** Users allowed to obtain tokens from the broker, for every target. */
  brokerAllowedCallers: string[];
  /** Issuer URL of the broker, byte for byte as published in discovery. */
  issuerUrl: string;
  /** Whether `clusterDecisionResource` generators are allowed. Default false. */
  allowClusterDecisionResource: boolean;
  /**
   * ConfigMaps (in the Argo CD namespace) of the plugin generators tenants may call
   * (TG-AS-05). Argo CD reads a plugin generator's ConfigMap and token Secret in its own
   * namespace, whatever the ApplicationSet's: any other plugin is for platform admins only.
   * Default none.
   */
  tenantPluginConfigMaps: string[];
}

/**
 * What a scoped trusted service account may change (SPEC section 3): `annotations`
 * (`metadata.annotations`), `finalizers` (`metadata.finalizers`), `status`.
 */
export type TrustScope = 'annotations' | 'finalizers' | 'status';

export const TRUST_SCOPES: readonly TrustScope[] = ['annotations', 'finalizers', 'status'];

/** A trusted service account: its user name and, when scoped, the only fields it may change. */
export interface TrustedServiceAccount {
  readonly username: string;
  /** Undefined: unscoped (any change, under the target and project rules). */
  readonly scope?: readonly TrustScope[];
}

/** `system:serviceaccount:<namespace>:<name>`, the user name of a service account. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** The ApplicationSet controller's user name (TG-APP-03): it follows the Argo CD namespace. */
export function applicationSetControllerUser(settings: Pick<Settings, 'argocdNamespace'>): string {
  return serviceAccountUser(settings.argocdNamespace, 'argocd-applicationset-controller');
}

/** The default trusted service accounts of SPEC section 3, in the given Argo CD namespace. */
export function defaultTrustedServiceAccounts(argocdNamespace: string): TrustedServiceAccount[] {
  return [
    { username: serviceAccountUser(argocdNamespace, 'argocd-applicationset-controller') },
    { username: serviceAccountUser(argocdNamespace, 'argocd-server') },
    { username: serviceAccountUser(argocdNamespace, 'argocd-application-controller') },
    {
      username: serviceAccountUser(argocdNamespace, 'argocd-notifications-controller'),
      scope: ['annotations'],
    },
  ];
}

/**
 * The broker's default allowed callers (SPEC section 3): Argo CD's application controller,
 * in the given Argo CD namespace.
 */
export function defaultBrokerAllowedCallers(argocdNamespace: string): string[] {
  return [serviceAccountUser(argocdNamespace, 'argocd-application-controller')];
}

/** The default Kubernetes system controllers of SPEC section 3. */
export const DEFAULT_SYSTEM_CONTROLLERS: readonly string[] = Object.freeze([
  'system:serviceaccount:kube-system:generic-garbage-collector',
  'system:serviceaccount:kube-system:namespace-controller',
]);

/**
 * Parses `--trusted-service-accounts`: comma-separated user names, each optionally
 * followed by `=` and its scope, scope fields joined by `+`:
 * `system:serviceaccount:argocd:argocd-server,system:serviceaccount:argocd:argocd-notifications-controller=annotations`.
 * @throws TenantGuardError ERR_SETTINGS_INVALID for an unknown scope field or an empty name.
 */
export function parseTrustedServiceAccounts(value: string): TrustedServiceAccount[] {
  return parseList(value).map((entry) => {
    const at = entry.indexOf('=');
    const username = (at < 0 ? entry : entry.slice(0, at)).trim();
    if (username === '')
      throw new TenantGuardError(
        'ERR_SETTINGS_INVALID',
        `setting --trusted-service-accounts: "${entry}" names no service account`,
      );
    if (at < 0) return { username };
    const fields = entry
      .slice(at + 1)
      .split('+')
      .map((f) => f.trim());
    const scope: TrustScope[] = [];
    for (const field of fields) {
      const known = TRUST_SCOPES.find((s) => s === field);
      if (known === undefined) {
        throw new TenantGuardError(
          'ERR_SETTINGS_INVALID',
          `setting --trusted-service-accounts: scope "${field}" of "${username}" is unknown; use ${TRUST_SCOPES.join(', ')}, joined by +`,
        );
      }
      if (!scope.includes(known)) scope.push(known);
    }
    return { username, scope };
  });
}

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  tenantLabel: 'tenantguard.dev/tenant',
  clusterLabel: 'tenantguard.dev/cluster',
  argocdNamespace: 'argocd',
  platformAdminGroups: ['platform-admins'],
  trustedServiceAccounts: defaultTrustedServiceAccounts('argocd'),
  systemControllers: [...DEFAULT_SYSTEM_CONTROLLERS],
  pluginCommand: '/custom-tools/tenant-guard-credential',
  execProfiles: [],
  brokerUrl: 'https://tenant-guard-broker.tenant-guard.svc',
  callerTokenPath: '/var/run/secrets/tenantguard/token',
  brokerCaPath: '/var/run/secrets/tenantguard/ca.crt',
  brokerAllowedCallers: defaultBrokerAllowedCallers('argocd'),
  issuerUrl: 'https://127.0.0.1:8443',
  allowClusterDecisionResource: false,
  tenantPluginConfigMaps: [],
});

/**
 * How a setting's text is read, by the type of its value: `settingFlags` cannot give a
 * setting a kind its value does not have, so `resolveSettings` assigns without a cast.
 */
type SettingKindOf<T> = T extends boolean
  ? 'boolean'
  : T extends string
    ? 'string'
    : T extends readonly TrustedServiceAccount[]
      ? 'accounts'
      : T extends readonly string[]
        ? 'list'
        : 'json';
type SettingKind = SettingKindOf<Settings[keyof Settings]>;

/** The settings read as `kind`. */
type SettingOfKind<Kind extends SettingKind> = {
  [K in keyof Settings]: SettingKindOf<Settings[K]> extends Kind ? K : never;
}[keyof Settings];

/** Flag name, environment variable and kind of every setting. */
export const settingFlags: {
  readonly [K in keyof Settings]: {
    flag: string;
    env: string;
    kind: SettingKindOf<Settings[K]>;
    description: string;
  };
} = {
  tenantLabel: {
    flag: 'tenant-label',
    env: 'TG_TENANT_LABEL',
    kind: 'string',
    description: "label key naming an object's tenant",
  },
  clusterLabel: {
    flag: 'cluster-label',
    env: 'TG_CLUSTER_LABEL',
    kind: 'string',
    description: "label key carrying a cluster Secret's cluster name",
  },
  argocdNamespace: {
    flag: 'argocd-namespace',
    env: 'TG_ARGOCD_NAMESPACE',
    kind: 'string',
    description: 'namespace Argo CD runs in',
  },
  platformAdminGroups: {
    flag: 'platform-admin-groups',
    env: 'TG_PLATFORM_ADMIN_GROUPS',
    kind: 'list',
    description: 'comma-separated groups that bypass tenant rules',
  },
  trustedServiceAccounts: {
    flag: 'trusted-service-accounts',
    env: 'TG_TRUSTED_SERVICE_ACCOUNTS',
    kind: 'accounts',
    description:
      'comma-separated service account users that act for tenants, each optionally =SCOPE (annotations, finalizers, status; joined by +)',
  },
  systemControllers: {
    flag: 'system-controllers',
    env: 'TG_SYSTEM_CONTROLLERS',
    kind: 'list',
    description:
      'comma-separated Kubernetes system controllers that may delete and remove finalizers or ownerReferences',
  },
  pluginCommand: {
    flag: 'plugin-command',
    env: 'TG_PLUGIN_COMMAND',
    kind: 'string',
    description: 'exec plugin path inside the Argo CD application controller',
  },
  execProfiles: {
    flag: 'exec-profiles',
    env: 'TG_EXEC_PROFILES',
    kind: 'json',
    description: 'JSON list of exec profiles platform cluster Secrets may run besides the plugin (TG-CS-04)',
  },
  brokerUrl: {
    flag: 'broker-url',
    env: 'TG_BROKER_URL',
    kind: 'string',
    description: 'broker URL written into cluster Secrets',
  },
  callerTokenPath: {
    flag: 'caller-token-path',
    env: 'TG_CALLER_TOKEN_PATH',
    kind: 'string',
    description: 'projected caller token path inside the controller',
  },
  brokerCaPath: {
    flag: 'broker-ca-path',
    env: 'TG_BROKER_CA_PATH',
    kind: 'string',
    description: 'broker CA path inside the controller',
  },
  brokerAllowedCallers: {
    flag: 'broker-allowed-callers',
    env: 'TG_BROKER_ALLOWED_CALLERS',
    kind: 'list',
    description: 'comma-separated users allowed to obtain tokens',
  },
  issuerUrl: {
    flag: 'issuer',
    env: 'TG_ISSUER',
    kind: 'string',
    description:
      'issuer URL of the broker, as remote API servers are configured with it; required unless the broker runs locally (loopback --host, outside a cluster)',
  },
  allowClusterDecisionResource: {
    flag: 'allow-cluster-decision-resource',
    env: 'TG_ALLOW_CLUSTER_DECISION_RESOURCE',
    kind: 'boolean',
    description: 'allow clusterDecisionResource generators',
  },
  tenantPluginConfigMaps: {
    flag: 'tenant-plugin-config-maps',
    env: 'TG_TENANT_PLUGIN_CONFIG_MAPS',
    kind: 'list',
    description:
      'comma-separated ConfigMaps (Argo CD namespace) of the plugin generators tenants may call; any other plugin generator is for platform admins only',
  },
};

/**
 * A setting's default as `--help` shows it: the value of DEFAULT_SETTINGS as it would be
 * written (lists comma-separated, `none` for an empty one); the issuer's is the local run's.
 */
export function settingDefaultText(key: keyof Settings): string {
  if (key === 'issuerUrl') return 'https://<host>:<port> of serve, for a local run only';
  const value: unknown = DEFAULT_SETTINGS[key];
  const follows = key === 'trustedServiceAccounts' || key === 'brokerAllowedCallers';
  const text = Array.isArray(value)
    ? value
        .map((v: unknown) =>
          typeof v === 'object' && v !== null && 'username' in v
            ? `${String(v.username)}${'scope' in v && Array.isArray(v.scope) ? `=${v.scope.join('+')}` : ''}`
            : String(v),
        )
        .join(',')
    : String(value);
  return `${text === '' ? 'none' : text}${follows ? ' (the namespace follows --argocd-namespace)' : ''}`;
}

/** Splits a comma-separated list, dropping empty entries and surrounding spaces. */
export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Narrows a setting to those of one kind, by the (type-checked) kind in `settingFlags`. */
function hasKind<Kind extends SettingKind>(key: keyof Settings, kind: Kind): key is SettingOfKind<Kind> {
  return settingFlags[key].kind === kind;
}

/** A list setting (`--platform-admin-groups`, ...) written as this holds nothing. */
export const NONE = '-';

function emptySetting(key: keyof Settings, fromEnv: boolean): TenantGuardError {
  const spec = settingFlags[key];
  const kind = spec.kind;
  const orNone = kind === 'list' || kind === 'accounts' ? `, or write ${NONE} for none` : '';
  return new TenantGuardError(
    'ERR_SETTINGS_INVALID',
    `setting --${spec.flag} (${fromEnv ? `${spec.env} is set but empty` : 'given empty'}): leave it unset for its default (docs/settings.md)${orNone}`,
  );
}

function parseBoolean(name: string, value: string): boolean {
  const parsed = parseBooleanText(value);
  if (parsed !== undefined) return parsed;
  throw new TenantGuardError(
    'ERR_SETTINGS_INVALID',
    `setting ${name}: "${value}" is not a boolean; use true or false`,
  );
}

/**
 * Builds Settings from raw values (flags win over the environment, which wins over defaults).
 * @throws TenantGuardError ERR_SETTINGS_INVALID naming the setting.
 */
export function resolveSettings(
  flags: Partial<Record<keyof Settings, string | boolean | undefined>>,
  env: NodeJS.ProcessEnv = {},
): Settings {
  const out = structuredClone<Settings>({ ...DEFAULT_SETTINGS });
  let profilesText: string | undefined;
  for (const key of Object.keys(settingFlags) as (keyof Settings)[]) {
    const spec = settingFlags[key];
    const raw = flags[key] ?? env[spec.env];
    if (raw === undefined) continue;
    // One rule for '' (docs/settings.md): refused, naming the setting and where it came
    // from. It meant the default for some settings and "none" for others: an empty
    // TG_TRUSTED_SERVICE_ACCOUNTS, a template's unset value, stopped every ApplicationSet.
    if (typeof raw === 'string' && raw.trim() === '') throw emptySetting(key, flags[key] === undefined);
    const none = typeof raw === 'string' && raw.trim() === NONE;
    if (key === 'execProfiles') profilesText = typeof raw === 'string' ? raw : '';
    else if (hasKind(key, 'boolean'))
      out[key] = typeof raw === 'boolean' ? raw : parseBoolean(`--${spec.flag}`, raw);
    else if (hasKind(key, 'accounts'))
      out[key] = typeof raw === 'string' && !none ? parseTrustedServiceAccounts(raw) : [];
    else if (hasKind(key, 'list')) out[key] = typeof raw === 'string' && !none ? parseList(raw) : [];
    else if (hasKind(key, 'string') && typeof raw === 'string') out[key] = raw;
  }
  // The default service account names follow the Argo CD namespace setting: the trusted
  // writers, and the controller the broker issues tokens to (else, with Argo CD in another
  // namespace, the broker would refuse the controller until a second flag said so).
  const given = (key: 'trustedServiceAccounts' | 'brokerAllowedCallers') =>
    (flags[key] ?? env[settingFlags[key].env]) !== undefined;
  if (!given('trustedServiceAccounts'))
    out.trustedServiceAccounts = defaultTrustedServiceAccounts(out.argocdNamespace);
  if (!given('brokerAllowedCallers'))
    out.brokerAllowedCallers = defaultBrokerAllowedCallers(out.argocdNamespace);
  // After the loop: profiles are checked against the plugin command, whatever the order.
  if (profilesText !== undefined) {
    const parsed = parseExecProfiles(profilesText, out.pluginCommand);
    if (!parsed.ok)
      throw new TenantGuardError(
        'ERR_SETTINGS_INVALID',
        `setting --${settingFlags.execProfiles.flag}: ${parsed.reason}`,
      );
    out.execProfiles = parsed.profiles;
  }
  return out;
}
