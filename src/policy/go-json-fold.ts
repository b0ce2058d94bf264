/**
 * How Argo CD's Go `encoding/json` matches a JSON object key to a struct field name: the
 * exact name first, else the first field whose name folds to the same string. One module,
 * used wherever tenant-guard must know which field Go reads a key as (cluster Secret
 * `config`, TG-CS-03/04; raw children of nested generators, TG-AS-08). Pure.
 *
 * Folding is Go 1.21's `foldName` (src/encoding/json/fold.go): ASCII letters upper-cased,
 * every other rune `unicode.ToUpper(unicode.ToLower(r))`. Argo CD 3.x is built with Go 1.24
 * or later, so this is what it does. Go 1.20 and earlier matched fewer keys (they did not
 * fold U+0130 and U+0131 onto `i`); a superset is the safe side for a webhook that must not
 * miss a key Go reads.
 *
 * Only runes that fold onto ASCII matter when the field names are ASCII, as every Argo CD
 * field name is: exactly four, found by sweeping every rune through Go itself
 * (scripts/go-fold-table, test/fixtures/go-fold-table.json). Other non-ASCII runes are kept
 * as they are, so this fold is exact for comparing keys with ASCII names, and only for that;
 * `goFieldFor` refuses non-ASCII field names.
 * https://pkg.go.dev/encoding/json#Unmarshal
 */

/** The non-ASCII runes Go's `foldName` turns into an ASCII letter, and that letter. */
const FOLDS_TO_ASCII: ReadonlyMap<string, string> = new Map([
  ['\u0130', 'I'], // LATIN CAPITAL LETTER I WITH DOT ABOVE: ToLower gives "i"
  ['\u0131', 'I'], // LATIN SMALL LETTER DOTLESS I: ToUpper gives "I"
  ['\u017f', 'S'], // LATIN SMALL LETTER LONG S: ToUpper gives "S"
  ['\u212a', 'K'], // KELVIN SIGN: ToLower gives "k"
]);

/** A rune past ASCII that is none of FOLDS_TO_ASCII's. */
// eslint-disable-next-line no-control-regex -- the ASCII range starts at NUL
const FOLDS_ONTO_NOTHING_ASCII = /[^\x00-\x7f\u0130\u0131\u017f\u212a]/;

/**
 * Folds a key as Go's `foldName` does, for comparison with the fold of an ASCII name: two
 * keys compare equal after folding exactly when Go would match one against the other, as
 * long as one of them is ASCII. (A key with a rune that folds onto no ASCII letter comes
 * back as it is: it equals no ASCII name's fold, which is all the answer is compared with.)
 */
export function goFoldName(key: string): string {
  // Most keys are ASCII, where upper-casing changes a-z only: one call, not a rune loop.
  if (isAscii(key)) return key.toUpperCase();
  // A rune that folds onto no ASCII letter stays in any fold: such a key matches no ASCII
  // name, and is its own answer (29,000 such keys came in one review, a red-team review).
  if (FOLDS_ONTO_NOTHING_ASCII.test(key)) return key;
  // Otherwise runs of a-z upper-cased, and the four runes mapped: two passes over the text,
  // not a string built rune by rune.
  return key
    .replace(/[a-z]+/g, (letters) => letters.toUpperCase())
    .replace(/[\u0130\u0131\u017f\u212a]/g, (rune) => FOLDS_TO_ASCII.get(rune) ?? rune);
}

function isAscii(name: string): boolean {
  // eslint-disable-next-line no-control-regex -- the ASCII range starts at NUL
  return /^[\x00-\x7f]*$/.test(name);
}

/**
 * The fields of one Go struct, in struct order, for matching many keys: the field Go's
 * decoder fills from a key is the one named exactly so, else the first whose name folds
 * like it.
 */
export class GoFieldSet {
  readonly fields: readonly string[];
  private readonly exact: ReadonlySet<string>;
  private readonly byFold = new Map<string, string>();

  /** @throws Error when a field name is not ASCII (the fold is exact only against ASCII names). */
  constructor(fields: readonly string[]) {
    for (const field of fields)
      if (!isAscii(field)) throw new Error(`GoFieldSet: field name ${JSON.stringify(field)} is not ASCII`);
    this.fields = [...fields];
    this.exact = new Set(fields);
    for (const field of fields) {
      const folded = goFoldName(field);
      if (!this.byFold.has(folded)) this.byFold.set(folded, field);
    }
  }

  /** The field Go fills from `key`, or undefined when Go ignores the key. */
  fieldFor(key: string): string | undefined {
    return this.exact.has(key) ? key : this.byFold.get(goFoldName(key));
  }
}

/**
 * The field Go's decoder fills from `key`, among `fields` in struct order: the field named
 * exactly `key`, else the first one whose name folds like it; undefined when none.
 * @throws Error when a field name is not ASCII.
 */
export function goFieldFor(fields: readonly string[], key: string): string | undefined {
  return new GoFieldSet(fields).fieldFor(key);
}

/** True when Go would read `key` as the field `field` (of a struct with only that field). */
export function goMatchesField(field: string, key: string): boolean {
  return goFieldFor([field], key) === field;
}
