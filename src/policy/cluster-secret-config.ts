/**
 * The `config` rules of an Argo CD cluster Secret that calls the tenant-guard plugin:
 * TG-CS-03 (exact allowlist of keys) and TG-CS-05 (the registry's CA, no `insecure`), and the
 * additions `/mutate` makes to `config`. TG-CS-04 (what runs) is in `cluster-secret-exec.ts`.
 * Pure.
 *
 * The allowlist follows Argo CD's `ClusterConfig` (pkg/apis/application/v1alpha1/types.go):
 * - top level: `execProviderConfig`, `tlsClientConfig` (not `username`, `password`,
 *   `bearerToken`, `awsAuthConfig`, `disableCompression`, `proxyUrl`);
 * - `tlsClientConfig`: `caData`, `serverName`, `insecure` (not `certData`, `keyData`);
 * - `execProviderConfig`: `command`, `args`, `env`, `apiVersion` (TG-CS-04 rules their
 *   values, and denies `env` in the plugin call), `installHint` (text shown when the command
 *   is missing) as a string, `provideClusterInfo` (TG-CS-04: true in the plugin call, which
 *   tells the plugin the server its token goes to, ADR 0011; in no profile); not `config`,
 *   which hands cluster data to the command.
 * Go's `encoding/json` matches keys case-insensitively, so `BearerToken` is read as
 * `bearerToken`: a key that is not spelled exactly as allowed is denied. Keys are looked up
 * as own keys only (Maps), so `constructor` or `__proto__` is a key like any other.
 * https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/#clusters
 */
import { canonicalExec } from './cluster-secret-exec.js';
import { CLUSTER_CONFIG_FIELDS, EXEC_FIELDS, TLS_FIELDS } from './cluster-secret-exec-reading.js';
import { GoFieldSet } from './go-json-fold.js';
import { joinPath, show } from './object-paths.js';
import { describeJsonType, isRecord, ownValue } from '../json.js';
import type { Settings } from '../settings.js';
import type { Violation } from './types.js';
import { violation } from './types.js';

const CONFIG_PATH = 'data.config';
const EXEC = 'execProviderConfig';
const TLS = 'tlsClientConfig';

/** A leaf checked for its JSON type here, or one whose value TG-CS-04/05 rule. */
type Leaf = 'string' | 'boolean' | 'rule';

/** One level of the allowlist: the keys allowed, and every field Argo CD's Go type has there. */
interface Level {
  readonly allowed: ReadonlyMap<string, Leaf | Level>;
  /** The Go struct's fields, for naming what a case variant is read as. */
  readonly goFields: GoFieldSet;
}

const EXEC_LEVEL: Level = {
  allowed: new Map<string, Leaf>([
    ['command', 'rule'],
    ['args', 'rule'],
    ['env', 'rule'],
    ['apiVersion', 'rule'],
    ['installHint', 'string'],
    ['provideClusterInfo', 'rule'],
  ]),
  goFields: new GoFieldSet(EXEC_FIELDS),
};
const TLS_LEVEL: Level = {
  allowed: new Map<string, Leaf>([
    ['caData', 'rule'],
    ['serverName', 'string'],
    ['insecure', 'rule'],
  ]),
  goFields: new GoFieldSet(TLS_FIELDS),
};
/** Keys allowed in `config`, from the top. */
const CONFIG_LEVEL: Level = {
  allowed: new Map<string, Leaf | Level>([
    [EXEC, EXEC_LEVEL],
    [TLS, TLS_LEVEL],
  ]),
  goFields: new GoFieldSet(CLUSTER_CONFIG_FIELDS),
};

function describeKey(level: Level, key: string): string {
  const goField = level.goFields.fieldFor(key);
  if (goField !== undefined && goField !== key)
    return `differs only in case from "${goField}"; Argo CD's Go JSON decoder would read it as that field`;
  if (goField !== undefined) return 'is an Argo CD field tenant-guard does not allow';
  return 'is not a field tenant-guard allows';
}

function checkLevel(object: Record<string, unknown>, level: Level, path: string, out: Violation[]): void {
  const allowedKeys = [...level.allowed.keys()].filter((k) => k !== 'env').join(', ');
  for (const key of Object.keys(object)) {
    const value = object[key];
    const at = joinPath(path, key);
    const rule = level.allowed.get(key);
    if (rule === undefined) {
      out.push(violation('TG-CS-03', at, `${describeKey(level, key)}; allowed here: ${allowedKeys}`));
    } else if (typeof rule === 'object') {
      if (isRecord(value)) checkLevel(value, rule, at, out);
    } else if ((rule === 'string' || rule === 'boolean') && typeof value !== rule) {
      out.push(violation('TG-CS-03', at, `is ${describeJsonType(value)}; expected a ${rule}`));
    }
  }
}

/**
 * TG-CS-03: every key of `config`, at any depth, is spelled exactly as allowed; no key is
 * given twice in one object (Go merges repeated objects where `JSON.parse` keeps the last).
 */
