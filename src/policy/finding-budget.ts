/**
 * How many findings of one rule a request builds. Past the budget, `violation` (types.ts)
 * returns a shared stand-in that keeps the finding's rule and class (and so the verdict:
 * `decide` reads nothing else) but no path or message, and `decide` counts the stand-ins
 * into one line per rule and class. Every finding of every rule module is made through
 * `violation`, so the bound holds for all of them, not for one walk.
 *
 * Why: a 250 KiB ApplicationSet whose list values named another tenant's cluster 15,000
 * times held the event loop for 40-50 ms on /validate (a benign body of the same size: 1.4
 * ms), about 40% of it garbage collection of findings kept whole (their paths, a quoted
 * value and the tenant's cluster list each), of which an answer shows at most 50.
 *
 * The budget is set by `evaluate` for the synchronous span of one judging (`withBudget`)
 * and restored after it; outside one (tests calling a kind's rules, `tenant-guard check`
 * with no budget) every finding is built whole. State, not I/O: the policy core stays pure.
 */
import type { RuleId } from './rule-catalogue.js';
import type { Violation } from './types.js';

/**
 * Findings of one rule a request builds whole; past it they are counted. Above what an
 * answer shows of one rule (`MAX_DENIAL_LINES`, `MAX_AUDIT_ITEMS`: 50).
 */
export const MAX_FINDINGS_PER_RULE = 100;

/** A finding past the budget: its rule and class, nothing that costs its size. */
export interface UnbuiltFinding {
  readonly rule: RuleId;
  readonly path: '';
  readonly message: '';
  readonly unbuilt: true;
  readonly holdsInEveryMode?: true;
}

interface Budget {
  readonly perRule: number;
  readonly built: Map<RuleId, number>;
}

let active: Budget | undefined;

/** `work()`, with at most `perRule` findings of each rule built whole. */
export function withBudget<T>(perRule: number, work: () => T): T {
  const outer = active;
  active = { perRule, built: new Map() };
  try {
    return work();
  } finally {
    active = outer;
  }
}

const standIns = new Map<string, UnbuiltFinding>();

/** The shared stand-in of a rule and class (frozen: nobody writes it). */
export function unbuiltFinding(rule: RuleId, holdsInEveryMode: boolean): UnbuiltFinding {
  const key = `${rule}${holdsInEveryMode ? '!' : ''}`;
  let found = standIns.get(key);
  if (found === undefined) {
    found = Object.freeze(
      holdsInEveryMode
        ? { rule, path: '', message: '', unbuilt: true, holdsInEveryMode: true }
        : { rule, path: '', message: '', unbuilt: true },
    );
    standIns.set(key, found);
  }
  return found;
}

/** True when the budget of `rule` is spent (and counts one more finding of it). */
export function pastBudget(rule: RuleId): boolean {
  if (active === undefined) return false;
  const built = active.built.get(rule) ?? 0;
  if (built >= active.perRule) return true;
  active.built.set(rule, built + 1);
  return false;
}

/** True for a stand-in of a finding not built. */
export function isUnbuilt(v: { readonly unbuilt?: true }): boolean {
  return v.unbuilt === true;
}

/**
 * `all` with the stand-ins of each rule and class, and the lines already written for them,
 * replaced by one line where the first of them was, that says how many findings it stands
 * for (`unlisted`). The others as they are. A rule module may call it on what it collects
 * (a long list is then short before it is copied on); `evaluate` calls it on everything.
 */
export function listUnbuilt(all: readonly Violation[]): Violation[] {
  if (!all.some(isCounted)) return [...all];
  const out: Violation[] = [];
  const lines = new Map<string, { at: number; count: number; first: Violation }>();
  for (const v of all) {
    if (!isCounted(v)) {
      out.push(v);
      continue;
    }
    const key = `${v.rule}${v.holdsInEveryMode === true ? '!' : ''}`;
    const line = lines.get(key);
    if (line !== undefined) line.count += v.unlisted ?? 1;
    else {
      lines.set(key, { at: out.length, count: v.unlisted ?? 1, first: v });
      out.push(v);
    }
  }
  for (const { at, count, first } of lines.values()) out[at] = unlistedLine(first, count);
  return out;
}

function isCounted(v: Violation): boolean {
  return v.unbuilt === true || v.unlisted !== undefined;
}

/** The line that stands for `count` findings of `v`'s rule and class, not built. */
function unlistedLine(v: Violation, count: number): Violation {
  const message = `... and ${count} more findings of ${v.rule}, past what one request builds of a rule (tenant-guard check -f FILE lists them all)`;
  return v.holdsInEveryMode === true
    ? { rule: v.rule, path: '', message, unlisted: count, holdsInEveryMode: true }
    : { rule: v.rule, path: '', message, unlisted: count };
}
