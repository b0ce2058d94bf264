/**
 * The `config` rules of an Argo CD cluster Secret: TG-CS-03 (exact allowlist of keys),
 * TG-CS-04 (the canonical exec plugin call) and TG-CS-05 (the registry's CA, no `insecure`),
 * and the additions `/mutate` makes to `config`. Pure.
 *
 * The allowlist follows Argo CD's `ClusterConfig` (pkg/apis/application/v1alpha1/types.go):
 * - top level: `execProviderConfig`, `tlsClientConfig` (not `username`, `password`,
 *   `bearerToken`, `awsAuthConfig`, `disableCompression`, `proxyUrl`);
 * - `tlsClientConfig`: `caData`, `serverName`, `insecure` (not `certData`, `keyData`);
 * - `execProviderConfig`: its Go type has `command`, `args`, `env`, `apiVersion`,
 *   `installHint`. `env` is TG-CS-04's to deny; `installHint` (text shown when the command is
 *   missing) is allowed as a string. `provideClusterInfo`, a client-go ExecConfig field, is
 *   not in Argo CD's type and so is denied like any unknown key.
 * Go's `encoding/json` matches keys case-insensitively, so `BearerToken` is read as
 * `bearerToken`: a key that is not spelled exactly as allowed is denied.
 * https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/#clusters
 */
import { posix } from 'node:path';
import type { Settings } from '../settings.js';
import { serverKey } from './cluster-url.js';
import { describeJson } from './cluster-secret-json.js';
import { isRecord, joinPath } from './object-paths.js';
import type { RuleId, Violation } from './types.js';
import { violation } from './types.js';

/** `apiVersion` of the ExecCredential the plugin speaks. */
export const EXEC_API_VERSION = 'client.authentication.k8s.io/v1';

const CONFIG_PATH = 'data.config';
const EXEC = 'execProviderConfig';
const TLS = 'tlsClientConfig';

type Leaf = 'string' | 'boolean' | 'rule';
interface Allowed {
  readonly [key: string]: Leaf | Allowed;
}

/** Keys allowed in `config`; `rule` leaves are checked (value and type) by TG-CS-04/05. */
const ALLOWED: Allowed = {
  [EXEC]: { command: 'rule', args: 'rule', env: 'rule', apiVersion: 'rule', installHint: 'string' },
  [TLS]: { caData: 'rule', serverName: 'string', insecure: 'rule' },
};

/** Every field Argo CD's decoder knows at each level, for naming what a case variant turns into. */
const KNOWN: Readonly<Record<string, readonly string[]>> = {
  '': ['username', 'password', 'bearerToken', TLS, 'awsAuthConfig', EXEC, 'disableCompression', 'proxyUrl'],
  [EXEC]: ['command', 'args', 'env', 'apiVersion', 'installHint'],
  [TLS]: ['insecure', 'serverName', 'certData', 'keyData', 'caData'],
  awsAuthConfig: ['clusterName', 'roleARN', 'profile'],
};

/**
 * Case folding as Go's `encoding/json` matches names (Unicode simple folding). For ASCII field
 * names only two non-ASCII letters fold in: U+017F (long s) to `s`, U+212A (Kelvin sign) to `k`;
 * `toLowerCase` already maps the Kelvin sign.
 */
function fold(key: string): string {
  return key.replace(/\u017f/g, 's').toLowerCase();
}

/** The field Go's decoder would fill from `key` at this level, if any. */
function goFieldFor(level: string, key: string): string | undefined {
  const folded = fold(key);
  return (KNOWN[level] ?? []).find((k) => fold(k) === folded);
}

/** A value found under the key that Go would read as `field` (exact spelling first). */
function readFolded(object: Record<string, unknown>, field: string): unknown {
  if (object[field] !== undefined) return object[field];
  const key = Object.keys(object).find((k) => fold(k) === fold(field));
  return key === undefined ? undefined : object[key];
}

