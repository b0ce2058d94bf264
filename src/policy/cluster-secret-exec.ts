/**
 * TG-CS-04: what a cluster Secret's `config` makes Argo CD run. Every exec config, in every
 * cluster Secret and for every requester, is either the canonical tenant-guard plugin call
 * or matches an exec profile of the settings exactly; `awsAuthConfig` (Argo CD then runs
 * `argocd-k8s-auth aws ...` itself) only where a profile for that command is set. Nothing is
 * judged by searching text for paths: `/run/...`, `/proc/self/root/...` and `..` reach the
 * same file by other spellings. Pure.
 *
 * The config is read as Argo CD reads it (cluster-secret-exec-reading.ts): a config whose
 * exec parts are spelled otherwise or given twice is denied rather than guessed at. Argo CD prefers `awsAuthConfig` over `execProviderConfig`
 * (`Cluster.RESTConfig`); both are checked.
 * https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/#clusters
 */
import type { Settings } from '../settings.js';
import { AWS_PATH, EXEC_PATH, type ExecReading } from './cluster-secret-exec-reading.js';
import { ownValue } from '../json.js';
import {
  AWS_AUTH_ARG,
  AWS_AUTH_COMMAND,
  findProfile,
  profileMismatch,
  type ExecCall,
  type ExecProfile,
} from './cluster-secret-profiles.js';
import { joinPath } from './object-paths.js';
import type { Violation } from './types.js';
import { violation } from './types.js';

/** `apiVersion` of the ExecCredential the plugin speaks. */
export const EXEC_API_VERSION = 'client.authentication.k8s.io/v1';

const WITHHELD = '(value withheld: Secret data)';

/**
 * The exec config tenant-guard writes for a cluster (SPEC TG-CS-04). `provideClusterInfo`
 * makes client-go hand the plugin the server the token will be presented to, which the broker
 * binds the token to (ADR 0011; Argo CD 3.5 or later).
 */
export function canonicalExec(
  settings: Settings,
  name: string,
): { command: string; args: string[]; apiVersion: string; provideClusterInfo: true } {
  return {
    command: settings.pluginCommand,
    args: [settings.brokerUrl, name, settings.callerTokenPath, '--ca-file', settings.brokerCaPath],
    apiVersion: EXEC_API_VERSION,
    provideClusterInfo: true,
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
    call.provideClusterInfo === true &&
    ownValue(reading.exec ?? {}, 'env') === undefined
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
  const path = EXEC_PATH;
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
  const command = ownValue(exec, 'command');
  const args = ownValue(exec, 'args');
  const apiVersion = ownValue(exec, 'apiVersion');
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
  if (ownValue(exec, 'env') !== undefined)
    out.push(
      violation(
        'TG-CS-04',
        joinPath(path, 'env'),
        'is set; the plugin call takes no environment, remove env',
      ),
    );
  const clusterInfo = ownValue(exec, 'provideClusterInfo');
  if (clusterInfo === undefined || clusterInfo === null)
    out.push(
      violation(
        'TG-CS-04',
        joinPath(path, 'provideClusterInfo'),
        'is missing; expected true (/mutate sets it)',
      ),
    );
  else if (clusterInfo !== true && typeof clusterInfo === 'boolean')
    out.push(
      violation(
        'TG-CS-04',
        joinPath(path, 'provideClusterInfo'),
        'is false; expected true: the plugin must be told the server the token goes to, which the broker binds it to',
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
  return mismatchLine(call, sameCommand);
}

/** `matches no exec profile: ` and, for each of `profiles`, where `call` departs from it. */
function mismatchLine(call: ExecCall, profiles: readonly ExecProfile[]): string {
  return `matches no exec profile: ${profiles.map((p) => `${p.name}: ${profileMismatch(call, p) ?? ''}`).join('; ')}`;
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
    out.push(violation('TG-CS-04', EXEC_PATH, explainNoProfile(call, profiles)));
  }
  const aws = reading.awsCall;
  if (reading.aws && aws !== undefined) {
    const allowed = awsProfiles(profiles);
    if (allowed.length === 0) {
      out.push(
        violation(
          'TG-CS-04',
          AWS_PATH,
          `is set, and no exec profile allows "${AWS_AUTH_COMMAND} ${AWS_AUTH_ARG}" (setting exec-profiles); Argo CD would run it inside the application controller`,
        ),
      );
    } else if (findProfile(aws, allowed) === undefined) {
      out.push(violation('TG-CS-04', AWS_PATH, mismatchLine(aws, allowed)));
    }
  }
  return out;
}
