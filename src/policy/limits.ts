/**
 * How much of one request the webhook will read, and how much it will say back. Checked
 * once, iteratively (no recursion), before any rule runs: an object past a limit is denied
 * under TG-REQ-01 with a line naming the limit and the setting that raises it, so every
 * walker downstream (the rules, `cloneJson`, `JSON.stringify`, the JSON Patch diff)
 * only ever sees objects of bounded depth and an ApplicationSet of bounded size.
 *
 * Why: Go's JSON decoder accepts 10,000 levels and `x-kubernetes-preserve-unknown-fields`
 * lets such objects reach us; the `yaml` parser aborts the process (out of memory) on a
 * 2 KB `elementsYaml` of 1,000 nested `[`; an ApplicationSet of 60,000 generators gave a
 * 9.8 MB patch and a 12.4 MB denial (issue 10). Pure: no I/O.
 */
import { TenantGuardError } from '../errors.js';
import { isRecord } from '../json.js';
import { findLongKeyPath, findTooDeep, measureObject } from './json-measure.js';
import { joinPath } from './object-paths.js';
import { jsonTextDepth } from './text-depth.js';
import { yamlDepth } from '../yaml-depth.js';
import type { GuardedKind, Violation } from './types.js';
import { violation } from './types.js';

/** The limits on what one request may hold. Each has a flag and an environment variable (`limitFlags`). */
export interface AdmissionLimits {
  /**
   * Deepest nesting of objects and lists in `object` and `oldObject`, and in the JSON or
   * YAML text the rules parse (a cluster Secret's `config`, `elementsYaml`). `{}` is 1 deep.
   * Default 100; at most 500.
   */
  readonly maxObjectDepth: number;
  /**
   * Values (objects, lists and scalars) in `object`: bounds the work of every rule and of
   * the clone and diff of `/mutate`. Default 30,000, which keeps one request's longest
   * event-loop turn under 100 ms (a 2.5 MB Helm `valuesObject` holds about 100,000).
   */
  readonly maxObjectNodes: number;
  /**
   * Characters in the keys on the way to any value of `object` (and `oldObject`): bounds the
   * JSON path of every finding and denial line. Default 4,096 (a real path is under 400).
   */
  readonly maxKeyPathChars: number;
  /** Cluster Secret: bytes of `config` (decoded; a real one is a few KiB). Default 64 KiB. */
  readonly maxSecretConfigBytes: number;
  /** ApplicationSet: generator entries at every depth of `matrix` and `merge`. Default 200. */
  readonly maxGenerators: number;
  /** ApplicationSet: `list.elements` entries, summed over every `list` generator. Default 2,500. */
  readonly maxListElements: number;
  /** ApplicationSet: bytes (UTF-8) of `list.elementsYaml`, summed over every `list` generator. Default 8 KiB (see docs/settings.md). */
  readonly maxElementsYamlBytes: number;
}

export const DEFAULT_LIMITS: Readonly<AdmissionLimits> = Object.freeze({
  maxObjectDepth: 100,
  maxObjectNodes: 30_000,
  maxKeyPathChars: 4_096,
  maxSecretConfigBytes: 64 * 1024,
  maxGenerators: 200,
  maxListElements: 2_500,
  maxElementsYamlBytes: 8 * 1024,
});

/** The flag, environment variable and allowed range of each limit. */
export const limitFlags: Readonly<
  Record<keyof AdmissionLimits, { flag: string; env: string; min: number; max: number; description: string }>
