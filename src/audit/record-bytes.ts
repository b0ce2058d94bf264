/**
 * The byte budget of one audit record, admission or token. Container runtimes split a log line at
 * 16 KiB (Docker's json-file and the CRI log format both), and a split audit line is two
 * lines neither of which parses, so neither is `"audit": true` to a log store. Each list of
 * a record is bounded already (admission-record.ts: 50 rules, 50 relaxed, 20 warnings, 50
 * groups, each text at most 1,000 characters), but together they were not: a red-team review
 * wrote a 101,555-byte line for one denial (50 rules with a path and a message of 1,000
 * characters each), and relaxed rules, warnings and groups beside them reach ~270 KB.
 *
 * A record over the budget keeps every key, every list item and every rule id; its texts
 * (paths, messages, warnings, names) are cut, all to one length (rule messages to twice
 * it), the longest that fits, each cut saying so; `omitted.cut` counts the texts cut. The
 * audit sink (logger.ts) applies it to every record it writes, so no record type and no
 * path that builds one can write a line past it: a token refusal's record once carried the
 * raw target name, 32 KB of JSON for 16 KB of URL (a red-team review). Pure.
 */
import { cutText, MIN_CUT_CHARS } from '../text-cut.js';
import type { AuditRecord } from './record.js';

/**
 * Most bytes of a record's JSON: 15 KiB, which leaves 1 KiB under the 16 KiB split for what
 * the logger adds to the line (level, time, bindings, the marker and `msg`: ~150 bytes).
 */
export const MAX_AUDIT_RECORD_BYTES = 15 * 1024;

/** Values of these keys are our own words (events, rule ids, modes, error codes), never cut. */
const KEPT: ReadonlySet<string> = new Set(['event', 'endpoint', 'id', 'enforcement', 'role', 'code']);

/**
 * Lengths (UTF-16 units) texts are cut to, longest first. At 0 a record holds its keys,
 * rule ids, counts and at most 170 list items of `""`: ~7 KB, so the last always fits.
 */
const STEPS = [500, 250, 160, 100, 64, 40, 24, 12, 6, 0] as const;

/** The UTF-8 bytes of a record's JSON. */
export function recordBytes(record: unknown): number {
  return Buffer.byteLength(JSON.stringify(record), 'utf8');
}

/**
 * Bytes the JSON of `value` takes at most, without writing it: a character of a string takes
 * at most 6 (`\u001f`), a key or a string 3 more (quotes, colon or comma), any other value 24.
 * Most records are far under the budget, and this spares them a second JSON.stringify.
 */
function bytesAtMost(value: unknown): number {
  if (typeof value === 'string') return 6 * value.length + 3;
  if (Array.isArray(value)) {
    let sum = 2;
    for (const item of value as unknown[]) sum += bytesAtMost(item);
    return sum;
  }
  if (value !== null && typeof value === 'object') {
    let sum = 2;
    for (const [k, v] of Object.entries(value)) sum += 6 * k.length + 3 + bytesAtMost(v);
    return sum;
  }
  return 24;
}

/** `value` with every text not under a KEPT key cut to `chars`, counting the texts cut. */
function cutTexts(value: unknown, key: string, chars: number, count: { cut: number }): unknown {
  if (typeof value === 'string') {
    // A rule's message says what was found and what is allowed: it keeps twice as much.
    const keep = key === 'message' ? 2 * chars : chars;
    if (KEPT.has(key) || value.length <= keep) return value;
    count.cut += 1;
    return cutText(value, keep, keep >= MIN_CUT_CHARS ? 'count' : 'ellipsis');
  }
  if (Array.isArray(value)) return value.map((item: unknown) => cutTexts(item, key, chars, count));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = cutTexts(v, k, chars, count);
    return out;
  }
  return value;
}

/** `record` when its JSON is within `max` bytes, else the record with its texts cut to fit. */
export function withinBytes<T extends AuditRecord>(record: T, max: number = MAX_AUDIT_RECORD_BYTES): T {
  if (bytesAtMost(record) <= max || recordBytes(record) <= max) return record;
  return fitted(record, max);
}

/**
 * The JSON of `record` within `max` bytes: the sink's one `JSON.stringify`, and a second only
 * for a record over the budget (a character takes at most three UTF-8 bytes, so most records
 * are known to fit by their length alone).
 */
export function auditRecordJson(record: AuditRecord, max: number = MAX_AUDIT_RECORD_BYTES): string {
  const json = JSON.stringify(record);
  if (3 * json.length <= max || Buffer.byteLength(json, 'utf8') <= max) return json;
  return JSON.stringify(fitted(record, max));
}

function fitted<T extends AuditRecord>(record: T, max: number): T {
  let fit = record;
  for (const chars of STEPS) {
    const count = { cut: 0 };
    const cut = cutTexts(record, '', chars, count) as T;
    fit = { ...cut, omitted: { ...record.omitted, cut: count.cut } };
    if (recordBytes(fit) <= max) return fit;
  }
  return fit;
}
