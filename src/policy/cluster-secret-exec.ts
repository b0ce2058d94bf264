/**
 * TG-CS-04: what a cluster Secret's `config` makes Argo CD run. Every exec config, in every
 * cluster Secret and for every requester, is either the canonical tenant-guard plugin call
 * or matches an exec profile of the settings exactly; `awsAuthConfig` (Argo CD then runs
 * `argocd-k8s-auth aws ...` itself) only where a profile for that command is set. Nothing is
 * judged by searching text for paths: `/run/...`, `/proc/self/root/...` and `..` reach the
 * same file by other spellings. Pure.
 *
 * The config is read as Argo CD reads it (`ClusterConfig`, pkg/apis/application/v1alpha1):
 * Go's decoder matches keys case-insensitively (src/policy/go-json-fold.ts) and merges a
 * field given twice, so a config whose exec parts are spelled otherwise or given twice is
 * denied rather than guessed at. Argo CD prefers `awsAuthConfig` over `execProviderConfig`
 * (`Cluster.RESTConfig`); both are checked.
 * https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/#clusters
 */
import type { Settings } from '../settings.js';
import {
  AWS_AUTH_ARG,
  AWS_AUTH_COMMAND,
  findProfile,
  profileMismatch,
  type ExecCall,
  type ExecProfile,
} from './cluster-secret-profiles.js';
import { GoFieldSet } from './go-json-fold.js';
import { joinPath } from './object-paths.js';
import { describeJsonType, isRecord } from '../json.js';
import type { Violation } from './types.js';
import { violation } from './types.js';

/** `apiVersion` of the ExecCredential the plugin speaks. */
export const EXEC_API_VERSION = 'client.authentication.k8s.io/v1';

/** Argo CD's `ClusterConfig` fields, in struct order (Go's decoder takes the first that folds alike). */
export const CLUSTER_CONFIG_FIELDS: readonly string[] = [
  'username',
  'password',
  'bearerToken',
  'tlsClientConfig',
  'awsAuthConfig',
  'execProviderConfig',
  'disableCompression',
  'proxyUrl',
];
/** Argo CD's `ExecProviderConfig` fields. */
export const EXEC_FIELDS: readonly string[] = [
  'command',
  'args',
  'env',
  'apiVersion',
  'installHint',
  'provideClusterInfo',
  'config',
];
/** Argo CD's `AWSAuthConfig` fields. */
export const AWS_FIELDS: readonly string[] = ['clusterName', 'roleARN', 'profile'];
/** Argo CD's `TLSClientConfig` fields. */
export const TLS_FIELDS: readonly string[] = ['insecure', 'serverName', 'certData', 'keyData', 'caData'];

const CLUSTER_CONFIG_SET = new GoFieldSet(CLUSTER_CONFIG_FIELDS);
const EXEC_SET = new GoFieldSet(EXEC_FIELDS);
const AWS_SET = new GoFieldSet(AWS_FIELDS);

/** Exec fields no plugin call or profile sets (they pass cluster data to the command). */
const UNCHECKED_EXEC_FIELDS: ReadonlySet<string> = new Set(['provideClusterInfo', 'config']);

const CONFIG_PATH = 'data.config';
const EXEC = 'execProviderConfig';
const AWS = 'awsAuthConfig';
const WITHHELD = '(value withheld: Secret data)';

/** The exec config tenant-guard writes for a cluster (SPEC TG-CS-04). */
export function canonicalExec(
  settings: Settings,
  name: string,
): { command: string; args: string[]; apiVersion: string } {
  return {
    command: settings.pluginCommand,
    args: [settings.brokerUrl, name, settings.callerTokenPath, '--ca-file', settings.brokerCaPath],
    apiVersion: EXEC_API_VERSION,
  };
}

/** An own property only: a key such as `constructor` is never read from the prototype. */
function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/**
 * One part of the config (`execProviderConfig` or `awsAuthConfig`) as Go reads it. `messy`
 * when a key Go reads as the part, or as one of its fields, is not spelled exactly, is given
 * twice, or is not a field a call takes; `shape` lists values of the wrong type.
 */
interface PartReading {
  /** The object under the exact key, when it is one (null is Go's nil: no part). */
  readonly value: Record<string, unknown> | undefined;
  /**
   * True when the part may run something: a key lands in it with a value other than null
   * (Go's nil), or its keys are messy (then what Go reads cannot be told).
   */
  readonly present: boolean;
  readonly messy: boolean;
  readonly shape: Violation[];
}

