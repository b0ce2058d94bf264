/**
 * Counts audit records in a pino log: by tenant, rule id, user and event. Lines that are not
 * JSON are counted and skipped; JSON lines without `"audit": true` are ordinary log lines.
 */
import { isRecord } from '../json.js';
import { AUDIT_MARKER } from './record.js';

/** Counts keyed by value, e.g. `"team-a" => 3` (a Map: keys come from untrusted lines). */
export type Counts = Map<string, number>;

export interface AuditSummary {
  /** Lines read (empty lines excluded). */
  lines: number;
  /** Lines that were not a JSON object. */
  nonJson: number;
  /** Audit records counted. */
  records: number;
  byTenant: Counts;
  /** Each rule line of a record counts once. */
  byRule: Counts;
  /** The requester (`user`), or the caller of a token event. */
  byUser: Counts;
  byEvent: Counts;
}

/** Shown for records without a tenant (platform objects) or a user. */
export const NONE = '(none)';

/** An empty summary to feed lines into with `addAuditLine`. */
export function emptyAuditSummary(): AuditSummary {
  return {
    lines: 0,
    nonJson: 0,
    records: 0,
    byTenant: new Map(),
    byRule: new Map(),
    byUser: new Map(),
    byEvent: new Map(),
  };
}

function bump(counts: Counts, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function label(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : NONE;
}

/** Adds one log line to a summary (in place). */
export function addAuditLine(summary: AuditSummary, line: string): void {
  const text = line.trim();
  if (text === '') return;
  summary.lines += 1;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    summary.nonJson += 1;
    return;
  }
  if (!isRecord(parsed)) {
    summary.nonJson += 1;
    return;
  }
  if (parsed[AUDIT_MARKER] !== true) return;
  summary.records += 1;
  bump(summary.byTenant, label(parsed.tenant));
  bump(summary.byUser, label(parsed.user ?? parsed.caller));
  bump(summary.byEvent, label(parsed.event));
  if (Array.isArray(parsed.rules)) {
    for (const rule of parsed.rules) if (isRecord(rule)) bump(summary.byRule, label(rule.id));
  }
}

/** Summarises a whole log text. */
export function summarizeAuditLog(text: string): AuditSummary {
  const summary = emptyAuditSummary();
  for (const line of text.split('\n')) addAuditLine(summary, line);
  return summary;
}

/** Entries of a Counts, most frequent first, then by name. */
export function sortedCounts(counts: Counts): Array<[string, number]> {
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