export function checkConfigKeys(
  config: Record<string, unknown>,
  duplicateKeys: readonly string[],
): Violation[] {
  const out: Violation[] = duplicateKeys.map((p) =>
    violation(
      'TG-CS-03',
      CONFIG_PATH + (p.startsWith('[') ? p : `.${p}`),
      "is given twice; Argo CD's Go JSON decoder would merge both, so each key may appear once",
    ),
  );
  checkLevel(config, CONFIG_LEVEL, CONFIG_PATH, out);
  return out;
}

/** Base64 text compared without the whitespace PEM bundles are often wrapped with. */
function sameCa(found: string, expected: string): boolean {
  return found.replace(/\s+/g, '') === expected.replace(/\s+/g, '');
}

/** The host a server URL names, lower case, without IPv6 brackets; undefined if it is no URL. */
function hostOf(server: string): string | undefined {
  try {
    return new URL(server).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  } catch {
    return undefined;
  }
}

/** What checkTls knows of the registered cluster a Secret names (undefined: none). */
export interface RegisteredTls {
  readonly name: string;
  readonly server: string;
  readonly caData?: string;
}

/**
 * TG-CS-05: `tlsClientConfig.caData` is the registry's CA, and absent when the registry has
 * none (the system's roots are what the registry trusts); `insecure` absent or false.
 * TG-CS-03: `serverName` absent, or the registered server's own host (what client-go checks
 * the certificate against anyway). Argo CD hands both to client-go, which checks the
 * certificate against `serverName` and the CA while still dialling `server`: another name
 * or CA lets an endpoint behind a shared SNI router, or a man in the middle, receive the
 * tenant's token. `cluster` undefined (no registered cluster named): only `insecure` is
 * checked here; TG-CS-02 or TG-CS-08 deny the name.
 */
export function checkTls(
  config: Record<string, unknown> | undefined,
  cluster: RegisteredTls | undefined,
): Violation[] {
  const path = joinPath(CONFIG_PATH, TLS);
  const tls = config === undefined ? undefined : ownValue(config, TLS);
  if (tls !== undefined && tls !== null && !isRecord(tls))
    return [violation('TG-CS-05', path, `is ${describeJsonType(tls)}; expected an object with caData`)];
  const out: Violation[] = [];
  const found = isRecord(tls) ? tls : {};
  if (cluster !== undefined) {
    const ca = ownValue(found, 'caData');
    const what = `the registry's CA for cluster "${cluster.name}"`;
    if (cluster.caData === undefined) {
      if (ca !== undefined && ca !== null && ca !== '')
        out.push(
          violation(
            'TG-CS-05',
            joinPath(path, 'caData'),
            `is set, but the registry holds no CA for cluster "${cluster.name}" (value withheld); remove it, or register the CA in the Tenant`,
          ),
        );
    } else if (ca === undefined)
      out.push(violation('TG-CS-05', joinPath(path, 'caData'), `is missing; /mutate sets it to ${what}`));
    else if (typeof ca !== 'string' || !sameCa(ca, cluster.caData))
      out.push(
        violation(
          'TG-CS-05',
          joinPath(path, 'caData'),
          `differs from ${what} (value withheld); use the CA registered for the cluster`,
        ),
      );
    const serverName = ownValue(found, 'serverName');
    const host = hostOf(cluster.server);
    // Not a string: the allowlist (checkConfigKeys) says so. Empty: client-go's default.
    if (typeof serverName === 'string' && serverName !== '' && serverName.toLowerCase() !== host)
      out.push(
        violation(
          'TG-CS-03',
          joinPath(path, 'serverName'),
          `is ${show(serverName)}; it must be absent or the registered server's host ${show(host ?? cluster.server)}: another name would have client-go accept another endpoint's certificate`,
        ),
      );
  }
  const insecure = ownValue(found, 'insecure');
  if (insecure !== undefined && insecure !== false) {
    out.push(
      violation(
        'TG-CS-05',
        joinPath(path, 'insecure'),
        `is ${typeof insecure === 'boolean' ? 'true' : describeJsonType(insecure)}; it must be absent or false`,
      ),
    );
  }
  return out;
}

/**
 * Adds what is missing to a parsed config, in place, never replacing a value: the canonical
 * `execProviderConfig` (or its missing keys) and `tlsClientConfig.caData` when the registry
 * has a CA. Returns true when something was added.
 */
export function completeConfig(
  config: Record<string, unknown>,
  name: string,
  settings: Settings,
  caData: string | undefined,
): boolean {
  let changed = false;
  const canonical = canonicalExec(settings, name);
  const exec = ownValue(config, EXEC);
  if (exec === undefined) {
    config[EXEC] = canonical;
    changed = true;
  } else if (isRecord(exec)) {
    for (const [key, value] of Object.entries(canonical)) {
      if (ownValue(exec, key) === undefined) {
        exec[key] = value;
        changed = true;
      }
    }
  }
  if (caData !== undefined) {
    const tls = ownValue(config, TLS);
    if (tls === undefined) {
      config[TLS] = { caData };
      changed = true;
    } else if (isRecord(tls) && ownValue(tls, 'caData') === undefined) {
      tls.caData = caData;
      changed = true;
    }
  }
  return changed;
}
