/**
 * Large AdmissionReviews take turns. A 2.5 MB object costs tens of milliseconds of
 * synchronous work to parse and as much to judge; four of them at once held the event
 * loop long enough to push other tenants' small requests past the 5 s webhook timeout
 * (issue 10). So a request whose body is larger than `thresholdBytes` waits for a slot
 * before its body is parsed, at most `concurrency` run at once, and the event loop is
 * yielded between a slot's phases; small requests never wait. The body is read before it
 * waits (its bytes held within the body budget, src/server/body-budget.ts): a slot taken
 * before the read was held as long as the client took to send, and one client trickling a
 * body a byte a second kept every other large review waiting past the API server's timeout
 * (a red-team review). A slot serialises CPU work, which the server paces. Past `maxQueued` waiting, a large request is refused at once
 * (HTTP 429, `Retry-After`), so a flood cannot queue up memory or time. A small body that
 * holds much `elementsYaml` (the costliest thing per byte the rules parse) takes a turn too,
 * once parsed (`costlyBecause`): four clients sending 17 KB of it held the loop as long as 2.5 MB
 * objects. So does one whose object and oldObject hold more than `costlyNodes` values:
 * ~250 KiB bodies of 14,000 values that each made a finding cost 31-50 ms to judge, ~10x a
 * benign body of that size, and were never gated (a red-team review). Pure scheduling: no
 * I/O of its own; `now` is not needed (no timeouts: the API server's own timeout applies).
 */
import { isRecord, ownValue } from '../json.js';

/** Options of `LargeRequestGate`. */
export interface LargeRequestGateOptions {
  /** A body larger than this (bytes, from `Content-Length`; unknown length counts as large) takes a turn. Default 256 KiB. */
  readonly thresholdBytes?: number;
  /** Large requests judged at once. Default 1. */
  readonly concurrency?: number;
  /** Large requests waiting at most; more are refused. Default 16. */
  readonly maxQueued?: number;
  /**
   * Large requests one source may have running and waiting at once; more from it are
   * refused. Default 4: the queue cannot be filled from one address (a red-team review held
   * every turn with 17 connections that each sent one byte every 2 s). The source is what
   * `acquire` is given: a large body's address, a costly small one's requester.
   */
  readonly maxPerSource?: number;
  /**
   * Entries one address may hold at once, whatever requesters its requests name, when those
   * names cannot be trusted (no client CA verified the connection). Default half of
   * `maxQueued`: a client that named a new user on every request filled the queue alone,
   * and 11 of 20 costly reviews of others were refused (a red-team review).
   */
  readonly maxPerAddress?: number;
  /**
   * A request whose object (or oldObject) holds more characters of `list.elementsYaml` than
   * this takes a turn too, whatever its body size: the rules' YAML parse costs ~100x what
   * JSON does per character (up to ~3 us and 2.7 KB of garbage). Default 2,048.
   */
  readonly costlyYamlChars?: number;
  /**
   * A request whose object and oldObject hold more values (objects, lists and scalars, all
   * counted) than this takes a turn too, whatever its body size. Default 5,000: a typical
   * ApplicationSet holds ~100 (the 55 upstream examples 20 to 257, median 35, plus what the API server
   * adds), a big legitimate one a few thousand (a list of hundreds of clusters), so neither
   * waits; and at 2-3.6 µs a value that makes a finding (14,000 took 31-50 ms), the costliest
   * review left ungated is ~10-18 ms, a turn or two of the TurnBatch's budget. A body of at
   * most twice this many bytes is not counted: it cannot hold more values.
   */
  readonly costlyNodes?: number;
}

export const DEFAULT_LARGE_REQUEST_BYTES = 256 * 1024;
export const DEFAULT_COSTLY_YAML_CHARS = 2_048;
export const DEFAULT_COSTLY_NODES = 5_000;

/** Why a request that was not large takes a turn: much elementsYaml, or many values. */
export type CostlyReason = 'elementsYaml' | 'values';

