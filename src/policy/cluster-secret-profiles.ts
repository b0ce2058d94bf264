/**
 * Exec profiles (SPEC section 3, TG-CS-04): the exec commands other than the tenant-guard
 * plugin that platform cluster Secrets may run, each with its fixed leading arguments and the
 * environment it may set. An exec config in a cluster Secret is the canonical plugin call or
 * matches one profile exactly; nothing else runs inside the application controller (which
 * holds the caller token that obtains every tenant's tokens) or argocd-server.
 *
 * The setting is JSON, a list of profiles:
 *
 *   [{ "name": "eks",
 *      "command": "argocd-k8s-auth",                    // exact, as the Secret writes it
 *      "args": ["aws"],                                 // fixed leading arguments
 *      "extraArgs": "--cluster-name|--role-arn|[a-z0-9-]+",  // each further argument matches it
 *      "apiVersion": "client.authentication.k8s.io/v1beta1", // optional: one exact value
 *      "env": { "AWS_REGION": "eu-west-1",              // a fixed value
 *               "AWS_PROFILE": { "pattern": "[a-z-]+" } } }]  // or a pattern
 *
 * Patterns are JavaScript regular expressions matched against the whole value (`^(?:...)$`,
 * flag `u`). Without `extraArgs` no argument may follow the fixed ones; without `env` the
 * config may set no environment. A profile for `argocd-k8s-auth` with leading argument `aws`
 * also allows `awsAuthConfig`, which makes Argo CD run `argocd-k8s-auth aws --cluster-name ...`.
 * Pure: parsing returns a result, never throws.
 */
import { posix } from 'node:path';
import { isRecord, ownValue } from '../json.js';

/** What one environment variable of a profile may hold. */
export type ExecProfileEnv =
  { readonly name: string; readonly value: string } | { readonly name: string; readonly pattern: string };

/** One exec profile, as parsed from the `exec-profiles` setting. Plain data (JSON-safe). */
export interface ExecProfile {
  /** A name for messages and audit (not Secret data). */
  readonly name: string;
  /** The exact `command`. */
  readonly command: string;
  /** The fixed leading `args`. */
  readonly args: readonly string[];
  /** Pattern every further argument must match; undefined: no further arguments. */
  readonly extraArgs: string | undefined;
  /** The exact `apiVersion`; undefined: either `client.authentication.k8s.io/v1` or `/v1beta1`. */
  readonly apiVersion: string | undefined;
  /** The environment variables the config may set (at most these). */
  readonly env: readonly ExecProfileEnv[];
}

/** The `apiVersion`s client-go's exec plugins speak. */
export const EXEC_API_VERSIONS: readonly string[] = [
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
];

/** The command Argo CD runs for `awsAuthConfig`, and its leading argument. */
export const AWS_AUTH_COMMAND = 'argocd-k8s-auth';
export const AWS_AUTH_ARG = 'aws';

/**
 * Commands a profile may not name: a shell, an interpreter or a wrapper runs whatever its
 * arguments say, so no fixed leading arguments bound it.
 */
const REFUSED_COMMANDS =
  /^(?:(?:ba|da|z|k|mk|c|tc|fi|a|rba)?sh|busybox|toybox|env|sudo|su|doas|nohup|timeout|nice|ionice|setsid|stdbuf|xargs|chroot|nsenter|unshare|strace|ltrace|gdb|script|expect|eval|exec|(?:python|perl|ruby|php|lua|luajit|node|nodejs|deno|bun|tclsh|wish|pwsh|powershell|osascript|awk|gawk|mawk|nawk|sed|jq|yq|curl|wget|nc|ncat|socat|openssl|ssh|scp)[\d.]*)$/;

/** Environment variables no profile may set: they make a program load or run other code. */
const REFUSED_ENV =
  /^(?:LD_\w*|DYLD_\w*|PATH|BASH_ENV|ENV|SHELLOPTS|BASHOPTS|IFS|NODE_OPTIONS|NODE_PATH|PYTHON\w*|PERL5\w*|PERLLIB|RUBYOPT|RUBYLIB|GCONV_PATH|KUBERNETES_EXEC_INFO|HOME)$/;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PROFILE_KEYS: ReadonlySet<string> = new Set([
  'name',
  'command',
  'args',
  'extraArgs',
  'apiVersion',
  'env',
]);
const MAX_PROFILES = 64;
const MAX_ARGS = 64;

