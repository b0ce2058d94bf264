/**
 * `tenant-guard check -f PATH`: what the webhook would do with manifests, offline, for CI.
 * For every object of a file, stdin or a directory (recursive, multi-document), builds the
 * AdmissionRequest the API server would send and runs it through the HTTP adapter's own path
 * (`mutateThenValidate`). One line per object (its rule lines under it) and a summary, like
 * `kyverno apply` and `gator test` (check-verdicts.ts); kinds it does not judge are skipped
 * and counted. Exit 0 all allowed, 1 any denied, 2 bad input.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { listingPolicy, mutateThenValidate, type AdmissionPolicy } from '../admission/admit.js';
import { admissionRequestFor, type ManifestAdmissionRequest } from '../admission/manifest-request.js';
import { readAdmissionRequest } from '../admission/review.js';
import { TenantGuardError } from '../errors.js';
import { limitFlags, type AdmissionLimits } from '../policy/limits.js';
import { yamlDepth } from '../yaml-depth.js';
import type { KubeObject } from '../policy/types.js';
import { loadTenantsFile } from '../tenancy/file-source.js';
import {
  addSettingOptions,
  DEFAULT_TENANTS_FILE,
  envOption,
  EXIT_BAD_INPUT,
  EXIT_FAILED,
  EXIT_OK,
  limitsFromOptions,
  printError,
  settingsFromOptions,
  valueOf,
  type CliContext,
  type CliIo,
} from './io.js';
import {
  OPERATIONS,
  printText,
  verdictOf,
  type CheckOperation,
  type CheckSummary,
  type ObjectVerdict,
} from './check-verdicts.js';
import { parseOneObject, readObjects } from './manifests.js';
import { readInput } from './read-input.js';

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
  const output =
    raw.output === undefined || raw.output === 'text' ? 'text' : raw.output === 'json' ? 'json' : undefined;
  if (output === undefined) throw usage('--output must be text or json');
  if (typeof raw.filename !== 'string') throw usage('-f FILE is required');
  const old = typeof raw.old === 'string' ? raw.old : undefined;
  if (operation === 'UPDATE' && old === undefined)
    throw usage('--operation UPDATE needs --old FILE (the object as stored)');
  return {
    file: raw.filename,
    tenants: valueOf(raw.tenants, env, 'TG_TENANTS', DEFAULT_TENANTS_FILE), // settled by tenantsPath
    user: typeof raw.user === 'string' ? raw.user : 'check-user',
    groups:
      typeof raw.groups === 'string'
        ? raw.groups
            .split(',')
            .map((g) => g.trim())
            .filter((g) => g !== '')
        : [],
    operation,
    old,
    namespace: typeof raw.namespace === 'string' ? raw.namespace : undefined,
    output,
  };
}

/** The AdmissionReview `request` the API server would send for these options. */
export function buildRequest(
  options: CheckOptions,
  object: KubeObject,
  oldObject: KubeObject | undefined,
): ManifestAdmissionRequest {
  const isDelete = options.operation === 'DELETE';
  return admissionRequestFor({
    uid: randomUUID(),
    operation: options.operation,
    user: { username: options.user, groups: options.groups },
    // DELETE sends the object deleted as oldObject: --old if given, else -f.
    object: isDelete ? undefined : object,
    oldObject: isDelete ? (oldObject ?? object) : oldObject,
    namespace: options.namespace,
    defaultNamespace: 'default',
  });
}

/**
 * Parses one object, after checking the nesting of the text iteratively: the YAML parser
 * recurses (and runs out of memory near 1,000 nested `[`), so a file nested deeper than
 * the webhook reads is bad input, not a crash.
 * @throws TenantGuardError ERR_USAGE
 */
function parseBounded(text: string, source: string, limits: AdmissionLimits): KubeObject {
  checkTextDepth(text, source, limits);
  return parseOneObject(text, source);
}

/** @throws TenantGuardError ERR_USAGE when `text` nests deeper than any limit setting allows. */
function checkTextDepth(text: string, source: string, limits: AdmissionLimits): void {
  // Generous: the object's own depth is the webhook's to judge (its TG-REQ-01 line); this only keeps the parser safe.
  const depth = yamlDepth(text);
  if (depth > limitFlags.maxObjectDepth.max) {
    throw usage(
      `${source}: nests ${Number.isFinite(depth) ? `about ${depth}` : 'thousands of'} levels deep; tenant-guard reads at most ${limits.maxObjectDepth} (setting --${limitFlags.maxObjectDepth.flag}, at most ${limitFlags.maxObjectDepth.max})`,
    );
  }
}