/** Every key of `object` that Go reads as `field` of the struct `fields`. */
function keysFor(object: Record<string, unknown>, fields: GoFieldSet, field: string): string[] {
  return Object.keys(object).filter((key) => fields.fieldFor(key) === field);
}

/** True when the keys Go reads as `field` are not exactly one key spelled `field`, given once. */
function isMessy(keys: readonly string[], field: string, twice: boolean): boolean {
  return twice || keys.length > 1 || keys.some((k) => k !== field);
}

function readPart(
  config: Record<string, unknown> | undefined,
  field: string,
  fields: GoFieldSet,
  duplicates: ReadonlySet<string>,
): PartReading {
  if (config === undefined) return { value: undefined, present: false, messy: false, shape: [] };
  const keys = keysFor(config, CLUSTER_CONFIG_SET, field);
  let messy = isMessy(keys, field, duplicates.has(field)) && keys.length > 0;
  const shape: Violation[] = [];
  const raw = own(config, field);
  if (raw !== undefined && raw !== null && !isRecord(raw))
    shape.push(
      violation('TG-CS-04', joinPath(CONFIG_PATH, field), `is ${describeJsonType(raw)}; expected an object`),
    );
  const value = isRecord(raw) ? raw : undefined;
  if (value !== undefined) {
    for (const inner of fields.fields) {
      const innerKeys = keysFor(value, fields, inner);
      if (
        innerKeys.length > 0 &&
        (isMessy(innerKeys, inner, duplicates.has(`${field}.${inner}`)) || UNCHECKED_EXEC_FIELDS.has(inner))
      )
        messy = true;
    }
    if (Object.keys(value).some((key) => fields.fieldFor(key) === undefined)) messy = true;
  }
  const present = messy || shape.length > 0 || value !== undefined;
  return { value, present, messy, shape };
}