/** The result of `parseExecProfiles`. */
export type ExecProfilesResult =
  { readonly ok: true; readonly profiles: ExecProfile[] } | { readonly ok: false; readonly reason: string };

/** True when `pattern` compiles as a JavaScript regular expression with flag `u`. */
function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false;
  }
}

/** Tests a whole value against a profile pattern. */
export function matchesPattern(pattern: string, value: string): boolean {
  return new RegExp(`^(?:${pattern})$`, 'u').test(value);
}

function commandProblem(command: string, pluginCommand: string): string | undefined {
  if (command === '' || command.trim() !== command || /[\s\0]/.test(command))
    return 'must be a path or a file name without spaces';
  if (
    command.includes('/') &&
    (!command.startsWith('/') || posix.normalize(command) !== command || command.endsWith('/'))
  ) {
    return 'must be an absolute, normalised path (no "..", ".", "//") or a bare file name';
  }
  const base = posix.basename(command);
  if (command === pluginCommand || base === posix.basename(pluginCommand))
    return 'is the tenant-guard plugin, which cluster Secrets call only canonically (TG-CS-04)';
  if (REFUSED_COMMANDS.test(base))
    return `is a shell, an interpreter or a wrapper ("${base}"), which runs whatever its arguments say`;
  return undefined;
}

function parseEnv(value: unknown, where: string): { env: ExecProfileEnv[] } | { reason: string } {
  if (value === undefined) return { env: [] };
  if (!isRecord(value)) return { reason: `${where}.env must be an object of variable names` };
  const env: ExecProfileEnv[] = [];
  for (const name of Object.keys(value)) {
    const spec = ownValue(value, name);
    const at = `${where}.env[${JSON.stringify(name)}]`;
    if (!ENV_NAME.test(name)) return { reason: `${at} is not an environment variable name` };
    if (REFUSED_ENV.test(name))
      return { reason: `${at} may not be set by a profile: it makes a program load or run other code` };
    if (typeof spec === 'string') env.push({ name, value: spec });
    else if (
      isRecord(spec) &&
      Object.keys(spec).length === 1 &&
      typeof ownValue(spec, 'pattern') === 'string'
    ) {
      const pattern = String(ownValue(spec, 'pattern'));
      if (!compiles(pattern)) return { reason: `${at}.pattern is not a valid regular expression` };
      env.push({ name, pattern });
    } else return { reason: `${at} must be a string (a fixed value) or {"pattern": "..."}` };
  }
  return { env };
}

function parseProfile(
  value: unknown,
  index: number,
  pluginCommand: string,
): { profile: ExecProfile } | { reason: string } {
  const where = `[${index}]`;
  if (!isRecord(value)) return { reason: `${where} must be an object` };
  const unknown = Object.keys(value).filter((k) => !PROFILE_KEYS.has(k));
  if (unknown.length > 0)
    return {
      reason: `${where} has unknown keys ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${[...PROFILE_KEYS].join(', ')}`,
    };
  const name = ownValue(value, 'name');
  if (typeof name !== 'string' || name.trim() === '')
    return { reason: `${where}.name must be a non-empty string` };
  const command = ownValue(value, 'command');
  if (typeof command !== 'string') return { reason: `${where}.command must be a string` };
  const bad = commandProblem(command, pluginCommand);
  if (bad !== undefined) return { reason: `${where}.command ${JSON.stringify(command)} ${bad}` };
  const args = ownValue(value, 'args') ?? [];
  if (!Array.isArray(args) || args.length > MAX_ARGS || !args.every((a) => typeof a === 'string'))
    return { reason: `${where}.args must be a list of at most ${MAX_ARGS} strings` };
  const extraArgs = ownValue(value, 'extraArgs');
  if (extraArgs !== undefined && (typeof extraArgs !== 'string' || extraArgs === '' || !compiles(extraArgs)))
    return { reason: `${where}.extraArgs must be a valid, non-empty regular expression` };
  const apiVersion = ownValue(value, 'apiVersion');
  if (apiVersion !== undefined && (typeof apiVersion !== 'string' || !EXEC_API_VERSIONS.includes(apiVersion)))
    return { reason: `${where}.apiVersion must be one of ${EXEC_API_VERSIONS.join(', ')}` };
  const env = parseEnv(ownValue(value, 'env'), where);
  if ('reason' in env) return env;
  return { profile: { name, command, args: args.map(String), extraArgs, apiVersion, env: env.env } };
}

