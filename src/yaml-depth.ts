/**
 * YAML parsed so that the `yaml` composer, which recurses once per nesting level, never
 * sees text nested deeper than a limit. The library's lexer and CST parser do not recurse:
 * the text is read into its concrete syntax tree first, the tree's nesting measured with a
 * loop, and only a tree within the limit composed into documents (from the same tokens, so
 * the text is read once). No I/O; the readings of the last texts are kept (a bounded memo).
 *
 * Why: the nesting of YAML text was once estimated from its characters (text-depth.ts),
 * with a model of where quoted scalars start. YAML opens no quote in `a: b:'` and breaks
 * lines on a lone CR, the model did: `elementsYaml` nested 4,000 deep measured 1, reached the
 * composer, and a Node.js 20 process parsing it aborted (a red-team review). The tree's
 * nesting is the composer's, exactly.
 *
 * It sits at the root of src/, beside json.ts, because two layers read YAML with it: the
 * policy core (elementsYaml) and the Tenant model (a Tenants file), which may not import
 * the policy core (test/architecture/layers.ts).
 */
import {
  Composer,
  LineCounter,
  Parser,
  type CST,
  type Document,
  type DocumentOptions,
  type ParseOptions,
  type SchemaOptions,
} from 'yaml';

/** The token kinds that open a level (a map or a list, block or flow). */
const COLLECTIONS: ReadonlySet<string> = new Set(['block-map', 'block-seq', 'flow-collection']);

/** The fields of a CST token that hold tokens below it. */
const CHILD_FIELDS = ['start', 'key', 'sep', 'value', 'items', 'end', 'props'] as const;

/** How deep the collections of a concrete syntax tree nest (a scalar alone: 0). Iterative. */
export function cstDepth(tokens: readonly CST.Token[]): number {
  let max = 0;
  const pending: Array<[unknown, number]> = tokens.map((token) => [token, 0]);
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, above] = next;
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      for (const item of node) pending.push([item, above]);
      continue;
    }
    const record = node as Record<string, unknown>;
    const depth = typeof record.type === 'string' && COLLECTIONS.has(record.type) ? above + 1 : above;
    if (depth > max) max = depth;
    if (isFlowSequence(record) && Array.isArray(record.items)) {
      // `[a: b]` is a list holding a map of one pair, a level the tree has no token for.
      for (const item of record.items as Array<Record<string, unknown>>) {
        const level = isPair(item) ? depth + 1 : depth;
        if (level > max) max = level;
        for (const field of CHILD_FIELDS) if (item[field] !== undefined) pending.push([item[field], level]);
      }
      continue;
    }
    for (const field of CHILD_FIELDS) if (record[field] !== undefined) pending.push([record[field], depth]);
  }
  return max;
}

function isFlowSequence(token: Record<string, unknown>): boolean {
  const start = token.start as { source?: unknown } | undefined;
  return token.type === 'flow-collection' && start?.source === '[';
}

/** An item of a collection written as a pair: it has a key, or a `:` or `?` indicator. */
function isPair(item: Record<string, unknown>): boolean {
  if (item.key !== undefined && item.key !== null) return true;
  const indicators = [item.start, item.sep].flatMap((list) => (Array.isArray(list) ? list : []));
  return indicators.some(
    (t: { type?: unknown }) => t.type === 'map-value-ind' || t.type === 'explicit-key-ind',
  );
}

/**
 * What `read` gives, or undefined when it ran out of stack reading YAML tokens: the parser
 * does recurse in one place, closing every block level at once on a dedent (`- ` written
 * 3,900 times on one line, then a line back at the margin, threw in 7.8 KiB; a red-team
 * review). Only text nested thousands of levels deep does that: it counts as nested past
 * any limit. The one catch of it, for the whole text read at once and for one token at a time.
 */
function unlessOutOfStack<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

/** The tokens of `text`'s syntax tree; undefined: out of stack (see unlessOutOfStack). */
function syntaxTree(text: string): CST.Token[] | undefined {
  return unlessOutOfStack(() => Array.from(new Parser().parse(text)));
}

/** What reading a text gave: its tokens (undefined: out of stack) and their nesting. */
interface ReadText {
  readonly tokens: CST.Token[] | undefined;
  readonly depth: number;
}

/** Most characters of text whose reading is kept: the default `maxElementsYamlBytes` (at most ~1.2 MB of tokens). */
const MAX_KEPT_CHARS = 8 * 1024;

