/**
 * Which connections of the HTTPS server stay when it is full, and how many idle ones one
 * source may hold. Pure bookkeeping over opaque connection handles: no I/O, no timers; the
 * server (https-server.ts) tells it what happens and closes what it answers.
 *
 * Why: the server had one cap for all (node's `server.maxConnections`, which refuses a
 * connection beyond it before any listener sees it). One client holding the cap with TCP
 * connections that never send a byte, re-opened as they time out (~100 a second), had every
 * other connection reset, the API server's admission requests and the kubelet's probes
 * with them (a red-team review). Now:
 *
 * - A connection is *idle* while no request is in flight on it: before its first request
 *   (in its TLS handshake, or after it and silent) and between keep-alive requests. It is
 *   *busy* from a request's headers to the close of its answer.
 * - At the cap, a new connection closes the connection idle the longest, whoever holds it,
 *   and takes its place. Only when every connection is busy is the newcomer refused: the
 *   replica is then truly at capacity. An idle connection costs its client nothing to
 *   open again, and one that answers a request is never closed for room.
 * - One source (remote address) holds at most `maxIdlePerSource` idle connections: past
 *   that, its own longest-idle ones are closed, down to its share, when it opens another
 *   or one of its answers ends. Busy connections never count against it, so an API server
 *   sending hundreds of requests at once from one address is not limited by it; only what
 *   it keeps idle is. A connection idle for less than `sourceGraceMs` is not closed for its
 *   source's share: a burst of requests opens as many connections at once, each idle
 *   through its handshake until its request arrives, and closing those would fail the
 *   burst. The cap above still makes room at once, whatever their age.
 *
 * Connections are kept in the order they became idle (a Set keeps insertion order, and the
 * clock only goes forward), so the longest idle is found in O(1).
 */

/** Bounds of `ConnectionGuard`. */
export interface ConnectionGuardLimits {
  /** Connections open at once, idle or busy (at least 1). */
  readonly maxConnections: number;
  /** Idle connections one source may hold (at least 1). */
  readonly maxIdlePerSource: number;
  /** Shortest idle time, in ms, after which a connection may be closed for its source's share. */
  readonly sourceGraceMs: number;
}

/** What the guard answers for a new connection. */
export type Admission<C> =
  { readonly admitted: true; readonly close: readonly C[] } | { readonly admitted: false };

/** Connections the guard had closed or refused since it was made, by why. */
export interface ConnectionGuardCounts {
  /** Idle connections closed to make room at the cap. */
  readonly evictedAtCap: number;
  /** Idle connections closed because their source held too many. */
  readonly evictedPerSource: number;
  /** New connections refused because every open one was busy. */
  readonly refused: number;
}

interface Entry {
  readonly source: string;
  /** Requests in flight (more than one when a client pipelines). */
  inFlight: number;
  /** When it last became idle (the clock's ms). */
  idleSince: number;
}

export class ConnectionGuard<C> {
  readonly #open = new Map<C, Entry>();
  /** Idle connections, the longest idle first. */
  readonly #idle = new Set<C>();
  /** Idle connections of each source with any, the longest idle first. */
  readonly #idleBySource = new Map<string, Set<C>>();
  #evictedAtCap = 0;
  #evictedPerSource = 0;
  #refused = 0;

  /** `now`: a clock in ms that never goes back (default `performance.now`). */
  constructor(
    readonly limits: ConnectionGuardLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(limits.maxConnections >= 1) || !(limits.maxIdlePerSource >= 1))
      throw new RangeError('ConnectionGuard: maxConnections and maxIdlePerSource must be at least 1');
  }

  /** Connections tracked now: all, and idle ones. */
  get load(): { open: number; idle: number } {
    return { open: this.#open.size, idle: this.#idle.size };
  }

  get counts(): ConnectionGuardCounts {
    return {
      evictedAtCap: this.#evictedAtCap,
      evictedPerSource: this.#evictedPerSource,
      refused: this.#refused,
    };
  }

  /**
   * A connection from `source` was accepted. Admitted, it is idle, and `close` lists the
   * connections to close for it (no longer tracked); refused, it is not tracked.
   */
  admit(connection: C, source: string): Admission<C> {
    // Its source's own longest-idle ones first: then a source at its share makes its own
    // room, taking nobody else's connection.
    const close = this.#trim(source, this.limits.maxIdlePerSource - 1);
    if (this.#open.size >= this.limits.maxConnections) {
      const oldest = first(this.#idle);
      if (oldest === undefined) {
        this.#refused += 1;
        return { admitted: false };
      }
      close.push(this.#evict(oldest));
      this.#evictedAtCap += 1;
    }
    this.#open.set(connection, { source, inFlight: 0, idleSince: this.now() });
    this.#markIdle(connection, source);
    return { admitted: true, close };
  }

  /** A request arrived on `connection` (its headers): it is busy until `requestEnded`. */
  requestStarted(connection: C): void {
    const entry = this.#open.get(connection);
    if (entry === undefined) return;
    entry.inFlight += 1;
    if (entry.inFlight === 1) this.#unmarkIdle(connection, entry.source);
  }

  /**
   * A request's answer on `connection` closed.
   * @returns the connections to close: its source's longest-idle ones past its share
   */
  requestEnded(connection: C): readonly C[] {
    const entry = this.#open.get(connection);
    if (entry === undefined || entry.inFlight === 0) return [];
    entry.inFlight -= 1;
    if (entry.inFlight > 0) return [];
    entry.idleSince = this.now();
    this.#markIdle(connection, entry.source);
    return this.#trim(entry.source, this.limits.maxIdlePerSource);
  }

  /** `connection` closed (whoever closed it); forgetting one not tracked is a no-op. */
  closed(connection: C): void {
    const entry = this.#open.get(connection);
    if (entry === undefined) return;
    this.#unmarkIdle(connection, entry.source);
    this.#open.delete(connection);
  }

  #evict(connection: C): C {
    this.closed(connection);
    return connection;
  }

  /** Closes `source`'s longest-idle connections, those past the grace, until it has `keep` idle. */
  #trim(source: string, keep: number): C[] {
    const close: C[] = [];
    const own = this.#idleBySource.get(source);
    if (own === undefined) return close;
    const oldEnough = this.now() - this.limits.sourceGraceMs;
    while (own.size > keep) {
      const oldest = first(own);
      const entry = oldest === undefined ? undefined : this.#open.get(oldest);
      if (oldest === undefined || entry === undefined || entry.idleSince > oldEnough) break;
      close.push(this.#evict(oldest));
      this.#evictedPerSource += 1;
    }
    return close;
  }

  #markIdle(connection: C, source: string): void {
    this.#idle.add(connection);
    let own = this.#idleBySource.get(source);
    if (own === undefined) this.#idleBySource.set(source, (own = new Set()));
    own.add(connection);
  }

  #unmarkIdle(connection: C, source: string): void {
    this.#idle.delete(connection);
    const own = this.#idleBySource.get(source);
    if (own === undefined) return;
    own.delete(connection);
    if (own.size === 0) this.#idleBySource.delete(source);
  }
}

/** The first of `set` in insertion order (the longest idle), undefined when it is empty. */
function first<C>(set: ReadonlySet<C>): C | undefined {
  for (const item of set) return item;
  return undefined;
}
