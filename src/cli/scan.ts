/**
 * `tenant-guard scan`: the background scan once, over the API (`--kubeconfig`, or
 * in-cluster) or a folder of manifests (`-f DIR`), printing a table by tenant, rule and
 * object, `-o json`, or `-o policyreport` (the reports the background scan writes). Exit 0
 * when nothing fails, 1 when anything does, 2 on bad input.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { TenantGuardError } from '../errors.js';
import { guardedKindOfObject, type ScanFinding } from '../report/scan.js';
import type { ReportFormat } from '../report/policy-report.js';
import { ReportState } from '../reporter/report-state.js';
import type { KubeObject } from '../policy/types.js';
import type { TenantRegistry } from '../tenancy/registry.js';
import { loadTenantsFile } from '../tenancy/file-source.js';
import {
  addSettingOptions,
  envOption,
  EXIT_BAD_INPUT,
  EXIT_FAILED,
  EXIT_OK,
  printError,
  settingsFromOptions,
  valueOf,
  type CliContext,
} from './io.js';
import { readObjects } from './manifests.js';

const OUTPUTS = ['table', 'json', 'policyreport'] as const;
type Output = (typeof OUTPUTS)[number];

/** What a scan found, and how many objects it left alone (kinds it does not judge). */
export interface ScanSummary {
  readonly objects: number;
  readonly skipped: number;
  readonly pass: number;
  readonly fail: number;
  readonly warn: number;
}

export function scanSummary(findings: readonly ScanFinding[], skipped: number): ScanSummary {
  const objects = new Set(findings.map((f) => `${f.object.kind}/${f.object.namespace}/${f.object.name}`))
    .size;
  const count = (r: string) => findings.filter((f) => f.result === r).length;
  return { objects, skipped, pass: count('pass'), fail: count('fail'), warn: count('warn') };
}