> = {
  // 500: every walker downstream (cloneJson, JSON.stringify, the patch diff, the yaml
  // parser) is proven at this depth by test/admission/limits.test.ts; the yaml parser
  // aborts the process near 1,000.
  maxObjectDepth: {
    flag: 'max-object-depth',
    env: 'TG_MAX_OBJECT_DEPTH',
    min: 10,
    max: 500,
    description:
      'deepest nesting of an object (and of a cluster Secret config or elementsYaml) the webhook reads; deeper is denied (TG-REQ-01)',
  },
  maxObjectNodes: {
    flag: 'max-object-nodes',
    env: 'TG_MAX_OBJECT_NODES',
    min: 100,
    max: 2_000_000,
    description:
      'most values (objects, lists, scalars) of an object the webhook evaluates; more is denied (TG-REQ-01)',
  },
  maxKeyPathChars: {
    flag: 'max-key-path-chars',
    env: 'TG_MAX_KEY_PATH_CHARS',
    min: 256,
    max: 65_536,
    description:
      'most characters in the keys on the way to any value of an object (the JSON path a denial names); more is denied (TG-REQ-01)',
  },
  maxSecretConfigBytes: {
    flag: 'max-secret-config-bytes',
    env: 'TG_MAX_SECRET_CONFIG_BYTES',
    min: 1024,
    max: 3 * 1024 * 1024,
    description: 'most bytes of a cluster Secret config the webhook parses; more is denied (TG-REQ-01)',
  },
  maxGenerators: {
    flag: 'max-generators',
    env: 'TG_MAX_GENERATORS',
    min: 1,
    max: 100_000,
    description: 'most generator entries (at every depth) of one ApplicationSet; more is denied (TG-REQ-01)',
  },
  maxListElements: {
    flag: 'max-list-elements',
    env: 'TG_MAX_LIST_ELEMENTS',
    min: 1,
    max: 1_000_000,
    description: 'most list generator elements of one ApplicationSet; more is denied (TG-REQ-01)',
  },
  maxElementsYamlBytes: {
    flag: 'max-elements-yaml-bytes',
    env: 'TG_MAX_ELEMENTS_YAML_BYTES',
    min: 1,
    max: 3 * 1024 * 1024,
    description: 'most bytes of list elementsYaml in one ApplicationSet; more is denied (TG-REQ-01)',
  },
};

/**
 * Limits from raw values (flags win over the environment, which wins over the defaults).
 * @throws TenantGuardError ERR_SETTINGS_INVALID naming the flag and its range.
 */
export function resolveLimits(
  flags: Partial<Record<keyof AdmissionLimits, string | undefined>>,
  env: NodeJS.ProcessEnv = {},
): AdmissionLimits {
  const out: Record<keyof AdmissionLimits, number> = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(limitFlags) as (keyof AdmissionLimits)[]) {
    const spec = limitFlags[key];
    const raw = flags[key] ?? env[spec.env];
    if (raw === undefined) continue;
    if (raw.trim() === '')
      throw new TenantGuardError(
        'ERR_SETTINGS_INVALID',
        `setting --${spec.flag} (${spec.env}) is empty: leave it unset for the default (${DEFAULT_LIMITS[key]})`,
      );
    const value = Number(raw.trim());
    if (!Number.isSafeInteger(value) || value < spec.min || value > spec.max) {
      throw new TenantGuardError(
        'ERR_SETTINGS_INVALID',
        `setting --${spec.flag} (${spec.env}): "${raw}" is not a whole number from ${spec.min} to ${spec.max}`,
      );
    }
    out[key] = value;
  }
  return out;
}

/** How a limit is named in a denial: the number and the setting that raises it. */
function limitHint(key: keyof AdmissionLimits, limits: AdmissionLimits): string {
  const spec = limitFlags[key];
  return `the limit is ${limits[key]} (setting --${spec.flag}, env ${spec.env})`;
}

/** Longest key a denial line shows of a path it names; the rest is cut. */
const SHOWN_KEY_CHARS = 64;

/**
 * The first path segments of a deep path, each key cut to SHOWN_KEY_CHARS, then how many
 * more levels (a 10,000-deep path, or one of 100,000-character keys, is not a denial line).
 */
function shortPath(keys: readonly (string | number)[], shown = 8): string {
  let path = '';
  for (const key of keys.slice(0, shown))
    path = joinPath(
      path,
      typeof key === 'string' && key.length > SHOWN_KEY_CHARS ? `${key.slice(0, SHOWN_KEY_CHARS)}...` : key,
    );
  return keys.length > shown ? `${path}...(${keys.length - shown} more levels)` : path;
}

