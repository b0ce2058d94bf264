/**
 * Bounds of what the webhook writes: the lines of a denial, the warnings of an answer, the
 * items of an audit record and the length of each line. A list past its bound keeps its
 * first items and says how many were left off. Pure: no I/O.
 */
import { cutText } from '../text-cut.js';

/** Most lines of a denial message; the rest are counted in a last line. */
export const MAX_DENIAL_LINES = 50;
/** Most admission warnings of one answer (and of its audit record); the rest are counted in a last one. */
export const MAX_WARNINGS = 20;
/** Most rule lines (and patch paths) of one audit record; the rest are counted in `omitted`. */
export const MAX_AUDIT_ITEMS = 50;
/** Longest denial line, warning or audit message, in characters. */
export const MAX_LINE_CHARS = 1_000;

/** A line cut to `MAX_LINE_CHARS`, saying so (text-cut.ts). */
export function capLine(line: string): string {
  return cutText(line, MAX_LINE_CHARS);
}

/**
 * At most `max` items, each line cut to `MAX_LINE_CHARS`; when some are left off, the last
 * kept line says how many more there are (`... and 59950 more violations`).
 */
export function capLines(lines: readonly string[], max: number, noun: string): string[] {
  if (lines.length <= max) return lines.map(capLine);
  const kept = lines.slice(0, max - 1).map(capLine);
  kept.push(moreLine(lines.length - kept.length, noun));
  return kept;
}

/** The last line of a capped list: how many were left off. */
export function moreLine(count: number, noun: string): string {
  return `... and ${count} more ${noun} (tenant-guard check -f FILE lists them all)`;
}