/** Generator entries `yamlChars` looks at, at most; past them a request counts as costly. */
const MAX_PROBED_GENERATORS = 10_000;

/**
 * Characters of `list.elementsYaml` in an ApplicationSet-shaped object (every level of
 * `matrix` and `merge`), counting stopped once past `stopAt`. Iterative and bounded: past
 * MAX_PROBED_GENERATORS entries it answers Infinity. Any other object answers 0.
 */
export function yamlChars(object: unknown, stopAt: number): number {
  const spec = isRecord(object) ? ownValue(object, 'spec') : undefined;
  const lists: unknown[] = isRecord(spec) ? [ownValue(spec, 'generators')] : [];
  let chars = 0;
  let entries = 0;
  for (let list = lists.pop(); list !== undefined; list = lists.pop()) {
    if (!Array.isArray(list)) continue;
    for (const entry of list as unknown[]) {
      if (++entries > MAX_PROBED_GENERATORS) return Infinity;
      if (!isRecord(entry)) continue;
      for (const [kind, body] of Object.entries(entry)) {
        if (!isRecord(body)) continue;
        const yaml = kind === 'list' ? ownValue(body, 'elementsYaml') : undefined;
        const nested = ownValue(body, 'generators');
        if (typeof yaml === 'string') chars += yaml.length;
        else if (Array.isArray(nested)) lists.push(nested);
        if (chars > stopAt) return chars;
      }
    }
  }
  return chars;
}

/**
 * Values in `roots` (each an object, list or scalar, and every value inside; `undefined`
 * roots are none), counting stopped once past `stopAt`. Iterative, and bounded by `stopAt`:
 * each step counts a value, and the stack holds only values counted.
 */
export function valueCount(roots: readonly unknown[], stopAt: number): number {
  let count = 0;
  const containers: object[] = [];
  for (const root of roots) {
    if (root === undefined) continue;
    count += 1;
    if (typeof root === 'object' && root !== null) containers.push(root);
  }
  for (let next = containers.pop(); next !== undefined && count <= stopAt; next = containers.pop()) {
    const children: readonly unknown[] = Array.isArray(next) ? next : Object.values(next);
    for (const child of children) {
      if (++count > stopAt) return count;
      if (typeof child === 'object' && child !== null) containers.push(child);
    }
  }
  return count;
}

/** A slot: call `release` once the request is answered (idempotent). */
export interface GateSlot {
  release(): void;
}

/** Schedules large requests; see the module comment. */
export class LargeRequestGate {
  readonly thresholdBytes: number;
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly costlyYamlChars: number;
  private readonly costlyNodes: number;
  private readonly maxPerSource: number;
  private readonly maxPerAddress: number;
  private running = 0;
  private readonly waiting: Array<(slot: GateSlot) => void> = [];
  /** Entries (running and waiting) by source; only sources that hold one. */
  private readonly bySource = new Map<string, number>();

  constructor(options: LargeRequestGateOptions = {}) {
    this.thresholdBytes = options.thresholdBytes ?? DEFAULT_LARGE_REQUEST_BYTES;
    this.concurrency = options.concurrency ?? 1;
    this.maxQueued = options.maxQueued ?? 16;
    this.maxPerSource = options.maxPerSource ?? 4;
    this.maxPerAddress = options.maxPerAddress ?? Math.floor(this.maxQueued / 2);
    this.costlyYamlChars = options.costlyYamlChars ?? DEFAULT_COSTLY_YAML_CHARS;
    this.costlyNodes = options.costlyNodes ?? DEFAULT_COSTLY_NODES;
  }