/** The table: one row per fail or warn result, sorted by tenant, rule and object; then a summary. */
export function scanTable(findings: readonly ScanFinding[], summary: ScanSummary): string {
  const rows = findings
    .filter((f) => f.result !== 'pass')
    .map((f) => [
      f.tenant ?? '-',
      f.rule,
      f.result.toUpperCase(),
      `${f.object.kind} ${f.object.namespace}/${f.object.name}`,
      f.message,
    ])
    .sort((a, b) => a.slice(0, 4).join('\u0000').localeCompare(b.slice(0, 4).join('\u0000')));
  const header = ['TENANT', 'RULE', 'RESULT', 'OBJECT', 'MESSAGE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  const out = rows.length > 0 ? [line(header), ...rows.map(line)] : [];
  out.push(
    `${summary.objects} objects: ${summary.pass} pass, ${summary.fail} fail, ${summary.warn} warn; ${summary.skipped} skipped (kinds tenant-guard does not judge)`,
  );
  return `${out.join('\n')}\n`;
}

/** Findings as JSON, with the audit record's field names. */
export function scanJson(findings: readonly ScanFinding[], summary: ScanSummary): string {
  const results = findings.map((f) => ({
    tenant: f.tenant ?? null,
    kind: f.object.kind,
    namespace: f.object.namespace,
    name: f.object.name,
    result: f.result,
    rules: f.result === 'pass' ? [] : [{ id: f.rule, path: f.path, message: f.message }],
  }));
  return `${JSON.stringify({ summary, results }, null, 2)}\n`;
}

async function gather(
  raw: Record<string, unknown>,
  context: CliContext,
): Promise<{ objects: KubeObject[]; registry: TenantRegistry; notes: string[] }> {
  const { io } = context;
  const settings = settingsFromOptions(raw, io.env);
  const tenantsFile = valueOf(raw.tenants, io.env, 'TG_TENANTS');
  const notes: string[] = [];
  if (typeof raw.filename === 'string') {
    if (tenantsFile === undefined)
      throw new TenantGuardError(
        'ERR_USAGE',
        'scan -f needs --tenants FILE (the Tenant registry to judge against)',
      );
    const registry = loadTenantsFile(resolve(io.cwd, tenantsFile), settings.argocdNamespace);
    const objects = (await readObjects(raw.filename, io)).map((o) => o.object);
    return { objects, registry, notes };
  }
  const kubeconfig = valueOf(raw.kubeconfig, io.env, 'TG_KUBECONFIG');
  // Imported here: @kubernetes/client-node costs every other command (serve too) ~77 MB.
  const { loadKubeConfig } = await import('../kube/kube-config.js');
  const { listGuardedObjects, listTenantRegistry } = await import('../reporter/list-objects.js');
  const kc = loadKubeConfig(kubeconfig === undefined ? undefined : resolve(io.cwd, kubeconfig), io.env);
  if (kc === undefined)
    throw new TenantGuardError(
      'ERR_USAGE',
      'scan needs -f DIR (manifests) or a Kubernetes API (--kubeconfig, or in-cluster)',
    );
  let registry: TenantRegistry;
  if (tenantsFile !== undefined)
    registry = loadTenantsFile(resolve(io.cwd, tenantsFile), settings.argocdNamespace);
  else {
    const listed = await listTenantRegistry(kc, settings.argocdNamespace);
    registry = listed.registry;
    notes.push(...listed.problems);
  }
  return { objects: await listGuardedObjects(kc, settings), registry, notes };
}

/** Registers `scan`. */
export function register(program: Command, context: CliContext): void {
  const command = program
    .command('scan')
    .description(
      'judge every stored object under the current Tenants (as the background scan does); exit 1 when anything fails',
    )
    .option(
      '-f, --filename <path>',
      'a manifest file, a directory (recursive) or - for stdin, instead of the API',
    )
    .addOption(
      envOption(
        '--tenants <file>',
        'Tenant registry file (default with the API: the Tenants stored there)',
        'TG_TENANTS',
      ),
    )
    .addOption(
      envOption(
        '--kubeconfig <file>',
        'kubeconfig of the control plane (default: in-cluster)',
        'TG_KUBECONFIG',
      ),
    )
    .option('-o, --output <format>', `${OUTPUTS.join(', ')}`, 'table')
    .option(
      '--report-format <format>',
      'with -o policyreport: policyreport (wgpolicyk8s.io) or openreports',
      'policyreport',
    );
  addSettingOptions(command);
  command.action(async (raw: Record<string, unknown>) => {
    const { io } = context;
    try {
      const output = OUTPUTS.find((o) => o === raw.output);
      if (output === undefined)
        throw new TenantGuardError('ERR_USAGE', `--output must be one of ${OUTPUTS.join(', ')}`);
      const format: ReportFormat | undefined =
        raw.reportFormat === 'openreports'
          ? 'openreports'
          : raw.reportFormat === 'policyreport'
            ? 'wgpolicyk8s'
            : undefined;
      if (format === undefined)
        throw new TenantGuardError('ERR_USAGE', '--report-format must be policyreport or openreports');
      const { objects, registry, notes } = await gather(raw, context);
      for (const note of notes) io.stderr.write(`tenant-guard scan: ${note}\n`);
      const settings = settingsFromOptions(raw, io.env);
      const state = new ReportState({ registry, settings });
      let skipped = 0;
      for (const object of objects) {
        if (guardedKindOfObject(object) === undefined) skipped += 1;
        else state.upsert(object);
      }
      const findings = state.allFindings();
      const summary = scanSummary(findings, skipped);
      writeOutput(context, output as Output, findings, summary, state, format);
      context.setExitCode(summary.fail > 0 ? EXIT_FAILED : EXIT_OK);
    } catch (err) {
      if (!(err instanceof TenantGuardError)) throw err;
      printError(io, err.message);
      context.setExitCode(EXIT_BAD_INPUT);
    }
  });
}

function writeOutput(
  context: CliContext,
  output: Output,
  findings: ScanFinding[],
  summary: ScanSummary,
  state: ReportState,
  format: ReportFormat,
): void {
  const { io } = context;
  if (output === 'json') io.stdout.write(scanJson(findings, summary));
  else if (output === 'policyreport') {
    const reports = [...state.allReports(format, Date.now()).values()].flat();
    io.stdout.write(reports.map((r) => stringify(r)).join('---\n'));
  } else io.stdout.write(scanTable(findings, summary));
}