function base64Text(value: unknown): string | undefined {
  return typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : undefined;
}

/** The JSON texts of a cluster Secret that the rules parse: `data.config` (base64) and `stringData.config`. */
function secretConfigTexts(
  object: Record<string, unknown>,
  at: string,
): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  const data = isRecord(object.data) ? base64Text(object.data.config) : undefined;
  if (data !== undefined) out.push({ path: `${at}.data.config`, text: data });
  const stringData = isRecord(object.stringData) ? object.stringData.config : undefined;
  if (typeof stringData === 'string') out.push({ path: `${at}.stringData.config`, text: stringData });
  return out;
}

/** What an ApplicationSet holds, counted iteratively. */
interface ApplicationSetSize {
  generators: number;
  listElements: number;
  elementsYamlBytes: number;
  yamlTexts: Array<{ path: string; text: string }>;
}

/**
 * Counts the generator entries (at every depth of `matrix`/`merge`), `list.elements` and
 * `elementsYaml` bytes of an ApplicationSet. Stops counting entries once past `stopAt`
 * (the verdict is known; the count need not be exact beyond it).
 */
function measureApplicationSet(
  object: Record<string, unknown>,
  at: string,
  stopAt: number,
): ApplicationSetSize {
  const size: ApplicationSetSize = { generators: 0, listElements: 0, elementsYamlBytes: 0, yamlTexts: [] };
  const spec = object.spec;
  if (!isRecord(spec)) return size;
  const lists: Array<{ list: unknown; path: string }> = [
    { list: spec.generators, path: `${at}.spec.generators` },
  ];
  for (let next = lists.pop(); next !== undefined; next = lists.pop()) {
    if (!Array.isArray(next.list)) continue;
    const list: unknown[] = next.list;
    size.generators += list.length;
    if (size.generators > stopAt) return size;
    list.forEach((entry, i) => {
      if (!isRecord(entry)) return;
      for (const [kind, body] of Object.entries(entry)) {
        if (!isRecord(body)) continue;
        const kindPath = joinPath(joinPath(next.path, i), kind);
        if (Array.isArray(body.generators) && (kind === 'matrix' || kind === 'merge'))
          lists.push({ list: body.generators, path: joinPath(kindPath, 'generators') });
        if (kind !== 'list') continue;
        if (Array.isArray(body.elements)) size.listElements += body.elements.length;
        if (typeof body.elementsYaml === 'string') {
          size.elementsYamlBytes += Buffer.byteLength(body.elementsYaml, 'utf8');
          size.yamlTexts.push({ path: joinPath(kindPath, 'elementsYaml'), text: body.elementsYaml });
        }
      }
    });
  }
  return size;
}

/**
 * Which limits an object is held to: `every` one, or only the `walkable` ones that keep a
 * walk and its paths bounded (depth, key path), which an UPDATE's or DELETE's oldObject is
 * held to so that an object stored before a limit was lowered can still be changed or
 * deleted.
 */
export type LimitScope = 'every' | 'walkable';

/** The limits of the `walkable` scope: no size limit. */
function walkableOnly(limits: AdmissionLimits): AdmissionLimits {
  return {
    ...limits,
    maxObjectNodes: Infinity,
    maxSecretConfigBytes: Infinity,
    maxGenerators: Infinity,
    maxListElements: Infinity,
    maxElementsYamlBytes: Infinity,
  };
}

/**
 * TG-REQ-01 for every limit of `scope` that `object` or `oldObject` goes past (`at` is
 * `object` or `oldObject`, the path prefix of the lines). The depth is checked first: the
 * size checks only run on an object of bounded depth. Never throws; iterative throughout.
 */
