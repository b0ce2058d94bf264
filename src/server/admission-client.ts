/**
 * Who may send AdmissionReviews. With `--client-ca-file`, `POST /mutate` and `POST /validate`
 * are answered only to a client that presented a certificate the TLS handshake verified
 * against that CA: the API server, which presents one through the `kubeConfigFile` of its
 * AdmissionConfiguration (docs/install.md). With `--client-names` as well, the certificate
 * must also carry one of those names, as its Common Name or a DNS subjectAltName. Anything
 * else is answered 401 (no verified certificate) or 403 (another name), unread, before any
 * body budget, gate or policy code, and is neither audited nor judged.
 *
 * Why: without it, any pod that reaches port 8443 can POST AdmissionReviews. They change
 * nothing in the cluster, but each one writes audit lines (forged denials and mutations
 * under any user name) and spends the webhook's CPU and body budget, which the API server's
 * own requests then wait behind. The other routes (health, metrics, the broker's, which
 * authenticates its callers by TokenReview) ask for no certificate.
 *
 * `judgeAdmissionClient` is the pure decision; `admissionClientCheck` reads the TLS socket
 * once per connection (no renegotiation is allowed, so the peer cannot change on it), and
 * keeps the verdict only while the client CA bundle it was verified against is in force
 * (client-ca-epochs.ts): on an older connection the request is answered 429, unread, and
 * the connection closed, so that it comes again on a new one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Endpoint } from '../admission/admit.js';
import type { Logger } from 'pino';
import { admissionEndpoint } from './lean-admission.js';
import { requestSource } from '../request-source.js';
import { LogThrottle } from './log-throttle.js';
import type { WebhookMetrics } from './metrics.js';
import type { ClientCaEpochs } from './client-ca-epochs.js';

/** What `serve` requires of an admission client (`--client-ca-file`, `--client-names`). */
export interface AdmissionClientRule {
  /** Undefined: any certificate the client CA verified. Otherwise one of these names. */
  readonly names: readonly string[] | undefined;
  /**
   * Which bundle each connection was verified against (client-ca-epochs.ts), the TLS
   * server's: a connection verified under a bundle since replaced is not trusted.
   */
  readonly epochs: Pick<ClientCaEpochs, 'isCurrent'>;
}

/** What the TLS handshake established about the client (nothing secret). */
export interface PresentedClient {
  /** A certificate was presented and verified against the client CA. */
  readonly verified: boolean;
  /** Why not (OpenSSL's code, or `no certificate`); undefined when verified. */
  readonly problem: string | undefined;
  /** The certificate's Common Names (usually one), for the names check and the log. */
  readonly commonNames: readonly string[];
  /** True when a DNS subjectAltName of the certificate is exactly `name`. */
  hasDnsName(name: string): boolean;
}

export type ClientVerdict =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** 429: send again on a new connection (`STALE_CONNECTION`). */
      readonly status: 401 | 403 | 429;
      readonly message: string;
      readonly reason: string;
    };

const ALLOWED: ClientVerdict = { allowed: true };

/**
 * The answer on a connection whose certificate was verified against a client CA bundle that
 * has since been replaced. Not a refusal of the client: the bundle in force will judge it
 * on a new connection, which `Retry-After` asks for (the connection is closed).
 */
export const STALE_CONNECTION = {
  allowed: false,
  status: 429,
  message:
    'the webhook client CA bundle changed after this connection was verified: send the request again on a new connection',
  reason: 'verified under a replaced client CA bundle',
} as const satisfies ClientVerdict;

/** The decision for one client: pure, no I/O. */
export function judgeAdmissionClient(
  client: PresentedClient,
  rule: Pick<AdmissionClientRule, 'names'>,
): ClientVerdict {
  if (!client.verified)
    return {
      allowed: false,
      status: 401,
      message:
        'a client certificate signed by the webhook client CA (--client-ca-file) is required to send AdmissionReviews',
      reason: client.problem ?? 'not verified',
    };
  if (rule.names === undefined) return ALLOWED;
  for (const name of rule.names) {
    if (client.commonNames.includes(name) || client.hasDnsName(name)) return ALLOWED;
  }
  return {
    allowed: false,
    status: 403,
    message: 'the client certificate names none of the webhook clients allowed by --client-names',
    reason: 'name not allowed',
  };
}

