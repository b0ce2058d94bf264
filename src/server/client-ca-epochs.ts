/**
 * Which client CA bundle a connection's certificate was verified against. A TLS handshake
 * verifies the client's certificate once, against the bundle in force then, and the verdict
 * on it is kept for the connection (admission-client.ts). When `--client-ca-file` changes,
 * a keep-alive connection verified under the old bundle would otherwise go on being
 * trusted for as long as its client kept it busy: a CA taken out of the bundle (retired,
 * or compromised) would still reach the webhook through every connection it opened before.
 *
 * So each connection is stamped with the bundle's epoch when it is accepted (the TLS
 * context, and with it the bundle, is chosen then, before its handshake), and a new bundle
 * starts a new epoch. At that moment every connection of an older epoch is made to end:
 * idle ones at once, one answering a request right after that answer (`Connection: close`
 * when its headers are not sent yet). The client's next request then comes on a new connection, verified
 * against the new bundle. A review on an old connection that is not judged yet (it was in
 * the pipe, or its body was still coming in) is not judged: `admissionClientCheck`, asked
 * again just before the verdict, answers it 429 with `Retry-After` and closes the connection.
 *
 * Without a client CA none of this runs: nothing is stamped and no listener is wrapped.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** What the server must do for `advance`: end the connections that carry no request. */
export interface IdleConnections {
  closeIdleConnections(): void;
}

export class ClientCaEpochs {
  #epoch = 0;
  readonly #verifiedIn = new WeakMap<object, number>();
  /**
   * Accepted connections still in their handshake, by their four-tuple (local and remote
   * address and port, which the TCP socket and the TLS socket over it share, and which no two
   * open connections share); each leaves on its handshake or close. The remote address and
   * port alone were not enough: one client port can hold a connection to each address of a
   * server listening on several, and a handshake held back across a bundle change then took
   * the other connection's epoch (a red-team review).
   */
  readonly #accepted = new Map<string, { readonly socket: Socket; readonly epoch: number }>();
  /** Responses being written, with their connections, so that `advance` can end them. */
  readonly #answering = new Map<ServerResponse, IncomingMessage['socket']>();

  /** The server accepted `socket` (its `connection` event): its handshake uses the bundle in force. */
  accepted(socket: Socket): void {
    const key = connectionKey(socket);
    this.#accepted.set(key, { socket, epoch: this.#epoch });
    socket.once('close', () => {
      if (this.#accepted.get(key)?.socket === socket) this.#accepted.delete(key);
    });
  }

  /**
   * The handshake of `socket` ended (its `secureConnection` event): its certificate was
   * verified against the bundle of the epoch it was accepted in. A socket not seen being
   * accepted counts as verified under no bundle.
   */
  handshake(socket: Socket): void {
    const key = connectionKey(socket);
    this.#verifiedIn.set(socket, this.#accepted.get(key)?.epoch ?? -1);
    this.#accepted.delete(key);
  }

  /** True when `socket`'s certificate was verified against the bundle in force now. */
  isCurrent(socket: object): boolean {
    return this.#verifiedIn.get(socket) === this.#epoch;
  }

  /**
   * Wraps the server's listener: a request on a connection of an older epoch closes it
   * after its answer, and every answer in progress is known to `advance`.
   */
  listener(app: RequestListener): RequestListener {
    return (req, res) => {
      if (!this.isCurrent(req.socket)) res.shouldKeepAlive = false;
      this.#answering.set(res, req.socket);
      res.once('close', () => this.#answering.delete(res));
      app(req, res);
    };
  }

  /**
   * The bundle changed: a new epoch starts, and every connection of an older one ends,
   * idle ones now, busy ones after their answer.
   * @returns how many answers in progress will close their connection
   */
  advance(server: IdleConnections): number {
    this.#epoch += 1;
    for (const [res, socket] of this.#answering) {
      if (!res.headersSent) res.shouldKeepAlive = false;
      // Its headers said keep-alive: the connection ends once the answer is written.
      else res.once('finish', () => socket.end());
    }
    server.closeIdleConnections();
    return this.#answering.size;
  }
}

function connectionKey(socket: Socket): string {
  return `${socket.localAddress}|${socket.localPort}|${socket.remoteAddress}|${socket.remotePort}`;
}