export function checkLimits(
  kind: GuardedKind,
  value: unknown,
  at: 'object' | 'oldObject',
  given: AdmissionLimits,
  scope: LimitScope = 'every',
): Violation[] {
  const limits = scope === 'walkable' ? walkableOnly(given) : given;
  /** A TG-REQ-01 finding: what is past which limit, the setting that raises it, then any advice. */
  const pastLimit = (path: string, detail: string, key: keyof AdmissionLimits, advice = ''): Violation =>
    violation('TG-REQ-01', path, `${detail}: ${limitHint(key, limits)}${advice}`);
  const measured = measureObject(value, limits.maxObjectDepth, limits.maxObjectNodes, limits.maxKeyPathChars);
  if (measured.tooDeep) {
    // A second, slower pass names where: only for the request being denied.
    const path = findTooDeep(value, limits.maxObjectDepth, at) ?? [at];
    return [
      pastLimit(
        shortPath(path),
        `nests objects or lists more than ${limits.maxObjectDepth} levels deep; the webhook does not read it`,
        'maxObjectDepth',
      ),
    ];
  }
  if (measured.longKeyPath) {
    const path = findLongKeyPath(value, limits.maxKeyPathChars, at) ?? [at];
    return [
      pastLimit(
        shortPath(path),
        `is reached through keys of more than ${limits.maxKeyPathChars} characters in all; the webhook does not read it`,
        'maxKeyPathChars',
      ),
    ];
  }
  if (measured.nodes > limits.maxObjectNodes) {
    return [
      pastLimit(
        at,
        `holds more than ${limits.maxObjectNodes} values (objects, lists and scalars); the webhook does not evaluate it`,
        'maxObjectNodes',
      ),
    ];
  }
  if (!isRecord(value)) return [];
  const out: Violation[] = [];
  if (kind === 'ClusterSecret') {
    for (const { path, text } of secretConfigTexts(value, at)) {
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > limits.maxSecretConfigBytes)
        out.push(
          pastLimit(
            path,
            `is ${bytes} bytes; the webhook does not parse more than ${limits.maxSecretConfigBytes}`,
            'maxSecretConfigBytes',
          ),
        );
      else if (jsonTextDepth(text) > limits.maxObjectDepth)
        out.push(
          pastLimit(
            path,
            `nests JSON more than ${limits.maxObjectDepth} levels deep; the webhook does not read it`,
            'maxObjectDepth',
          ),
        );
    }
  }
  if (kind !== 'ApplicationSet') return out;
  const size = measureApplicationSet(value, at, limits.maxGenerators);
  const generatorsPath = `${at}.spec.generators`;
  if (size.generators > limits.maxGenerators) {
    out.push(
      pastLimit(
        generatorsPath,
        `hold more than ${limits.maxGenerators} generator entries (counting every level of matrix and merge); the webhook does not evaluate them`,
        'maxGenerators',
        '; split the ApplicationSet',
      ),
    );
    return out;
  }
  if (size.listElements > limits.maxListElements) {
    out.push(
      pastLimit(
        generatorsPath,
        `hold ${size.listElements} list elements; the webhook does not evaluate more than ${limits.maxListElements}`,
        'maxListElements',
        '; split the ApplicationSet or use a git generator',
      ),
    );
  }
  if (size.elementsYamlBytes > limits.maxElementsYamlBytes) {
    out.push(
      pastLimit(
        generatorsPath,
        `hold ${size.elementsYamlBytes} bytes of list elementsYaml; the webhook does not parse more than ${limits.maxElementsYamlBytes}`,
        'maxElementsYamlBytes',
      ),
    );
    return out;
  }
  // Measured by reading the text, which the bytes limit bounds. The walkable scope has no
  // bytes limit, so nothing reads it: the policy parses an oldObject's elementsYaml only when
  // it is within every limit, and parseYamlWithin composes nothing past its depth anyway.
  // (Reading 3 MB of it took 1.7 s.)
  if (scope === 'walkable') return out;
  for (const { path, text } of size.yamlTexts) {
    if (yamlDepth(text) > limits.maxObjectDepth)
      out.push(
        pastLimit(
          path,
          `nests YAML more than ${limits.maxObjectDepth} levels deep; the webhook does not parse it`,
          'maxObjectDepth',
        ),
      );
  }
  return out;
}