  /**
   * Why a parsed AdmissionReview body that was not large must take a turn all the same, or
   * undefined: its object or oldObject holds more elementsYaml than `costlyYamlChars`, or
   * the two hold more values than `costlyNodes`. `bodyBytes` (its length in bytes, when
   * known) spares the typical small body the count: every value costs at least 2 bytes of
   * JSON (its own character or brackets, and a comma or a key between it and the next), so
   * a body of at most 2 × `costlyNodes` bytes cannot hold more than `costlyNodes`.
   */
  costlyBecause(body: unknown, bodyBytes?: number): CostlyReason | undefined {
    const request = isRecord(body) ? ownValue(body, 'request') : undefined;
    if (!isRecord(request)) return undefined;
    const object = ownValue(request, 'object');
    const oldObject = ownValue(request, 'oldObject');
    const chars = this.costlyYamlChars;
    if (yamlChars(object, chars) > chars || yamlChars(oldObject, chars) > chars) return 'elementsYaml';
    const nodes = this.costlyNodes;
    if (bodyBytes !== undefined && Number.isFinite(bodyBytes) && bodyBytes <= 2 * nodes) return undefined;
    return valueCount([object, oldObject], nodes) > nodes ? 'values' : undefined;
  }

  /** True when a request of this declared length must take a turn (`undefined`: unknown length). */
  isLarge(contentLength: number | undefined): boolean {
    return (
      contentLength === undefined || !Number.isFinite(contentLength) || contentLength > this.thresholdBytes
    );
  }

  /** How many large requests run and wait now (for tests and metrics). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /**
   * A slot when one is free or once one frees up, or undefined at once when `maxQueued`
   * requests already wait, or `source` already has `maxPerSource` running and waiting, or
   * `address` (given when `source` is a requester named by an unverified client) already has
   * `maxPerAddress` (refuse the request).
   */
  acquire(source = '', address?: string): Promise<GateSlot> | undefined {
    // The address's own share, besides the requester's, when the requester's name is the
    // client's word (`address` given and another key than `source`).
    const also = address !== undefined && address !== source ? address : undefined;
    if ((this.bySource.get(source) ?? 0) >= this.maxPerSource) return undefined;
    if (also !== undefined && (this.bySource.get(also) ?? 0) >= this.maxPerAddress) return undefined;
    if (this.running < this.concurrency) {
      this.running += 1;
      this.hold(source, also);
      return Promise.resolve(this.withSource(this.slot(), source, also));
    }
    if (this.waiting.length >= this.maxQueued) return undefined;
    this.hold(source, also);
    return new Promise((resolve) =>
      this.waiting.push((slot) => resolve(this.withSource(slot, source, also))),
    );
  }

  private hold(source: string, also: string | undefined): void {
    this.bySource.set(source, (this.bySource.get(source) ?? 0) + 1);
    if (also !== undefined) this.bySource.set(also, (this.bySource.get(also) ?? 0) + 1);
  }

  /** `slot` that, once released, also counts one entry less for `source` (and `also`). */
  private withSource(slot: GateSlot, source: string, also: string | undefined): GateSlot {
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.forget(source);
        if (also !== undefined) this.forget(also);
        slot.release();
      },
    };
  }

  private forget(source: string): void {
    const left = (this.bySource.get(source) ?? 1) - 1;
    if (left <= 0) this.bySource.delete(source);
    else this.bySource.set(source, left);
  }

  private slot(): GateSlot {
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.running -= 1;
        const next = this.waiting.shift();
        if (next === undefined) return;
        this.running += 1;
        // The next large request starts on a later turn of the event loop, after the I/O
        // (small requests) that arrived meanwhile.
        setImmediate(() => next(this.slot()));
      },
    };
  }
}

/**
 * Calls `next` once the event loop has polled for I/O: what a large request does next
 * then waits behind the small requests that arrived meanwhile. One `setImmediate` is not
 * enough: scheduled from an I/O callback (where a body is read and parsed), it runs in the
 * same turn of the loop, before the next poll, so parsing and judging a large body were
 * one block. The second runs after that poll.
 */
export function afterIoPoll(next: () => void): void {
  setImmediate(() => setImmediate(next));
}
