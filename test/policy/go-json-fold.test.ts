/**
 * src/policy/go-json-fold.ts against a table Go itself generates
 * (scripts/go-fold-table, committed as test/fixtures/go-fold-table.json), and a drift test
 * that regenerates the table with the Go of this machine.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, test } from 'node:test';
import { checkFieldNames, foldKey } from '../../src/policy/applicationset-keys.js';
import { GoFieldSet, goFieldFor, goFoldName, goMatchesField } from '../../src/policy/go-json-fold.js';
import { isRecord } from '../../src/json.js';

const TABLE_FILE = new URL('../fixtures/go-fold-table.json', import.meta.url);
const GENERATOR_DIR = fileURLToPath(new URL('../../scripts/go-fold-table/', import.meta.url));

interface FoldCase {
  group: string;
  key: string;
  decoded: string | null;
  foldName: string | null;
}
interface RuneFold {
  rune: number;
  decoded: string | null;
  foldName: string | null;
}
interface FoldTable {
  goVersion: string;
  groups: Array<{ name: string; fields: string[] }>;
  cases: FoldCase[];
  runes: RuneFold[];
}

function nullableString(value: unknown): value is string | null {
  return value === null || typeof value === 'string';
}

/** Narrows the JSON the Go program wrote (no casts on what a process printed). */
function readTable(text: string): FoldTable {
  const raw: unknown = JSON.parse(text);
  assert.ok(
    isRecord(raw) &&
      typeof raw.goVersion === 'string' &&
      Array.isArray(raw.groups) &&
      Array.isArray(raw.cases) &&
      Array.isArray(raw.runes),
    'table shape',
  );
  const groups = raw.groups.map((g: unknown) => {
    assert.ok(
      isRecord(g) &&
        typeof g.name === 'string' &&
        Array.isArray(g.fields) &&
        g.fields.every((f) => typeof f === 'string'),
    );
    return { name: g.name, fields: g.fields.map(String) };
  });
  const cases = raw.cases.map((c: unknown) => {
    assert.ok(
      isRecord(c) &&
        typeof c.group === 'string' &&
        typeof c.key === 'string' &&
        nullableString(c.decoded) &&
        nullableString(c.foldName),
    );
    return { group: c.group, key: c.key, decoded: c.decoded, foldName: c.foldName };
  });
  const runes = raw.runes.map((r: unknown) => {
    assert.ok(
      isRecord(r) && typeof r.rune === 'number' && nullableString(r.decoded) && nullableString(r.foldName),
    );
    return { rune: r.rune, decoded: r.decoded, foldName: r.foldName };
  });
  return { goVersion: raw.goVersion, groups, cases, runes };
}

/** True for a Go version whose encoding/json folds with foldName (1.21 and later). */
function usesFoldName(goVersion: string): boolean {
  const m = /^go(\d+)\.(\d+)/.exec(goVersion);
  assert.ok(m !== null, `unexpected Go version ${goVersion}`);
  return Number(m[1]) > 1 || Number(m[2]) >= 21;
}

const LETTERS = [...'abcdefghijklmnopqrstuvwxyz'];
const show = (key: string) =>
  `${JSON.stringify(key)} (${[...key].map((c) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`).join(' ')})`;

/** Checks the module against one table; returns the keys Go of that version reads differently. */
function checkAgainst(table: FoldTable): string[] {
  const fieldsOf = new Map(table.groups.map((g) => [g.name, g.fields]));
  const olderGoMisses: string[] = [];
  for (const c of table.cases) {
    const fields = fieldsOf.get(c.group);
    assert.ok(fields !== undefined, c.group);
    const ours = goFieldFor(fields, c.key) ?? null;
    // Go 1.21+'s algorithm, run by Go with its own unicode tables: what Argo CD 3.x does.
    assert.equal(
      ours,
      c.foldName,
      `${c.group} key ${show(c.key)}: Go's foldName reads it as ${String(c.foldName)}, we as ${String(ours)}`,
    );
    if (ours === c.decoded) continue;
    // json.Unmarshal of the Go that made the table: the same on Go 1.21+, fewer keys before.
    assert.ok(
      !usesFoldName(table.goVersion),
      `${c.group} key ${show(c.key)}: ${table.goVersion} decodes it as ${String(c.decoded)}, we read ${String(ours)}`,
    );
    assert.equal(
      c.decoded,
      null,
      `${c.group} key ${show(c.key)}: ${table.goVersion} decodes it as ${String(c.decoded)}, we read ${String(ours)}`,
    );
    olderGoMisses.push(c.key);
  }
  return olderGoMisses;
}