function checkLevel(object: Record<string, unknown>, allowed: Allowed, level: string, path: string, out: Violation[]): void {
  for (const [key, value] of Object.entries(object)) {
    const at = joinPath(path, key);
    const rule = allowed[key];
    if (rule === undefined) {
      const goField = goFieldFor(level, key);
      const allowedKeys = Object.keys(allowed).filter((k) => k !== 'env').join(', ');
      const why = goField !== undefined && goField !== key
        ? `differs only in case from "${goField}"; Argo CD's Go JSON decoder would read it as that field`
        : goField !== undefined ? 'is an Argo CD field tenant-guard does not allow' : 'is not a field tenant-guard allows';
      out.push(violation('TG-CS-03', at, `${why}; allowed here: ${allowedKeys}`));
    } else if (typeof rule === 'object') {
      if (isRecord(value)) checkLevel(value, rule, key, at, out);
    } else if ((rule === 'string' || rule === 'boolean') && typeof value !== rule) {
      out.push(violation('TG-CS-03', at, `is ${describeJson(value)}; expected a ${rule}`));
    }
  }
}

/**
 * TG-CS-03: every key of `config`, at any depth, is spelled exactly as allowed; no key is
 * given twice in one object (Go merges repeated objects where `JSON.parse` keeps the last).
 */
export function checkConfigKeys(config: Record<string, unknown>, duplicateKeys: readonly string[]): Violation[] {
  const out: Violation[] = duplicateKeys.map((p) => violation('TG-CS-03', CONFIG_PATH + (p.startsWith('[') ? p : `.${p}`), 'is given twice; Argo CD\'s Go JSON decoder would merge both, so each key may appear once'));
  checkLevel(config, ALLOWED, '', CONFIG_PATH, out);
  return out;
}

/** The exec config tenant-guard writes for a cluster (SPEC TG-CS-04). */
export function canonicalExec(settings: Settings, name: string): { command: string; args: string[]; apiVersion: string } {
  return {
    command: settings.pluginCommand,
    args: [settings.brokerUrl, name, settings.callerTokenPath, '--ca-file', settings.brokerCaPath],
    apiVersion: EXEC_API_VERSION,
  };
}

function isPluginCommand(command: unknown, settings: Settings): boolean {
  if (typeof command !== 'string' || command.trim() === '') return false;
  const normal = posix.normalize(command.trim());
  return normal === posix.normalize(settings.pluginCommand) || posix.basename(normal) === posix.basename(settings.pluginCommand);
}

/**
 * True when the config would run the tenant-guard plugin (or talk to its broker): any
 * `execProviderConfig` spelling Go accepts, whose command is the plugin path (normalised, or
 * the same file name elsewhere), or whose args carry the broker URL. Such a Secret gets
 * TG-CS-02 and TG-CS-04 whoever writes it: it would carry tenant tokens.
 */
export function callsPlugin(config: Record<string, unknown> | undefined, settings: Settings): boolean {
  if (config === undefined) return false;
  const broker = serverKey(settings.brokerUrl);
  return Object.keys(config).filter((k) => fold(k) === fold(EXEC)).some((key) => {
    const exec = config[key];
    if (!isRecord(exec)) return false;
    if (isPluginCommand(readFolded(exec, 'command'), settings)) return true;
    const args = readFolded(exec, 'args');
    return Array.isArray(args) && args.some((a) => typeof a === 'string' && serverKey(a) === broker);
  });
}

function sameArgs(found: unknown, expected: readonly string[]): boolean {
  return Array.isArray(found) && found.length === expected.length && found.every((a, i) => a === expected[i]);
}

