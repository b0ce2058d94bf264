/**
 * What `tenant-guard check` (check.ts) says about each object: the verdict, with the audit
 * record's field names (the `-o json` output), and the text output.
 */
import type { CheckOutcome } from '../admission/admit.js';
import type { ManifestAdmissionRequest } from '../admission/manifest-request.js';
import { formatViolation, type Violation } from '../policy/types.js';
import type { CliIo } from './io.js';

export const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE'] as const;
export type CheckOperation = (typeof OPERATIONS)[number];

/** Who checks, and how: the options every verdict repeats. */
export interface CheckRequester {
  readonly operation: CheckOperation;
  readonly user: string;
  readonly groups: string[];
}

/** The verdict on one object, with the audit record's field names. */
export interface ObjectVerdict {
  source: string;
  kind: string;
  namespace: string;
  name: string;
  operation: CheckOperation;
  user: string;
  groups: readonly string[];
  tenant: string | null;
  enforcement: string | null;
  allowed: boolean;
  rules: { id: string; path: string; message: string }[];
  warnings: readonly string[];
  audited: { id: string; path: string; message: string }[];
  patch: CheckOutcome['patch'];
}

/** What a check of many objects came to. */
export interface CheckSummary {
  objects: number;
  allowed: number;
  denied: number;
  warned: number;
  skipped: number;
}

const asRule = (v: Violation) => ({ id: v.rule, path: v.path, message: formatViolation(v) });

/** The verdict on one object from the request built for it and its outcome. */
export function verdictOf(
  source: string,
  request: ManifestAdmissionRequest,
  result: CheckOutcome,
  options: CheckRequester,
): ObjectVerdict {
  const { outcome } = result;
  const base = {
    source,
    kind: request.kind.kind,
    namespace: request.namespace,
    name: request.name,
    operation: options.operation,
    user: options.user,
    groups: options.groups,
    patch: result.patch,
  };
  if (outcome.type === 'decided') {
    const d = outcome.decision;
    return {
      ...base,
      tenant: d.summary.tenant ?? null,
      enforcement: d.summary.enforcement,
      allowed: d.allowed,
      rules: d.allowed ? [] : d.violations.map(asRule),
      warnings: d.warnings,
      audited: d.audited.map(asRule),
    };
  }
  const violations = outcome.type === 'malformed' ? outcome.violations : [];
  return {
    ...base,
    tenant: null,
    enforcement: null,
    allowed: false,
    rules: violations.map(asRule),
    warnings: [],
    audited: [],
  };
}

/** The text output: a line per object, its rule lines under it, then the summary. */
export function printText(
  io: CliIo,
  verdicts: readonly ObjectVerdict[],
  summary: CheckSummary,
  showPatch: boolean,
): void {
  const out: string[] = [];
  for (const v of verdicts) {
    const groups = v.groups.length > 0 ? ` (groups: ${v.groups.join(', ')})` : '';
    const tenant = v.tenant === null ? 'no tenant' : `tenant ${v.tenant}, ${v.enforcement ?? 'enforce'}`;
    const patch =
      v.patch.length === 0
        ? 'patch: none'
        : `patch: ${v.patch.length} operation${v.patch.length === 1 ? '' : 's'}`;
    const verdict = v.allowed ? (v.warnings.length > 0 ? 'allowed with warnings' : 'allowed') : 'denied';
    out.push(
      `${v.kind} ${v.namespace}/${v.name}: ${verdict} (${tenant}); ${v.operation} by ${v.user}${groups}; ${patch}`,
    );
    for (const r of v.rules) out.push(`  ${r.message}`);
    for (const w of v.warnings) out.push(`  warning: ${w}`);
    for (const a of v.audited) out.push(`  audited: ${a.message}`);
    if (showPatch && v.patch.length > 0)
      out.push(
        JSON.stringify(v.patch, null, 2)
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n'),
      );
  }
  const plural = summary.objects === 1 ? 'object' : 'objects';
  out.push(
    `${summary.objects} ${plural}: ${summary.allowed} allowed (${summary.warned} with warnings), ${summary.denied} denied; ${summary.skipped} skipped (kinds tenant-guard does not judge)`,
  );
  io.stdout.write(`${out.join('\n')}\n`);
}
