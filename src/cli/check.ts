/**
 * `tenant-guard check -f FILE`: what the webhook would do with one object, offline. Builds the
 * AdmissionRequest the API server would send and runs it through the HTTP adapter's own path
 * (`mutateThenValidate`): prints the JSON Patch and the verdict. Exit 0 allowed, 1 denied,
 * 2 bad input.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultPolicy, mutateThenValidate, type AdmissionPolicy, type CheckOutcome } from '../admission/admit.js';
import { readAdmissionRequest } from '../admission/review.js';
import { TenantGuardError } from '../errors.js';
import { limitFlags, textDepth, type AdmissionLimits } from '../policy/limits.js';
import { isRecord } from '../policy/object-paths.js';
import { formatViolation, type KubeObject, type Violation } from '../policy/types.js';
import { loadTenantsFile } from '../tenancy/file-source.js';
import { addSettingOptions, DEFAULT_TENANTS_FILE, envOption, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, limitsFromOptions, printError, settingsFromOptions, valueOf, type CliContext, type CliIo } from './io.js';
import { parseOneObject, readInput } from './read-input.js';

const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE'] as const;
type CheckOperation = (typeof OPERATIONS)[number];

/** Options of `check`, as parsed. */
export interface CheckOptions {
  file: string;
  tenants: string;
  user: string;
  groups: string[];
  operation: CheckOperation;
  old: string | undefined;
  namespace: string | undefined;
  output: 'text' | 'json';
}

function usage(message: string): TenantGuardError {
  return new TenantGuardError('ERR_USAGE', message);
}

function parseOptions(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): CheckOptions {
  const operation = OPERATIONS.find((op) => op === String(raw.operation ?? 'CREATE').toUpperCase());
  if (operation === undefined) throw usage(`--operation must be one of ${OPERATIONS.join(', ')}`);
  const output = raw.output === undefined || raw.output === 'text' ? 'text' : raw.output === 'json' ? 'json' : undefined;
  if (output === undefined) throw usage('--output must be text or json');
  if (typeof raw.filename !== 'string') throw usage('-f FILE is required');
  const old = typeof raw.old === 'string' ? raw.old : undefined;
  if (operation === 'UPDATE' && old === undefined) throw usage('--operation UPDATE needs --old FILE (the object as stored)');
  return {
    file: raw.filename,
    tenants: valueOf(raw.tenants, env, 'TG_TENANTS', DEFAULT_TENANTS_FILE),
    user: typeof raw.user === 'string' ? raw.user : 'check-user',
    groups: typeof raw.groups === 'string' ? raw.groups.split(',').map((g) => g.trim()).filter((g) => g !== '') : [],
    operation,
    old,
    namespace: typeof raw.namespace === 'string' ? raw.namespace : undefined,
    output,
  };
}

/** `apiVersion` as a group and version (`v1` is the core group). */
function groupVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