/** An exec config read as client-go will run it, or the shape problems that stop that. */
function execCall(
  exec: Record<string, unknown>,
  path: string,
): { call: ExecCall | undefined; shape: Violation[] } {
  const shape: Violation[] = [];
  const command = own(exec, 'command');
  const args = own(exec, 'args');
  const env = own(exec, 'env');
  const apiVersion = own(exec, 'apiVersion');
  const hint = own(exec, 'installHint');
  if (typeof command !== 'string')
    shape.push(
      violation(
        'TG-CS-04',
        joinPath(path, 'command'),
        command === undefined || command === null
          ? 'is missing'
          : `is ${describeJsonType(command)}; expected a string`,
      ),
    );
  if (
    args !== undefined &&
    args !== null &&
    (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
  )
    shape.push(violation('TG-CS-04', joinPath(path, 'args'), 'is not a list of strings'));
  if (
    env !== undefined &&
    env !== null &&
    (!isRecord(env) || !Object.values(env).every((v) => typeof v === 'string'))
  )
    shape.push(violation('TG-CS-04', joinPath(path, 'env'), 'is not a map of strings'));
  if (apiVersion !== undefined && apiVersion !== null && typeof apiVersion !== 'string')
    shape.push(
      violation(
        'TG-CS-04',
        joinPath(path, 'apiVersion'),
        `is ${describeJsonType(apiVersion)}; expected a string`,
      ),
    );
  if (hint !== undefined && hint !== null && typeof hint !== 'string')
    shape.push(
      violation('TG-CS-04', joinPath(path, 'installHint'), `is ${describeJsonType(hint)}; expected a string`),
    );
  if (shape.length > 0 || typeof command !== 'string') return { call: undefined, shape };
  return {
    call: {
      command,
      args: Array.isArray(args) ? args.map(String) : [],
      apiVersion: typeof apiVersion === 'string' ? apiVersion : undefined,
      env: isRecord(env) ? Object.keys(env).map((k) => [k, String(own(env, k))] as const) : [],
    },
    shape,
  };
}

/** The exec call Argo CD makes for `awsAuthConfig` (`Cluster.RESTConfig`). */
function awsCall(
  aws: Record<string, unknown>,
  path: string,
): { call: ExecCall | undefined; shape: Violation[] } {
  const shape: Violation[] = [];
  const text = (key: string): string => {
    const value = own(aws, key);
    if (value !== undefined && value !== null && typeof value !== 'string')
      shape.push(
        violation('TG-CS-04', joinPath(path, key), `is ${describeJsonType(value)}; expected a string`),
      );
    return typeof value === 'string' ? value : '';
  };
  const args = [AWS_AUTH_ARG, '--cluster-name', text('clusterName')];
  const role = text('roleARN');
  if (role !== '') args.push('--role-arn', role);
  const profile = text('profile');
  if (profile !== '') args.push('--profile', profile);
  if (shape.length > 0) return { call: undefined, shape };
  return {
    call: { command: AWS_AUTH_COMMAND, args, apiVersion: 'client.authentication.k8s.io/v1beta1', env: [] },
    shape,
  };
}

/** What the config makes Argo CD run, read once and shared by the rules. */
export interface ExecReading {
  /** The `execProviderConfig` object (exact spelling), if any. */
  readonly exec: Record<string, unknown> | undefined;
  /** True when the config has an exec or AWS part in any spelling, other than a plain null. */
  readonly runsCommand: boolean;
  /**
   * False when a key of the exec or AWS part is not spelled as Argo CD's field, is given
   * twice, or is one no call takes: then what runs cannot be told from the parsed JSON, and
   * TG-CS-03 (which then applies) names the keys.
   */
  readonly clean: boolean;
  /** Values of the wrong type in `execProviderConfig` and in `awsAuthConfig`. */
  readonly execShape: Violation[];
  readonly awsShape: Violation[];
  /** The exec call of `execProviderConfig`, when it reads cleanly. */
  readonly execCall: ExecCall | undefined;
  /** True when there is an `awsAuthConfig` object; `awsCall` when it reads cleanly. */
  readonly aws: boolean;
  readonly awsCall: ExecCall | undefined;
}

/**
 * Reads the exec and AWS parts of a parsed config. `duplicates` are the paths of keys the
 * JSON text repeats (relative to the config: `execProviderConfig.command`).
 */
export function readExec(
  config: Record<string, unknown> | undefined,
  duplicates: readonly string[],
): ExecReading {
  const repeated = new Set(duplicates);
  const exec = readPart(config, EXEC, EXEC_SET, repeated);
  const aws = readPart(config, AWS, AWS_SET, repeated);
  const e =
    exec.value === undefined
      ? { call: undefined, shape: [] }
      : execCall(exec.value, joinPath(CONFIG_PATH, EXEC));
  const a =
    aws.value === undefined ? { call: undefined, shape: [] } : awsCall(aws.value, joinPath(CONFIG_PATH, AWS));
  return {
    exec: exec.value,
    runsCommand: exec.present || aws.present,
    clean: !exec.messy && !aws.messy,
    execShape: [...exec.shape, ...e.shape],
    awsShape: [...aws.shape, ...a.shape],
    execCall: e.call,
    aws: aws.value !== undefined,
    awsCall: a.call,
  };
}

function sameArgs(found: readonly string[], expected: readonly string[]): boolean {
  return found.length === expected.length && found.every((a, i) => a === expected[i]);
}

/** True when the exec config is exactly the canonical plugin call for `name`, and there is no AWS part. */
export function isCanonicalCall(reading: ExecReading, name: string | undefined, settings: Settings): boolean {
  const call = reading.execCall;
  if (
    call === undefined ||
    name === undefined ||
    !reading.clean ||
    reading.aws ||
    reading.awsShape.length > 0
  )
    return false;
  const expected = canonicalExec(settings, name);
  return (
    call.command === expected.command &&
    sameArgs(call.args, expected.args) &&
    call.apiVersion === expected.apiVersion &&
    own(reading.exec ?? {}, 'env') === undefined
  );
}

/**
 * TG-CS-04 for a tenant's Secret: `execProviderConfig` is the canonical plugin call for the
 * Secret's `name`, with no `env`. Key spelling, `awsAuthConfig` and other fields are
 * TG-CS-03's. Values are not echoed.
 */
export function checkTenantExec(
  reading: ExecReading,
  name: string | undefined,
  settings: Settings,
): Violation[] {
  const path = joinPath(CONFIG_PATH, EXEC);
  const expected = canonicalExec(settings, name ?? '<data.name>');
  const out: Violation[] = [...reading.execShape];
  const exec = reading.exec;
  if (exec === undefined) {
    if (out.length === 0)
      out.push(
        violation(
          'TG-CS-04',
          path,
          `is missing; /mutate sets it to the tenant-guard plugin call: ${JSON.stringify(expected)}`,
        ),
      );
    return out;
  }
  const command = own(exec, 'command');
  const args = own(exec, 'args');
  const apiVersion = own(exec, 'apiVersion');
  if (typeof command === 'string' && command !== expected.command)
    out.push(
      violation(
        'TG-CS-04',
        joinPath(path, 'command'),
        `is not the tenant-guard plugin ${WITHHELD}; expected "${expected.command}"`,
      ),
    );
  if (args === undefined || args === null)
    out.push(
      violation('TG-CS-04', joinPath(path, 'args'), `is missing; expected ${JSON.stringify(expected.args)}`),
    );
  else if (reading.execCall !== undefined && !sameArgs(reading.execCall.args, expected.args))
    out.push(
      violation(
        'TG-CS-04',
        joinPath(path, 'args'),
        `differ ${WITHHELD}; expected ${JSON.stringify(expected.args)}`,
      ),
    );
  if (apiVersion === undefined || apiVersion === null)
    out.push(
      violation('TG-CS-04', joinPath(path, 'apiVersion'), `is missing; expected "${EXEC_API_VERSION}"`),
    );
  else if (typeof apiVersion === 'string' && apiVersion !== EXEC_API_VERSION)
    out.push(
      violation(
        'TG-CS-04',
        joinPath(path, 'apiVersion'),
        `is not ${EXEC_API_VERSION} ${WITHHELD}; expected "${EXEC_API_VERSION}"`,
      ),
    );
  if (own(exec, 'env') !== undefined)
    out.push(
      violation(
        'TG-CS-04',
        joinPath(path, 'env'),
        'is set; the plugin call takes no environment, remove env',
      ),
    );
  return out;
}

function profileNames(profiles: readonly ExecProfile[]): string {
  return profiles.length === 0 ? 'none are set' : profiles.map((p) => p.name).join(', ');
}

/** Why a call matches none of `profiles`: against those with its command, else in general. */
function explainNoProfile(call: ExecCall, profiles: readonly ExecProfile[]): string {
  const sameCommand = profiles.filter((p) => p.command === call.command);
  if (sameCommand.length === 0)
    return `runs a command that is neither the tenant-guard plugin call for this cluster nor the command of an exec profile ${WITHHELD}; exec profiles (setting exec-profiles): ${profileNames(profiles)}`;
  return `matches no exec profile: ${sameCommand.map((p) => `${p.name}: ${profileMismatch(call, p) ?? ''}`).join('; ')}`;
}

/**
 * True when everything the config runs matches an exec profile exactly (and is not the
 * plugin): a platform Secret of a platform cluster, which the plugin-call rules leave alone.
 */
export function isProfiled(reading: ExecReading, settings: Settings): boolean {
  if (!reading.runsCommand || !reading.clean || reading.execShape.length > 0 || reading.awsShape.length > 0)
    return false;
  if (reading.exec === undefined && !reading.aws) return false;
  if (
    reading.exec !== undefined &&
    (reading.execCall === undefined || findProfile(reading.execCall, settings.execProfiles) === undefined)
  )
    return false;
  return (
    !reading.aws ||
    (reading.awsCall !== undefined &&
      findProfile(reading.awsCall, awsProfiles(settings.execProfiles)) !== undefined)
  );
}

function awsProfiles(profiles: readonly ExecProfile[]): ExecProfile[] {
  return profiles.filter((p) => p.command === AWS_AUTH_COMMAND && p.args[0] === AWS_AUTH_ARG);
}

/**
 * TG-CS-04 for a platform Secret (no tenant) whose config runs something that is not a
 * profile: each exec part that is neither the canonical plugin call for `name` nor matches
 * an exec profile exactly, `awsAuthConfig` without a matching `argocd-k8s-auth aws` profile,
 * and values of the wrong type. Key spelling is TG-CS-03's.
 */
export function checkPlatformExec(
  reading: ExecReading,
  name: string | undefined,
  settings: Settings,
): Violation[] {
  const out: Violation[] = [...reading.execShape, ...reading.awsShape];
  const profiles = settings.execProfiles;
  const call = reading.execCall;
  if (
    call !== undefined &&
    !isCanonicalCall(reading, name, settings) &&
    findProfile(call, profiles) === undefined
  ) {
    out.push(violation('TG-CS-04', joinPath(CONFIG_PATH, EXEC), explainNoProfile(call, profiles)));
  }
  const aws = reading.awsCall;
  if (reading.aws && aws !== undefined) {
    const allowed = awsProfiles(profiles);
    if (allowed.length === 0) {
      out.push(
        violation(
          'TG-CS-04',
          joinPath(CONFIG_PATH, AWS),
          `is set, and no exec profile allows "${AWS_AUTH_COMMAND} ${AWS_AUTH_ARG}" (setting exec-profiles); Argo CD would run it inside the application controller`,
        ),
      );
    } else if (findProfile(aws, allowed) === undefined) {
      out.push(
        violation(
          'TG-CS-04',
          joinPath(CONFIG_PATH, AWS),
          `matches no exec profile: ${allowed.map((p) => `${p.name}: ${profileMismatch(aws, p) ?? ''}`).join('; ')}`,
        ),
      );
    }
  }
  return out;
}