/** A client that is not a TLS peer at all (plain HTTP): nothing was verified. */
const NOT_TLS: PresentedClient = {
  verified: false,
  problem: 'not a TLS connection',
  commonNames: [],
  hasDnsName: () => false,
};

/** What the handshake of `socket` established (read once per connection by the check). */
export function presentedClient(socket: IncomingMessage['socket']): PresentedClient {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== 'function' || typeof tls.getPeerX509Certificate !== 'function')
    return NOT_TLS;
  const peer = tls.getPeerCertificate();
  // An empty object when the client sent no certificate.
  const presented = peer !== null && typeof peer === 'object' && Object.keys(peer).length > 0;
  const cn: unknown = presented ? (peer.subject as { CN?: unknown } | undefined)?.CN : undefined;
  const commonNames =
    typeof cn === 'string' ? [cn] : Array.isArray(cn) ? cn.filter((n) => typeof n === 'string') : [];
  const x509 = presented ? tls.getPeerX509Certificate() : undefined;
  const verified = presented && tls.authorized === true;
  return {
    verified,
    problem: verified
      ? undefined
      : !presented
        ? 'no certificate'
        : String((tls.authorizationError as unknown) ?? 'not verified'),
    commonNames,
    hasDnsName: (name) => {
      if (x509 === undefined) return false;
      try {
        // OpenSSL's own matching of the subjectAltName DNS entries: exact, no wildcard.
        return x509.checkHost(name, { subject: 'never', wildcards: false }) !== undefined;
      } catch {
        return false; // not a host name: only a Common Name can match it
      }
    },
  };
}

/** How a refused client is answered, counted and logged. */
function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  verdict: Exclude<ClientVerdict, { allowed: true }>,
  client: PresentedClient,
  endpoint: string,
  metrics: WebhookMetrics,
  logger: Logger,
  logs: LogThrottle,
): void {
  // Unread: the connection is closed after the answer, so its body is not read either.
  res.shouldKeepAlive = false;
  const body = JSON.stringify({ message: verdict.message });
  res.writeHead(verdict.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...(verdict.status === 429 ? { 'retry-after': '1' } : {}),
  });
  res.end(body);
  const decision = verdict.status === 429 ? 'client_reconnect' : 'client_refused';
  metrics.observe({ endpoint, kind: 'unknown', decision }, 0);
  const unlogged = logs.take();
  if (unlogged !== undefined)
    logger.warn(
      {
        code: 'ERR_ADMISSION_CLIENT',
        path: `/${endpoint}`,
        source: requestSource(req),
        reason: verdict.reason,
        // The names are the certificate's public subject; at most a few, each cut short.
        commonNames: client.commonNames.slice(0, 4).map((n) => n.slice(0, 128)),
        unlogged,
      },
      `admission request refused (${verdict.status}): ${verdict.reason}`,
    );
}

/** `admissionClientCheck`'s check: true when it answered (the client is refused). */
export type AdmissionClientCheck = (
  req: IncomingMessage,
  res: ServerResponse,
  endpoint?: Endpoint,
) => boolean;

/**
 * The check in front of every other on `/mutate` and `/validate` (any method): true when
 * it answered (the client is refused), false to let the request go on. `endpoint` is the
 * route's when an admission route calls it; otherwise it is read from the target, and a
 * request to another path goes on. The verdict is kept per connection. It is asked again
 * just before a review is judged, when the bundle may have changed while the body came in.
 */
export function admissionClientCheck(
  rule: AdmissionClientRule,
  metrics: WebhookMetrics,
  logger: Logger,
): AdmissionClientCheck {
  const verdicts = new WeakMap<object, { verdict: ClientVerdict; client: PresentedClient }>();
  const logs = new LogThrottle();
  return (req, res, routeEndpoint) => {
    const endpoint = routeEndpoint ?? admissionEndpoint(req.url);
    if (endpoint === undefined) return false;
    let known = verdicts.get(req.socket);
    if (known === undefined) {
      const client = presentedClient(req.socket);
      known = { verdict: judgeAdmissionClient(client, rule), client };
      verdicts.set(req.socket, known);
    }
    const verdict =
      known.verdict.allowed && !rule.epochs.isCurrent(req.socket) ? STALE_CONNECTION : known.verdict;
    if (verdict.allowed) return false;
    refuse(req, res, verdict, known.client, endpoint, metrics, logger, logs);
    return true;
  };
}
