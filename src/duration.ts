/**
 * The duration syntax every tenant-guard flag accepts: `500ms`, `30s`, `5m`, `24h`, `1h30m`,
 * or a bare number of seconds. Pure and dependency-free, so the credential plugin (bundled
 * into a single executable) can use it without pulling in the broker.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration into milliseconds (rounded).
 * @returns undefined when `value` is empty or not a duration; the caller words the error.
 */
export function parseDurationMs(value: string): number | undefined {
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  let total = 0;
  let rest = text;
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (m === null) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 1000);
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}