/** Where the Tenants come from: --tenants, TG_TENANTS, or inside this repository its example registry (said on stderr). */
function tenantsPath(raw: Record<string, unknown>, io: CliIo): string {
  const given = valueOf(raw.tenants, io.env, 'TG_TENANTS');
  if (given !== undefined) return given;
  if (isThisRepository(io.cwd)) {
    io.stderr.write(
      `tenant-guard check: no --tenants given; using the example registry ${DEFAULT_TENANTS_FILE}\n`,
    );
    return DEFAULT_TENANTS_FILE;
  }
  throw usage('give --tenants FILE (or TG_TENANTS): the Tenant registry to check against');
}

function isThisRepository(cwd: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(resolve(cwd, 'package.json'), 'utf8')) as { name?: unknown };
    return pkg.name === 'tenant-guard' && existsSync(resolve(cwd, DEFAULT_TENANTS_FILE));
  } catch {
    return false;
  }
}

/**
 * Checks every object of `-f` (a file, `-`, or a directory): `mutateThenValidate` on each
 * object of a kind tenant-guard judges; the others are counted as skipped.
 * @throws TenantGuardError (bad input: exit 2).
 */
export async function checkObjects(
  options: CheckOptions,
  raw: Record<string, unknown>,
  io: CliIo,
  policy: AdmissionPolicy = listingPolicy,
): Promise<{ verdicts: ObjectVerdict[]; summary: CheckSummary }> {
  const settings = settingsFromOptions(raw, io.env);
  const limits = limitsFromOptions(raw, io.env);
  const registry = loadTenantsFile(resolve(io.cwd, options.tenants), settings.argocdNamespace);
  const objects = await readObjects(options.file, io, (text, source) => checkTextDepth(text, source, limits));
  const oldObject =
    options.old === undefined
      ? undefined
      : parseBounded(await readInput(options.old, io), options.old, limits);
  if (options.old !== undefined && objects.length !== 1)
    throw usage(`--old goes with exactly one object; ${options.file} holds ${objects.length}`);
  const verdicts: ObjectVerdict[] = [];
  let skipped = 0;
  for (const { source, object } of objects) {
    const request = buildRequest(options, object, oldObject);
    const admission = readAdmissionRequest({ uid: request.uid, request });
    // The same limits as the webhook: past them, the verdict is the webhook's TG-REQ-01 denial.
    const result = mutateThenValidate(admission, { policy, registry, settings, limits });
    if (result.outcome.type === 'unhandled') {
      skipped += 1;
      continue;
    }
    verdicts.push(verdictOf(source, request, result, options));
  }
  const warned = verdicts.filter((v) => v.allowed && v.warnings.length > 0).length;
  const allowed = verdicts.filter((v) => v.allowed).length;
  return {
    verdicts,
    summary: { objects: verdicts.length, allowed, denied: verdicts.length - allowed, warned, skipped },
  };
}

/** Registers `check`. */
export function register(program: Command, context: CliContext): void {
  const command = program
    .command('check')
    .description(
      'run /mutate then /validate on manifests offline; one line per object and a summary; exit 0 all allowed, 1 any denied, 2 bad input',
    )
    .requiredOption(
      '-f, --filename <path>',
      'a file (YAML, multi-document, or JSON), a directory (recursive) or - for stdin',
    )
    .addOption(
      envOption(
        '--tenants <file>',
        'Tenant registry file (multi-document YAML); required outside this repository',
        'TG_TENANTS',
      ),
    )
    .option('--user <name>', 'requesting user', 'check-user')
    .option('--groups <list>', 'comma-separated groups of the user')
    .option('--operation <op>', 'CREATE, UPDATE or DELETE', 'CREATE')
    .option(
      '--old <file>',
      'the stored object, for UPDATE of one object (DELETE uses -f as the object deleted)',
    )
    .option('-n, --namespace <ns>', 'request namespace (default: the object\'s, else "default")')
    .option('--show-patch', 'print each JSON Patch (always printed for a single object)')
    .option('-o, --output <format>', 'text or json', 'text');
  addSettingOptions(command);
  command.action(async (raw: Record<string, unknown>) => {
    const { io } = context;
    try {
      const options = parseOptions(raw, io.env);
      options.tenants = tenantsPath(raw, io);
      const { verdicts, summary } = await checkObjects(options, raw, io);
      if (options.output === 'json')
        io.stdout.write(`${JSON.stringify({ results: verdicts, summary }, null, 2)}\n`);
      else printText(io, verdicts, summary, raw.showPatch === true || verdicts.length === 1);
      context.setExitCode(summary.denied > 0 ? EXIT_FAILED : EXIT_OK);
    } catch (err) {
      if (!(err instanceof TenantGuardError)) throw err;
      printError(io, err.message);
      context.setExitCode(EXIT_BAD_INPUT);
    }
  });
}