/**
 * The last texts read, newest last, up to MAX_KEPT_CHARS characters: a review's `elementsYaml`
 * is read by the limits check (its depth), then by the TG-AS-04 walk (its documents), and
 * reading is most of the cost (4-9 ms for 8 KiB). The composer only reads the tokens.
 */
const lastRead = new Map<string, ReadText>();
let keptChars = 0;

/** `text` read into tokens and measured, once for the texts read last. */
function readText(text: string): ReadText {
  const kept = lastRead.get(text);
  if (kept !== undefined) return kept;
  const tokens = syntaxTree(text);
  const read: ReadText = {
    tokens,
    depth: tokens === undefined ? Number.POSITIVE_INFINITY : cstDepth(tokens),
  };
  if (text.length > MAX_KEPT_CHARS) return read;
  lastRead.set(text, read);
  keptChars += text.length;
  for (const oldest of lastRead.keys()) {
    if (keptChars <= MAX_KEPT_CHARS) break;
    lastRead.delete(oldest);
    keptChars -= oldest.length;
  }
  return read;
}

/** The nesting of YAML text, as the composer would build it (every document); Infinity past what can be read. */
export function yamlDepth(text: string): number {
  return readText(text).depth;
}

/** Documents of `text`, or how deep it nests when that is past `maxDepth` (then nothing is composed). */
export type BoundedYaml =
  { readonly ok: true; readonly docs: Document.Parsed[] } | { readonly ok: false; readonly depth: number };

/**
 * Every document of `text`, as `parseAllDocuments` reads them, when it nests at most
 * `maxDepth` levels; else its depth, and the composer never runs.
 */
export function parseYamlWithin(
  text: string,
  maxDepth: number,
  options: ParseOptions & DocumentOptions & SchemaOptions = {},
): BoundedYaml {
  const { tokens, depth } = readText(text);
  if (tokens === undefined || depth > maxDepth) return { ok: false, depth };
  // As parseAllDocuments composes them: no document forced out of a stream without one.
  return { ok: true, docs: Array.from(new Composer(options).compose(tokens)) };
}

/** The parser's next token; undefined: out of stack (see unlessOutOfStack). */
function nextToken(tokens: Generator<CST.Token>): IteratorResult<CST.Token> | undefined {
  return unlessOutOfStack(() => tokens.next());
}

/** A document of a stream: composed, or (never composed) how deep it nests past the limit. */
export type BoundedDocument =
  { readonly ok: true; readonly doc: Document.Parsed } | { readonly ok: false; readonly depth: number };

/**
 * The documents of `text` one at a time, as `parseAllDocuments` reads them (each error's
 * message ends with its line and column), each measured before it is composed; only one
 * document's tokens are held at a time. A document nested past `maxDepth` comes as its
 * depth, and reading stops there. For a text too large to read at once (a registry of
 * 10,000 Tenants).
 */
export function* documentsWithin(
  text: string,
  maxDepth: number,
  options: ParseOptions & DocumentOptions & SchemaOptions = {},
): Generator<BoundedDocument> {
  const lines = new LineCounter();
  const composer = new Composer(options);
  const tokens = new Parser(lines.addNewLine).parse(text);
  const located = (doc: Document.Parsed): BoundedDocument => {
    for (const error of [...doc.errors, ...doc.warnings]) {
      const { line, col } = lines.linePos(error.pos[0]);
      error.message = `${error.message} at line ${line}, column ${col}`;
    }
    return { ok: true, doc };
  };
  for (let next = nextToken(tokens); next?.done !== true; next = nextToken(tokens)) {
    const depth = next === undefined ? Number.POSITIVE_INFINITY : cstDepth([next.value]);
    if (next === undefined || depth > maxDepth) {
      // The document before it is still in the composer: it comes first.
      for (const doc of composer.end()) yield located(doc);
      yield { ok: false, depth };
      return;
    }
    for (const doc of composer.next(next.value)) yield located(doc);
  }
  for (const doc of composer.end()) yield located(doc);
}

/**
 * Forgets the kept readings. The warm-up judges the same reviews again and again: it clears
 * them before each, so the yaml parser runs (and is compiled) every time, as for a stream of
 * distinct reviews.
 */
export function forgetReadings(): void {
  lastRead.clear();
  keptChars = 0;
}

/** How many texts, and characters of text, have their reading kept (for tests). */
export function readingsKept(): { readonly texts: number; readonly chars: number } {
  return { texts: lastRead.size, chars: keptChars };
}