/**
 * Parses the `exec-profiles` setting (JSON; empty text: no profiles). Refuses a profile that
 * names the plugin, a shell, an interpreter or a wrapper, an environment variable that loads
 * code, an unknown key, a bad pattern or a repeated name.
 */
export function parseExecProfiles(text: string, pluginCommand: string): ExecProfilesResult {
  if (text.trim() === '') return { ok: true, profiles: [] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'is not valid JSON' };
  }
  if (!Array.isArray(value)) return { ok: false, reason: 'must be a JSON list of profiles' };
  if (value.length > MAX_PROFILES) return { ok: false, reason: `holds more than ${MAX_PROFILES} profiles` };
  const profiles: ExecProfile[] = [];
  const names = new Set<string>();
  for (const [i, item] of value.entries()) {
    const parsed = parseProfile(item, i, pluginCommand);
    if ('reason' in parsed) return { ok: false, reason: parsed.reason };
    if (names.has(parsed.profile.name))
      return { ok: false, reason: `[${i}].name "${parsed.profile.name}" is given twice` };
    names.add(parsed.profile.name);
    profiles.push(parsed.profile);
  }
  return { ok: true, profiles };
}

/** An exec call as client-go would make it: what a profile is matched against. */
export interface ExecCall {
  readonly command: string;
  readonly args: readonly string[];
  readonly apiVersion: string | undefined;
  /** Environment variables set by the config, in order. */
  readonly env: ReadonlyArray<readonly [string, string]>;
  /** `provideClusterInfo` when set (null or absent: unset). The plugin call sets it true; no profile sets it. */
  readonly provideClusterInfo?: boolean;
}

/** Why `call` does not match `profile` (never echoing a value: they are Secret data); undefined when it does. */
export function profileMismatch(call: ExecCall, profile: ExecProfile): string | undefined {
  if (call.command !== profile.command) return 'command differs';
  if (call.provideClusterInfo !== undefined) return 'sets provideClusterInfo, which no exec profile allows';
  const lead = profile.args;
  if (call.args.length < lead.length || lead.some((a, i) => call.args[i] !== a))
    return `args do not start with ${JSON.stringify(lead)}`;
  const extra = call.args.slice(lead.length);
  if (extra.length > 0 && profile.extraArgs === undefined)
    return `args go on past ${JSON.stringify(lead)}, which the profile does not allow`;
  const pattern = profile.extraArgs;
  if (pattern !== undefined) {
    const i = extra.findIndex((a) => !matchesPattern(pattern, a));
    if (i >= 0) return `args[${lead.length + i}] does not match the profile's extraArgs`;
  }
  const versions = profile.apiVersion === undefined ? EXEC_API_VERSIONS : [profile.apiVersion];
  if (call.apiVersion === undefined || !versions.includes(call.apiVersion))
    return `apiVersion is not ${versions.join(' or ')}`;
  const allowed = new Map(profile.env.map((e) => [e.name, e]));
  for (const [name, value] of call.env) {
    const rule = allowed.get(name);
    if (rule === undefined)
      return `env sets a variable the profile does not list (it allows: ${profile.env.map((e) => e.name).join(', ') || 'none'})`;
    if ('value' in rule ? rule.value !== value : !matchesPattern(rule.pattern, value))
      return `env ${rule.name} has a value the profile does not allow`;
  }
  return undefined;
}

/** The first profile `call` matches exactly, or undefined. */
export function findProfile(call: ExecCall, profiles: readonly ExecProfile[]): ExecProfile | undefined {
  return profiles.find((p) => profileMismatch(call, p) === undefined);
}
