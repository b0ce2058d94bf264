/**
 * A metrics registry rendered as prom-client's `registry.metrics()` renders it, byte for byte,
 * but in slices of at most SERIES_PER_SLICE series with a turn of the event loop between
 * them; and one render in flight per registry, which every scrape arriving meanwhile shares.
 *
 * Why: `GET /metrics` runs on the event loop that answers admission reviews and token
 * requests, and `registry.metrics()` renders every family in one synchronous stretch (its
 * promises settle as microtasks, so no I/O runs in between). With the default 1,000 metric
 * tenants that was ~13,000 series, 1.5 MB and ~45 ms (up to 150 ms with a garbage
 * collection) at every scrape, added to the answer of each review that arrived meanwhile:
 * the API server's critical path. Sliced, the longest stretch is ~3 ms: prom-client's
 * `get()` of the largest family, which cannot be sliced. Each slice is formatted by
 * prom-client itself (`getMetricsAsString`, on a family holding only that slice's series),
 * so the text cannot drift from its format.
 */
import { Registry, type RegistryContentType } from 'prom-client';

/** Series formatted between two turns of the event loop (~1 ms of work on a busy core). */
export const SERIES_PER_SLICE = 500;

/**
 * What a family's collect and header count for, in series: a default metric's collect
 * (reading /proc, the heap's statistics) costs about as much as formatting 100 series.
 */
export const FAMILY_WORK = 100;

/** A family's data as prom-client's `get()` returns it; `values` are its series. */
interface FamilyData {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly values?: readonly unknown[];
}

/** What the registry holds: prom-client's metric classes. */
interface Family {
  name: string;
  readonly type: string;
  get(): Promise<FamilyData>;
  /** A histogram's: its series without splitting their labels (what `metrics()` formats). */
  getForPromString?(): Promise<FamilyData>;
}

/** prom-client's formatter of one family (a Registry method, public but not in its typings). */
interface Formatter {
  getMetricsAsString(family: { get(): Promise<FamilyData> }): Promise<string>;
}

/** A registry of either content type. */
type AnyRegistry = Registry<RegistryContentType>;

/** Options of `renderMetrics`, for tests. */
export interface RenderOptions {
  /** Series formatted between two turns. Default SERIES_PER_SLICE. */
  readonly seriesPerSlice?: number;
  /** What a family's collect and header count for, in series. Default FAMILY_WORK. */
  readonly familyWork?: number;
  /** Waits for the next turn of the event loop. Default: a setImmediate. */
  readonly nextTurn?: () => Promise<void>;
}

/** A rendered scrape: the UTF-8 bytes of `registry.metrics()`, in one part per slice. */
export type RenderedMetrics = readonly Buffer[];

const IN_FLIGHT = new WeakMap<AnyRegistry, Promise<RenderedMetrics>>();

/** One turn of the event loop: the I/O that waited (admission reviews) runs first. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * `registry`'s text in its content type, the UTF-8 bytes of `registry.metrics()`, rendered in
 * slices; a render already in flight for `registry` is shared (its options win), so
 * concurrent scrapes cost one render. Rejects as `registry.metrics()` does when a collect
 * throws.
 */
export function renderMetrics(registry: AnyRegistry, options: RenderOptions = {}): Promise<RenderedMetrics> {
  const running = IN_FLIGHT.get(registry);
  if (running !== undefined) return running;
  const render = renderInSlices(registry, options).finally(() => IN_FLIGHT.delete(registry));
  IN_FLIGHT.set(registry, render);
  return render;
}

/** What `writeMetrics` writes to: a node:http (or express) response. */
export interface MetricsResponse {
  setHeader(name: string, value: string): unknown;
  write(chunk: Buffer): unknown;
  end(): unknown;
  readonly destroyed: boolean;
}

/**
 * Writes `parts` as the body of `res`, one part a turn: handed over at once, 1.5 MB went
 * through TLS in one stretch of the loop. Stops when the client has gone.
 */
export async function writeMetrics(
  res: MetricsResponse,
  parts: RenderedMetrics,
  turn = nextTurn,
): Promise<void> {
  res.setHeader('Content-Length', String(parts.reduce((n, part) => n + part.length, 0)));
  for (const [i, part] of parts.entries()) {
    if (i > 0) await turn();
    if (res.destroyed) return;
    res.write(part);
  }
  res.end();
}

async function renderInSlices(registry: AnyRegistry, options: RenderOptions): Promise<RenderedMetrics> {
  const perSlice = Math.max(1, options.seriesPerSlice ?? SERIES_PER_SLICE);
  const familyWork = options.familyWork ?? FAMILY_WORK;
  const openMetrics = registry.contentType === Registry.OPENMETRICS_CONTENT_TYPE;
  const formatter = registry as unknown as Formatter;
  const format = (data: FamilyData, values: readonly unknown[]) =>
    formatter.getMetricsAsString({ get: () => Promise.resolve({ ...data, values }) });
  // A slice's text is encoded before the turn that ends it: one string of the whole text,
  // flattened and encoded at the end, held the loop again for ~10 ms per 1.5 MB.
  const parts: Buffer[] = [];
  let text: string[] = [];
  // Work left before the next turn, in series.
  let budget = perSlice;
  // Once the budget is spent: the slice's text is encoded, and the loop turns.
  const turnIfSpent = async (): Promise<void> => {
    if (budget > 0) return;
    parts.push(Buffer.from(text.join('')));
    text = [];
    await (options.nextTurn ?? nextTurn)();
    budget = perSlice;
  };
  for (const family of registry.getMetricsAsArray() as unknown as Family[]) {
    await turnIfSpent();
    budget -= familyWork;
    // As `metrics()` does: an OpenMetrics counter's family drops `_total`, its series add it.
    if (openMetrics && family.type === 'counter') family.name = family.name.replace(/_total$/, '');
    const data = await (family.getForPromString?.() ?? family.get());
    const header = await format(data, []);
    if (parts.length > 0 || text.length > 0) text.push(openMetrics ? '\n' : '\n\n');
    text.push(header);
    const values = data.values ?? [];
    for (let at = 0; at < values.length;) {
      await turnIfSpent();
      const count = Math.min(budget, values.length - at);
      budget -= count;
      // The slice's lines, each after a newline, as they follow the header in one family.
      text.push((await format(data, values.slice(at, at + count))).slice(header.length));
      at += count;
    }
  }
  text.push(openMetrics ? '\n# EOF\n' : '\n');
  parts.push(Buffer.from(text.join('')));
  return parts;
}