describe('go-json-fold against the table Go generated (test/fixtures/go-fold-table.json)', () => {
  const table = readTable(readFileSync(TABLE_FILE, 'utf8'));

  test('every key of every Argo CD struct lands in the field Go reads it as', () => {
    assert.ok(table.cases.length > 400, `only ${table.cases.length} cases`);
    const misses = checkAgainst(table);
    // Go before 1.21 differs from Argo CD's Go only in U+0130 and U+0131 (we match those too).
    for (const key of misses)
      assert.match(
        key,
        /[\u0130\u0131]/u,
        `${show(key)}: an older Go reads it differently for another reason`,
      );
  });

  test('the runes that fold onto an ASCII letter are exactly the ones Go folds, across all of Unicode', () => {
    const expected = new Map<number, string>();
    for (const r of table.runes) {
      if (r.foldName !== null) expected.set(r.rune, r.foldName);
      // Whatever an older Go decoded, Go 1.21's algorithm folds too.
      if (r.decoded !== null) assert.equal(r.foldName, r.decoded, `U+${r.rune.toString(16)}`);
    }
    assert.deepEqual(
      [...expected.keys()].sort((a, b) => a - b),
      [0x130, 0x131, 0x17f, 0x212a],
    );
    assert.deepEqual(
      LETTERS.map((l) => goFieldFor(LETTERS, l.toUpperCase())),
      LETTERS,
    );
    const ours = new Map<number, string>();
    for (let cp = 0x80; cp <= 0x10ffff; cp += 1) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const folded = goFoldName(String.fromCodePoint(cp));
      if (folded.length === 1 && folded >= 'A' && folded <= 'Z') ours.set(cp, folded.toLowerCase());
    }
    assert.deepEqual(
      [...ours.entries()].sort(([a], [b]) => a - b),
      [...expected.entries()].sort(([a], [b]) => a - b),
    );
  });

  test('ASCII folds by case only; non-letters match only themselves', () => {
    assert.equal(goFieldFor(['matchLabels'], 'MATCHLABELS'), 'matchLabels');
    assert.equal(goFieldFor(['match_labels'], 'MATCH_LABELS'), 'match_labels');
    assert.equal(goFieldFor(['match_labels'], 'match-labels'), undefined);
    assert.equal(goFieldFor(['ab'], 'a'), undefined);
    assert.equal(goFieldFor(['Env', 'env'], 'ENV'), 'Env', 'the first field in struct order wins');
    assert.equal(goFieldFor(['Env', 'env'], 'env'), 'env', 'an exact name wins over an earlier folded one');
    assert.equal(goMatchesField('ss', '\u00df'), false, 'ß does not expand to ss');
    assert.throws(() => goFieldFor(['ſ'], 's'), /not ASCII/);
    const set = new GoFieldSet(['username', 'bearerToken', 'BearerToken']);
    assert.equal(set.fieldFor('BEARERTOKEN'), 'bearerToken');
    assert.equal(set.fieldFor('BearerToken'), 'BearerToken');
  });

  test('applicationset-keys (TG-AS-08) folds with this module: U+0130 and U+0131 read as i', () => {
    assert.equal(foldKey, goFoldName);
    for (const key of ['l\u0131st', 'l\u0130st', 'L\u0130ST']) {
      const found = checkFieldNames({
        generators: [{ matrix: { generators: [{ [key]: { elements: [] } }] } }],
      });
      assert.deepEqual(
        found.map((v) => [v.rule, v.path]),
        [['TG-AS-08', `spec.generators[0].matrix.generators[0][${JSON.stringify(key)}]`]],
        show(key),
      );
      assert.match(found[0]?.message ?? '', /differs only in case from the field "list"/);
    }
  });
});

function findGo(): string | undefined {
  const found = spawnSync('go', ['version'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

const goVersion = findGo();

describe('go-json-fold drift: the table regenerated by the Go on this machine', () => {
  test(
    'scripts/go-fold-table gives the committed table (same Go) and the module agrees with it',
    {
      skip:
        goVersion === undefined
          ? 'no `go` on PATH (apt-get install golang-go): the committed table is still checked above'
          : false,
      timeout: 300_000,
    },
    () => {
      const run = spawnSync('go', ['run', '.'], {
        cwd: GENERATOR_DIR,
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, GOTOOLCHAIN: 'local', GOPROXY: 'off', GOFLAGS: '-mod=mod', GOWORK: 'off' },
      });
      assert.equal(run.status, 0, `go run failed: ${run.stderr}`);
      const fresh = readTable(run.stdout);
      const committed = readTable(readFileSync(TABLE_FILE, 'utf8'));
      checkAgainst(fresh);
      if (fresh.goVersion === committed.goVersion) {
        assert.equal(
          run.stdout,
          readFileSync(TABLE_FILE, 'utf8'),
          'the committed table is what the generator prints: regenerate it (see scripts/go-fold-table/main.go)',
        );
      } else {
        // Another Go version: the table's Go-1.21 column must not have moved (unicode tables).
        assert.deepEqual(
          fresh.cases.map((c) => [c.group, c.key, c.foldName]),
          committed.cases.map((c) => [c.group, c.key, c.foldName]),
        );
      }
    },
  );
});

describe('goFoldName, rune by rune', () => {
  /** The definition: ASCII letters upper-cased, the four runes of FOLDS_TO_ASCII mapped, the rest kept. */
  const isAsciiText = (text: string) => [...text].every((ch) => ch.charCodeAt(0) < 0x80);

  function foldByRune(key: string): string {
    const toAscii: Record<string, string> = { '\u0130': 'I', '\u0131': 'I', '\u017f': 'S', '\u212a': 'K' };
    let out = '';
    for (const ch of key) out += ch >= 'a' && ch <= 'z' ? ch.toUpperCase() : (toAscii[ch] ?? ch);
    return out;
  }

  test('equals the rune-by-rune definition against ASCII names, for ASCII keys (one toUpperCase) and all others', () => {
    const rune = fc.oneof(
      fc.constantFrom(
        'a',
        'z',
        'A',
        'Z',
        '_',
        '-',
        '\u0130',
        '\u0131',
        '\u017f',
        '\u212a',
        '\u00df',
        '\u00e9',
      ),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary-ascii', maxLength: 24 }),
          fc.array(rune, { maxLength: 24 }).map((r) => r.join('')),
        ),
        (key) => {
          // What the fold is for: matching against the folds of ASCII names. A key whose
          // rune-by-rune fold keeps a rune past ASCII matches none, and may come back as it is.
          const byRune = foldByRune(key);
          if (isAsciiText(byRune)) assert.equal(goFoldName(key), byRune);
          else assert.ok(!isAsciiText(goFoldName(key)), 'matches no ASCII name');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
