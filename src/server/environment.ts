/**
 * The TG_* variables tenant-guard reads, and those in an environment that none reads: a
 * misspelt variable (`TG_ARGOCD_NAMSPACE`, `TG_ISSUER_URL`) was ignored without a word, and
 * the setting it meant kept its default. `serve` warns about each at start, with the nearest
 * name it knows.
 */
import { CACHE_DIR_ENV } from '../credential/options.js';
import { limitFlags } from '../policy/limits.js';
import { settingFlags } from '../settings.js';
import type { ServeComponent } from './component.js';
import { SERVE_FLAGS } from './serve-options.js';

/** Every TG_* variable `serve` (with `components`), `check`, `scan` and the plugin read. */
export function knownVariables(components: readonly ServeComponent[]): Set<string> {
  return new Set([
    ...Object.values(SERVE_FLAGS).map((f) => f.env),
    ...Object.values(settingFlags).map((f) => f.env),
    ...Object.values(limitFlags).map((f) => f.env),
    ...components.flatMap((c) => (c.flags ?? []).map((f) => f.env)),
    CACHE_DIR_ENV,
  ]);
}

/** Edit distance (insertions, deletions, substitutions) between two short names. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(
        (row[j] ?? 0) + 1,
        (next[j - 1] ?? 0) + 1,
        (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    row = next;
  }
  return row[b.length] ?? 0;
}

/** The known name nearest to `name`: within 3 edits, or one that begins the other. */
function nearest(name: string, known: ReadonlySet<string>): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = name.startsWith(k) || k.startsWith(name) ? 0.5 : distance(name, k);
    if (d <= 3 && (best === undefined || d < best.d)) best = { name: k, d };
  }
  return best?.name;
}

/** A TG_* variable no flag reads, and the known one it probably meant. */
export interface UnknownVariable {
  readonly name: string;
  readonly nearest?: string;
}

/** The TG_* variables of `env` that are not in `known`, sorted. */
export function unknownVariables(env: NodeJS.ProcessEnv, known: ReadonlySet<string>): UnknownVariable[] {
  return Object.keys(env)
    .filter((name) => name.startsWith('TG_') && !known.has(name))
    .sort()
    .map((name) => {
      const guess = nearest(name, known);
      return guess === undefined ? { name } : { name, nearest: guess };
    });
}

/** The warning for one unknown variable. */
export function unknownVariableMessage(u: UnknownVariable): string {
  return `${u.name} is set, but no setting of tenant-guard reads it${u.nearest === undefined ? '' : `: did you mean ${u.nearest}?`} (docs/settings.md lists them)`;
}
