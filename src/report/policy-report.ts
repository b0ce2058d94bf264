/**
 * Scan results as Policy Reports, pure: `wgpolicyk8s.io/v1alpha2` PolicyReport (the default)
 * or `openreports.io/v1alpha1` Report, one set per namespace, one result per object and
 * rule, with a summary. A namespace whose results exceed `maxResultsPerReport`, or
 * `MAX_REPORT_BYTES` of JSON as stored, gets several reports (`tenant-guard`,
 * `tenant-guard-2`, ...), and a result's message and path are cut at MAX_LINE_CHARS, so no
 * report nears etcd's object size limit: 700 findings under one 3,900-character key made one
 * 6 MB report that the API server refused at every flush (a red-team review). Every
 * AppProject, Application, ApplicationSet and cluster Secret is namespaced, so no finding is
 * cluster-scoped and no ClusterPolicyReport is written.
 */
import { capLine } from '../policy/answer-limits.js';
import type { KubeObject } from '../policy/types.js';
import { ruleDocs, type ScanFinding, type ScanResult } from './scan.js';

export type ReportFormat = 'wgpolicyk8s' | 'openreports';

export const REPORT_SOURCE = 'tenant-guard';
export const REPORT_POLICY = 'tenant-guard';
/** Label on every report tenant-guard writes, so it finds (and removes) its own. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const REPORT_NAME = 'tenant-guard';
export const DEFAULT_MAX_RESULTS_PER_REPORT = 1000;
/**
 * Most bytes of results' JSON in one report, as the API server stores it (storedJsonBytes):
 * etcd refuses an object over 1.5 MiB, and the half MiB left is for the summary and the
 * metadata, managedFields included (a few KiB).
 */
export const MAX_REPORT_BYTES = 1024 * 1024;

/**
 * The bytes of `value` as the API server stores a custom resource: Go's encoding/json, which
 * writes UTF-8 and escapes `<`, `>`, `&` (as `\u003c`, ...) and U+2028, U+2029 in 6 bytes
 * each. An upper bound for any text: `JSON.stringify(...).length` counted UTF-16 units, and
 * a tenant's generator key of `漢` (3 bytes each) or `&` (6) made reports of 2.5 and 4.9 MiB
 * that etcd refused at every flush (an operator review).
 */
function storedJsonBytes(value: unknown): number {
  const json = JSON.stringify(value);
  const escaped = json.match(/[<>&]/g)?.length ?? 0;
  const separators = json.match(/[\u2028\u2029]/g)?.length ?? 0;
  // UTF-8 counts 1 byte for each of <>& and 3 for each separator; Go writes 6.
  return Buffer.byteLength(json, 'utf8') + 5 * escaped + 3 * separators;
}

/** Where each format's namespaced report lives. */
export const REPORT_TYPES: Readonly<
  Record<ReportFormat, { group: string; version: string; plural: string; kind: string }>
> = {
  wgpolicyk8s: {
    group: 'wgpolicyk8s.io',
    version: 'v1alpha2',
    plural: 'policyreports',
    kind: 'PolicyReport',
  },
  openreports: { group: 'openreports.io', version: 'v1alpha1', plural: 'reports', kind: 'Report' },
};

export interface ReportOptions {
  readonly format: ReportFormat;
  /** When the results were found, epoch ms. */
  readonly now: number;
  readonly maxResultsPerReport?: number;
}

export type Summary = Record<'pass' | 'fail' | 'warn' | 'error' | 'skip', number>;

/** Results counted by outcome. */
export function summarize(results: readonly { result: ScanResult }[]): Summary {
  const summary: Summary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of results) summary[r.result] += 1;
  return summary;
}

const SEVERITY: Readonly<Record<ScanResult, string>> = { fail: 'high', warn: 'medium', pass: 'info' };

function compareFindings(a: ScanFinding, b: ScanFinding): number {
  return (
    a.object.kind.localeCompare(b.object.kind) ||
    a.object.name.localeCompare(b.object.name) ||
    a.rule.localeCompare(b.rule) ||
    a.path.localeCompare(b.path)
  );
}

function reportResult(f: ScanFinding, now: number): Record<string, unknown> {
  return {
    policy: REPORT_POLICY,
    rule: f.rule,
    result: f.result,
    message: capLine(f.result === 'pass' ? f.message : `${f.message} (see ${ruleDocs(f.rule)})`),
    severity: SEVERITY[f.result],
    category: f.guardedKind,
    source: REPORT_SOURCE,
    scored: true,
    timestamp: { seconds: Math.floor(now / 1000), nanos: 0 },
    resources: [
      {
        apiVersion: f.object.apiVersion,
        kind: f.object.kind,
        namespace: f.object.namespace,
        name: f.object.name,
        ...(f.object.uid === undefined ? {} : { uid: f.object.uid }),
      },
    ],
    properties: {
      tenant: f.tenant ?? '',
      ...(f.path === '' ? {} : { path: capLine(f.path), docs: ruleDocs(f.rule) }),
      ...(f.findings === undefined ? {} : { findings: String(f.findings) }),
    },
  };
}

/** The name of the `index`-th report of a namespace (0-based). */
export function reportName(index: number): string {
  return index === 0 ? REPORT_NAME : `${REPORT_NAME}-${index + 1}`;
}

/**
 * The reports of one namespace for its findings (none when it has no finding: a namespace
 * whose objects are all gone has no report).
 */
export function namespaceReports(
  namespace: string,
  findings: readonly ScanFinding[],
  options: ReportOptions,
): KubeObject[] {
  const type = REPORT_TYPES[options.format];
  const max = Math.max(1, options.maxResultsPerReport ?? DEFAULT_MAX_RESULTS_PER_REPORT);
  const sorted = [...findings].sort(compareFindings);
  // Chunks of at most `max` results and MAX_REPORT_BYTES of their stored JSON, with the comma
  // after each (one result at least).
  const chunks: Array<{ findings: ScanFinding[]; results: Record<string, unknown>[] }> = [];
  let bytes = 0;
  for (const f of sorted) {
    const result = reportResult(f, options.now);
    const size = storedJsonBytes(result) + 1;
    const last = chunks.at(-1);
    if (last === undefined || last.results.length >= max || bytes + size > MAX_REPORT_BYTES) {
      chunks.push({ findings: [f], results: [result] });
      bytes = size;
    } else {
      last.findings.push(f);
      last.results.push(result);
      bytes += size;
    }
  }
  return chunks.map((chunk, i) => ({
    apiVersion: `${type.group}/${type.version}`,
    kind: type.kind,
    metadata: { name: reportName(i), namespace, labels: { [MANAGED_BY_LABEL]: REPORT_SOURCE } },
    ...(options.format === 'openreports' ? { source: REPORT_SOURCE } : {}),
    summary: summarize(chunk.findings),
    results: chunk.results,
  }));
}

/** Every namespace's reports, by namespace (sorted). */
export function buildReports(
  findings: readonly ScanFinding[],
  options: ReportOptions,
): Map<string, KubeObject[]> {
  const byNamespace = new Map<string, ScanFinding[]>();
  for (const f of findings) {
    const list = byNamespace.get(f.object.namespace) ?? [];
    list.push(f);
    byNamespace.set(f.object.namespace, list);
  }
  const out = new Map<string, KubeObject[]>();
  for (const ns of [...byNamespace.keys()].sort())
    out.set(ns, namespaceReports(ns, byNamespace.get(ns) ?? [], options));
  return out;
}
