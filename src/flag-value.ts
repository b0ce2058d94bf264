/**
 * The one flag-then-environment-then-default resolution every command and component uses:
 * a flag given on the command line wins over its environment variable, which wins over the
 * default. A component declares its flags as data in a typed table (`FlagTable`, written
 * `as const`); `resolveFlags` gives each key its value typed by its kind, so reading a key
 * the table lacks, or a string flag as a number, does not compile.
 *
 * It imports only src/duration.ts and src/errors.ts: the credential plugin, bundled into one
 * executable, uses it.
 */
import { parseDurationMs } from './duration.js';
import { TenantGuardError } from './errors.js';

/** What a flag's text is read as: `string` is left as given (the component parses it itself). */
export type FlagKind = 'string' | 'boolean' | 'integer' | 'number' | 'duration';

/** One flag as data. A table may carry more per flag (a description, a value name). */
export interface FlagSpec {
  /** The long name without dashes: `key-dir` for `--key-dir`. */
  readonly flag: string;
  /** Its environment variable; absent: the flag has none. */
  readonly env?: string;
  readonly kind: FlagKind;
  /** The default as it would be written on the command line; absent: none (the value may be undefined). */
  readonly default?: string;
}

/** A component's flags by key (the name code reads them by). */
export type FlagTable = Readonly<Record<string, FlagSpec>>;

interface KindValue {
  string: string;
  boolean: boolean;
  integer: number;
  number: number;
  duration: number;
}

/** Each key's value: its kind's type (durations in ms), undefined only when nothing gave one and there is no default. */
export type FlagResult<T extends FlagTable> = {
  readonly [K in keyof T]:
    KindValue[T[K]['kind']] | (T[K] extends { readonly default: string } ? never : undefined);
};

/** Values given on the command line, by table key; a switch gives `true`. */
export type GivenFlags<T extends FlagTable> = { readonly [K in keyof T]?: string | boolean | undefined };

/** How a component reads its flags. */
export interface FlagRules {
  /**
   * `refuse`: an empty (or blank) value, from the flag or its environment variable, is
   * refused through `invalid`, naming where it came from: one rule for every setting of
   * `serve` (docs/settings.md), since an empty variable is most often a template's unset
   * value, and '' meant the default for some settings and "none" for others.
   * `unset`: an empty environment variable counts as not set (the credential plugin's one
   * variable, set by Argo CD's Helm values).
   */
  readonly emptyEnv: 'unset' | 'refuse';
  /**
   * The error for a value its kind refuses. `source` names where the value came from:
   * `--flag`, the environment variable, or `default`.
   */
  invalid(spec: FlagSpec, message: string, source: string): Error;
}

/** commander's name of a parsed option: `--key-dir` is `keyDir`. */
export function attributeName(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * The values of `table`'s flags in commander's parsed options (or a test's): by table key,
 * else by commander's attribute name of the flag. Anything but a string or a boolean is absent.
 */
export function givenFlags<T extends FlagTable>(
  table: T,
  options: Readonly<Record<string, unknown>>,
): GivenFlags<T> {
  const out: Record<string, string | boolean> = {};
  for (const [key, spec] of Object.entries(table)) {
    const value = options[key] ?? options[attributeName(spec.flag)];
    if (typeof value === 'string' || typeof value === 'boolean') out[key] = value;
  }
  return out as GivenFlags<T>;
}

/**
 * Resolves every flag of `table`: the given value, else the environment variable, else the
 * default; then reads it as its kind. Flags are read in table order; the first bad one throws.
 * @throws the error of `rules.invalid` for a value its kind refuses (a boolean that is not
 *   true/false/1/0/yes/no, a number that is none, an empty or malformed duration).
 */
export function resolveFlags<T extends FlagTable>(
  table: T,
  given: GivenFlags<T>,
  env: Readonly<Record<string, string | undefined>>,
  rules: FlagRules,
): FlagResult<T> {
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const [key, spec] of Object.entries(table)) {
    const flagValue = given[key];
    const envValue = spec.env === undefined ? undefined : env[spec.env];
    let raw: string | boolean | undefined;
    let source: string;
    if (flagValue !== undefined) [raw, source] = [flagValue, `--${spec.flag}`];
    else if (envValue !== undefined && (envValue !== '' || rules.emptyEnv === 'refuse'))
      [raw, source] = [envValue, spec.env ?? ''];
    else [raw, source] = [spec.default, 'default'];
    if (rules.emptyEnv === 'refuse' && typeof raw === 'string' && raw.trim() === '' && source !== 'default')
      throw rules.invalid(spec, emptyMessage(spec.default), source);
    out[key] = raw === undefined ? undefined : readKind(spec, raw, (m) => rules.invalid(spec, m, source));
  }
  return out as FlagResult<T>;
}

function readKind(
  spec: FlagSpec,
  raw: string | boolean,
  invalid: (message: string) => Error,
): string | number | boolean {
  if (spec.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const parsed = parseBooleanText(raw);
    if (parsed === undefined) throw invalid(`"${raw}" is not a boolean; use true or false`);
    return parsed;
  }
  const text = String(raw);
  if (spec.kind === 'duration') return readDuration(text, invalid);
  if (spec.kind === 'integer' || spec.kind === 'number') {
    const n = Number(text.trim());
    if (text.trim() === '' || !Number.isFinite(n) || (spec.kind === 'integer' && !Number.isInteger(n)))
      throw invalid(`"${text}" is not a${spec.kind === 'integer' ? 'n integer' : ' number'}`);
    return n;
  }
  return text;
}

/**
 * Reads a duration flag (src/duration.ts): `500ms`, `30s`, `5m`, `24h`, `1h30m`, or a bare
 * number of seconds.
 * @returns milliseconds
 * @throws the error of `invalid` for an empty or malformed duration.
 */
export function readDuration(text: string, invalid: (message: string) => Error): number {
  if (text.trim() === '') throw invalid('must not be empty; use e.g. 30s');
  const ms = parseDurationMs(text);
  if (ms === undefined) throw invalid(`"${text}" is not a duration; use e.g. 500ms, 30s, 5m, 24h`);
  return ms;
}

/** What an empty value is told, under the `refuse` rule: how to get the default instead. */
export function emptyMessage(defaultText: string | undefined): string {
  const which = defaultText === undefined || defaultText === '' ? '' : ` for the default (${defaultText})`;
  return `is empty: leave it unset${which}`;
}

/**
 * The flag's value, else the environment variable's, else the default. For a single value
 * outside a table (`resolveFlags` for tables), under the `refuse` rule.
 * @throws TenantGuardError ERR_USAGE when the flag or the variable is empty
 */
export function valueOf(flag: unknown, env: NodeJS.ProcessEnv, name: string, fallback: string): string;
export function valueOf(
  flag: unknown,
  env: NodeJS.ProcessEnv,
  name: string,
  fallback?: string,
): string | undefined;
export function valueOf(
  flag: unknown,
  env: NodeJS.ProcessEnv,
  name: string,
  fallback?: string,
): string | undefined {
  const [value, source] = typeof flag === 'string' ? [flag, 'its flag'] : [env[name], name];
  if (value === undefined) return fallback;
  if (value.trim() === '') throw new TenantGuardError('ERR_USAGE', `${source} ${emptyMessage(fallback)}`);
  return value;
}

/**
 * Reads a boolean flag or environment value: `true`/`1`/`yes` and `false`/`0`/`no` (any case,
 * surrounding spaces ignored); an empty value is false.
 * @returns undefined for anything else, so the caller refuses it naming its flag.
 */
export function parseBooleanText(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no' || v === '') return false;
  return undefined;
}