function metadataString(object: KubeObject, key: string): string | undefined {
  const value = isRecord(object.metadata) ? object.metadata[key] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The API server fills the request namespace into the object before admission. */
function withNamespace(object: KubeObject, namespace: string): KubeObject {
  if (!isRecord(object.metadata) || metadataString(object, 'namespace') !== undefined) return object;
  return { ...object, metadata: { ...object.metadata, namespace } };
}

/** The AdmissionReview `request` the API server would send for these options. */
export function buildRequest(options: CheckOptions, object: KubeObject, oldObject: KubeObject | undefined): Record<string, unknown> {
  const subject = options.operation === 'DELETE' ? oldObject ?? object : object;
  const namespace = options.namespace ?? metadataString(subject, 'namespace') ?? 'default';
  const { group, version } = groupVersion(String(subject.apiVersion));
  const kind = String(subject.kind);
  const isDelete = options.operation === 'DELETE';
  return {
    uid: randomUUID(),
    kind: { group, version, kind },
    namespace,
    name: metadataString(subject, 'name') ?? '',
    operation: options.operation,
    userInfo: { username: options.user, groups: options.groups },
    ...(isDelete ? {} : { object: withNamespace(object, namespace) }),
    ...(isDelete ? { oldObject: withNamespace(oldObject ?? object, namespace) } : oldObject === undefined ? {} : { oldObject: withNamespace(oldObject, namespace) }),
    dryRun: false,
  };
}

/**
 * Parses one object, after checking the nesting of the text iteratively: the YAML parser
 * recurses (and runs out of memory near 1,000 nested `[`), so a file nested deeper than
 * the webhook reads is bad input, not a crash.
 * @throws TenantGuardError ERR_USAGE
 */
function parseBounded(text: string, source: string, limits: AdmissionLimits): KubeObject {
  // Generous: the object's own depth is the webhook's to judge (its TG-REQ-01 line); this only keeps the parser safe.
  const depth = textDepth(text, true);
  if (depth > limitFlags.maxObjectDepth.max) {
    throw usage(`${source}: nests about ${depth} levels deep; tenant-guard reads at most ${limits.maxObjectDepth} (setting --${limitFlags.maxObjectDepth.flag}, at most ${limitFlags.maxObjectDepth.max})`);
  }
  return parseOneObject(text, source);
}

/**
 * Runs a check: reads the tenants file and the object(s), then `mutateThenValidate`.
 * @throws TenantGuardError (bad input: exit 2).
 */
export async function checkObject(options: CheckOptions, settingsRaw: Record<string, unknown>, io: CliIo, policy: AdmissionPolicy = defaultPolicy): Promise<{ request: Record<string, unknown>; result: CheckOutcome }> {
  const settings = settingsFromOptions(settingsRaw, io.env);
  const limits = limitsFromOptions(settingsRaw, io.env);
  const registry = loadTenantsFile(resolve(io.cwd, options.tenants), settings.argocdNamespace);
  const object = parseBounded(await readInput(options.file, io), options.file, limits);
  const oldObject = options.old === undefined ? undefined : parseBounded(await readInput(options.old, io), options.old, limits);
  const request = buildRequest(options, object, oldObject);
  const admission = readAdmissionRequest({ uid: String(request.uid), request });
  // The same limits as the webhook: past them, the verdict is the webhook's TG-REQ-01 denial.
  const result = mutateThenValidate(admission, { policy, registry, settings, limits });
  if (result.outcome.type === 'unhandled') {
    throw usage(`${String(object.apiVersion)} ${String(object.kind)} is not a kind tenant-guard checks; it checks argoproj.io ApplicationSet, Application, AppProject and v1 Secrets labelled argocd.argoproj.io/secret-type: cluster`);
  }
  return { request, result };
}

interface Verdict {
  allowed: boolean;
  violations: readonly Violation[];
  warnings: readonly string[];
  audited: readonly Violation[];
  tenant: string | null;
  enforcement: string | null;
}

function verdictOf(result: CheckOutcome): Verdict {
  const { outcome } = result;
  if (outcome.type === 'decided') {
    const d = outcome.decision;
    return {
      allowed: d.allowed, violations: d.allowed ? [] : d.violations, warnings: d.warnings, audited: d.audited,
      tenant: d.summary.tenant ?? null, enforcement: d.summary.enforcement,
    };
  }
  const violations = outcome.type === 'malformed' ? outcome.violations : [];
  return { allowed: false, violations, warnings: [], audited: [], tenant: null, enforcement: null };
}

function printText(io: CliIo, request: Record<string, unknown>, result: CheckOutcome, verdict: Verdict, options: CheckOptions): void {
  const out: string[] = [];
  const kind = isRecord(request.kind) ? String(request.kind.kind) : '';
  const groups = options.groups.length > 0 ? ` (groups: ${options.groups.join(', ')})` : '';
  out.push(`${kind} ${String(request.namespace)}/${String(request.name)}: ${options.operation} by ${options.user}${groups}`);
  if (verdict.tenant !== null) out.push(`tenant: ${verdict.tenant} (enforcement: ${verdict.enforcement ?? 'enforce'})`);
  if (result.patch.length === 0) out.push('patch: none');
  else out.push(`patch (JSON Patch, ${result.patch.length} operation${result.patch.length === 1 ? '' : 's'}):`, JSON.stringify(result.patch, null, 2));
  out.push(`verdict: ${verdict.allowed ? 'allowed' : 'denied'}`);
  for (const v of verdict.violations) out.push(`  ${formatViolation(v)}`);
  if (verdict.warnings.length > 0) out.push('warnings:', ...verdict.warnings.map((w) => `  ${w}`));
  if (verdict.audited.length > 0) out.push('audited (not denying):', ...verdict.audited.map((v) => `  ${formatViolation(v)}`));
  io.stdout.write(`${out.join('\n')}\n`);
}

function printJson(io: CliIo, request: Record<string, unknown>, result: CheckOutcome, verdict: Verdict): void {
  const kind = isRecord(request.kind) ? request.kind.kind : undefined;
  const body = {
    kind, namespace: request.namespace, name: request.name, operation: request.operation,
    user: request.userInfo, patch: result.patch, ...verdict,
  };
  io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
}

/** Registers `check`. */
export function register(program: Command, context: CliContext): void {
  const command = program
    .command('check')
    .description('run /mutate then /validate on one object offline; exit 0 allowed, 1 denied, 2 bad input')
    .requiredOption('-f, --filename <file>', 'the object, YAML or JSON (- for stdin)')
    .addOption(envOption('--tenants <file>', 'Tenant registry file (multi-document YAML)', 'TG_TENANTS', DEFAULT_TENANTS_FILE))
    .option('--user <name>', 'requesting user', 'check-user')
    .option('--groups <list>', 'comma-separated groups of the user')
    .option('--operation <op>', 'CREATE, UPDATE or DELETE', 'CREATE')
    .option('--old <file>', 'the stored object, for UPDATE (DELETE uses -f as the object deleted)')
    .option('-n, --namespace <ns>', 'request namespace (default: the object\'s, else "default")')
    .option('-o, --output <format>', 'text or json', 'text');
  addSettingOptions(command);
  command.action(async (raw: Record<string, unknown>) => {
    const { io } = context;
    try {
      const options = parseOptions(raw, io.env);
      const { request, result } = await checkObject(options, raw, io);
      const verdict = verdictOf(result);
      if (options.output === 'json') printJson(io, request, result, verdict);
      else printText(io, request, result, verdict, options);
      context.setExitCode(verdict.allowed ? EXIT_OK : EXIT_FAILED);
    } catch (err) {
      if (!(err instanceof TenantGuardError)) throw err;
      printError(io, err.message);
      context.setExitCode(EXIT_BAD_INPUT);
    }
  });
}