/** TG-CS-04: `execProviderConfig` is the canonical plugin call, with no `env`. Values are not echoed. */
export function checkExec(config: Record<string, unknown> | undefined, name: string | undefined, settings: Settings): Violation[] {
  const path = joinPath(CONFIG_PATH, EXEC);
  const expected = canonicalExec(settings, name ?? '<data.name>');
  const exec = config?.[EXEC];
  const rule: RuleId = 'TG-CS-04';
  if (exec === undefined) return [violation(rule, path, `is missing; /mutate sets it to the tenant-guard plugin call: ${JSON.stringify(expected)}`)];
  if (!isRecord(exec)) return [violation(rule, path, `is ${describeJson(exec)}; expected ${JSON.stringify(expected)}`)];
  const out: Violation[] = [];
  const withheld = '(value withheld: Secret data)';
  if (exec.command !== expected.command) {
    out.push(violation(rule, joinPath(path, 'command'), exec.command === undefined ? `is missing; expected "${expected.command}"` : `is not the tenant-guard plugin ${withheld}; expected "${expected.command}"`));
  }
  if (!sameArgs(exec.args, expected.args)) {
    out.push(violation(rule, joinPath(path, 'args'), `${exec.args === undefined ? 'is missing' : `differ ${withheld}`}; expected ${JSON.stringify(expected.args)}`));
  }
  if (exec.apiVersion !== expected.apiVersion) {
    out.push(violation(rule, joinPath(path, 'apiVersion'), `${exec.apiVersion === undefined ? 'is missing' : `is not ${EXEC_API_VERSION} ${withheld}`}; expected "${EXEC_API_VERSION}"`));
  }
  if (exec.env !== undefined) {
    out.push(violation(rule, joinPath(path, 'env'), 'is set; the plugin call takes no environment, remove env'));
  }
  return out;
}

/** Base64 text compared without the whitespace PEM bundles are often wrapped with. */
function sameCa(found: string, expected: string): boolean {
  return found.replace(/\s+/g, '') === expected.replace(/\s+/g, '');
}

/** TG-CS-05: `tlsClientConfig.caData` is the registry CA (when it has one); `insecure` absent or false. */
export function checkTls(config: Record<string, unknown> | undefined, clusterName: string | undefined, caData: string | undefined): Violation[] {
  const path = joinPath(CONFIG_PATH, TLS);
  const tls = config?.[TLS];
  if (tls !== undefined && tls !== null && !isRecord(tls)) return [violation('TG-CS-05', path, `is ${describeJson(tls)}; expected an object with caData`)];
  const out: Violation[] = [];
  const found = isRecord(tls) ? tls : {};
  if (caData !== undefined) {
    const ca = found.caData;
    const what = `the registry's CA for cluster "${clusterName ?? ''}"`;
    if (ca === undefined) out.push(violation('TG-CS-05', joinPath(path, 'caData'), `is missing; /mutate sets it to ${what}`));
    else if (typeof ca !== 'string' || !sameCa(ca, caData)) out.push(violation('TG-CS-05', joinPath(path, 'caData'), `differs from ${what} (value withheld); use the CA registered for the cluster`));
  }
  if (found.insecure !== undefined && found.insecure !== false) {
    out.push(violation('TG-CS-05', joinPath(path, 'insecure'), `is ${describeJson(found.insecure) === 'a boolean' ? 'true' : describeJson(found.insecure)}; it must be absent or false`));
  }
  return out;
}

/**
 * Adds what is missing to a parsed config, in place, never replacing a value: the canonical
 * `execProviderConfig` (or its missing keys) and `tlsClientConfig.caData` when the registry
 * has a CA. Returns true when something was added.
 */
export function completeConfig(config: Record<string, unknown>, name: string, settings: Settings, caData: string | undefined): boolean {
  let changed = false;
  const canonical = canonicalExec(settings, name);
  const exec = config[EXEC];
  if (exec === undefined) {
    config[EXEC] = canonical;
    changed = true;
  } else if (isRecord(exec)) {
    for (const [key, value] of Object.entries(canonical)) {
      if (exec[key] === undefined) {
        exec[key] = value;
        changed = true;
      }
    }
  }
  if (caData !== undefined) {
    const tls = config[TLS];
    if (tls === undefined) {
      config[TLS] = { caData };
      changed = true;
    } else if (isRecord(tls) && tls.caData === undefined) {
      tls.caData = caData;
      changed = true;
    }
  }
  return changed;
}
