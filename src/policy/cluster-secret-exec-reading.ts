/**
 * What a cluster Secret's `config` makes Argo CD run, read as Argo CD reads it (`ClusterConfig`,
 * pkg/apis/application/v1alpha1): the exec call of `execProviderConfig` and the one Argo CD
 * makes for `awsAuthConfig`, and whether the keys of those parts can be trusted to say so.
 * Go's decoder matches keys case-insensitively (src/policy/go-json-fold.ts) and merges a
 * field given twice, so a config whose exec parts are spelled otherwise or given twice is
 * read as messy rather than guessed at. The rules on the reading (TG-CS-04) are in
 * cluster-secret-exec.ts. Pure.
 * https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/#clusters
 */
import { AWS_AUTH_ARG, AWS_AUTH_COMMAND, type ExecCall } from './cluster-secret-profiles.js';
import { GoFieldSet } from './go-json-fold.js';
import { joinPath } from './object-paths.js';
import { describeJsonType, isRecord, ownValue } from '../json.js';
import type { Violation } from './types.js';
import { violation } from './types.js';

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

/**
 * Exec fields no call sets: `config` passes cluster data to the command. `provideClusterInfo`
 * is read into the call (the plugin call sets it, ADR 0011; a profile may not).
 */
const UNCHECKED_EXEC_FIELDS: ReadonlySet<string> = new Set(['config']);

const CONFIG_PATH = 'data.config';
const EXEC = 'execProviderConfig';
const AWS = 'awsAuthConfig';
/** Where the exec and AWS parts are, for denial lines. */
export const EXEC_PATH = joinPath(CONFIG_PATH, EXEC);
export const AWS_PATH = joinPath(CONFIG_PATH, AWS);

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
  const raw = ownValue(config, field);
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

/**
 * The value at `key` of `container` when it is a `expected`; absent or null reads as unset
 * (undefined), as client-go reads it; any other type is a TG-CS-04 finding added to `shape`.
 */
function optionalField(
  container: Record<string, unknown>,
  key: string,
  expected: 'string',
  path: string,
  shape: Violation[],
): string | undefined;
function optionalField(
  container: Record<string, unknown>,
  key: string,
  expected: 'boolean',
  path: string,
  shape: Violation[],
): boolean | undefined;
function optionalField(
  container: Record<string, unknown>,
  key: string,
  expected: 'string' | 'boolean',
  path: string,
  shape: Violation[],
): string | boolean | undefined {
  const value = ownValue(container, key);
  if (typeof value === expected) return value as string | boolean;
  if (value !== undefined && value !== null)
    shape.push(
      violation('TG-CS-04', joinPath(path, key), `is ${describeJsonType(value)}; expected a ${expected}`),
    );
  return undefined;
}

/** An exec config read as client-go will run it, or the shape problems that stop that. */
function execCall(
  exec: Record<string, unknown>,
  path: string,
): { call: ExecCall | undefined; shape: Violation[] } {
  const shape: Violation[] = [];
  const command = ownValue(exec, 'command');
  const args = ownValue(exec, 'args');
  const env = ownValue(exec, 'env');
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
  const apiVersion = optionalField(exec, 'apiVersion', 'string', path, shape);
  optionalField(exec, 'installHint', 'string', path, shape);
  const clusterInfo = optionalField(exec, 'provideClusterInfo', 'boolean', path, shape);
  if (shape.length > 0 || typeof command !== 'string') return { call: undefined, shape };
  return {
    call: {
      command,
      args: Array.isArray(args) ? args.map(String) : [],
      apiVersion,
      env: isRecord(env) ? Object.keys(env).map((k) => [k, String(ownValue(env, k))] as const) : [],
      ...(clusterInfo === undefined ? {} : { provideClusterInfo: clusterInfo }),
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
  const text = (key: string): string => optionalField(aws, key, 'string', path, shape) ?? '';
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
  const e = exec.value === undefined ? { call: undefined, shape: [] } : execCall(exec.value, EXEC_PATH);
  const a = aws.value === undefined ? { call: undefined, shape: [] } : awsCall(aws.value, AWS_PATH);
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
