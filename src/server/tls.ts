/**
 * An HTTPS server whose certificate follows its files. cert-manager, a Secret volume update
 * (an atomic swap of the `..data` symlink) or `tenant-guard certs` replace the files; the
 * server notices (fs.watch on their directories, and a periodic stat in case events are
 * missed or the file system sends none) and calls `server.setSecureContext` with the new
 * pair. Connections already open keep the context they were made with, so no connection or
 * request is dropped; new connections get the new certificate.
 *
 * A pair is taken only when the certificate and the key both parse and belong together: a
 * certificate written before its key (half a rotation) is ignored until the key arrives. A
 * certificate outside its dates (expired, or not valid yet) is refused too, at start (the
 * server does not start) and on reload (the pair in force stays, logged as an error and
 * counted by `refused()`): no client would verify it, while probes, which verify nothing,
 * would keep the pod Ready (certificate-validity.ts).
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { errnoCode, isTenantGuardError, TenantGuardError } from '../errors.js';
import { checkCertificateDates, expiryWarning } from './certificate-validity.js';
import { ClientCaEpochs } from './client-ca-epochs.js';

/** The files of the serving certificate. */
export interface TlsFiles {
  /** PEM certificate chain, the serving certificate first. */
  certFile: string;
  /** PEM private key of the serving certificate. */
  keyFile: string;
  /**
   * Optional PEM bundle of the CA(s) that sign client certificates. When given, the server
   * asks every client for a certificate and verifies it against this bundle, but lets a
   * client without one (or with a bad one) connect: the routes that need it say so
   * (admission-client.ts), health and metrics do not. It is reloaded with the pair.
   */
  clientCaFile?: string;
}

/** Options of `createReloadingHttpsServer`. Times in milliseconds. */
export interface ReloadOptions {
  /** How often the files are stat'ed, whatever fs.watch reports. Default 10000. */
  pollIntervalMs?: number;
  /** Quiet time after a file event before reading (a rotation writes several files). Default 100. */
  debounceMs?: number;
  /** Use fs.watch as well as polling. Default true. */
  watch?: boolean;
  /**
   * With a client CA: the epochs its connections are stamped with, shared with the
   * admission client check (client-ca-epochs.ts). Default: epochs of this server's own.
   */
  clientCaEpochs?: ClientCaEpochs;
  /** The clock a certificate's dates are checked against. Default `Date.now`. */
  now?: Clock;
  /** Longest a TLS handshake may take before the connection is dropped, in ms. Default 120000 (node's). */
  handshakeTimeoutMs?: number;
}

/** What identifies the certificate being served (nothing secret). */
export interface ServedCertificate {
  serialNumber: string;
  fingerprint256: string;
  subject: string;
  validTo: string;
}

/** The server and its reload controls. */
export interface ReloadingHttpsServer {
  readonly server: Server;
  /** The certificate new connections get. */
  current(): ServedCertificate;
  /** Reads the files now; true when a new pair was taken. */
  reload(): boolean;
  /**
   * Why the files on disk are not what is served (a pair refused on reload: half written,
   * broken, expired or not yet valid); undefined while they are.
   */
  refused(): string | undefined;
  /** Stops watching and closes the server (open connections end as their requests finish). */
  close(): Promise<void>;
}

interface Pair {
  cert: string;
  key: string;
  ca: string | undefined;
  digest: string;
  served: ServedCertificate;
}

/**
 * Reads and checks a certificate and key pair, and that the certificate is valid at `now()`.
 * @throws TenantGuardError ERR_TLS_RELOAD saying what is wrong (never the key's content);
 *   ERR_TLS_CERT_VALIDITY for a certificate expired or not valid yet.
 */
export function readTlsPair(files: TlsFiles, now: Clock = Date.now): Pair {
  const read = (path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new TenantGuardError('ERR_TLS_RELOAD', `cannot read ${path}: ${errnoCode(err) ?? 'error'}`, {
        cause: err,
      });
    }
  };
  const cert = read(files.certFile);
  const key = read(files.keyFile);
  const ca =
    files.clientCaFile === undefined
      ? undefined
      : clientCaBundle(read(files.clientCaFile), files.clientCaFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new TenantGuardError('ERR_TLS_RELOAD', `${files.certFile} is not a PEM certificate`, {
      cause: err,
    });
  }
  checkCertificateDates(x509, files.certFile, now);
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch (err) {
    throw new TenantGuardError('ERR_TLS_RELOAD', `${files.keyFile} is not a PEM private key`, { cause: err });
  }
  if (!matches)
    throw new TenantGuardError(
      'ERR_TLS_RELOAD',
      `${files.keyFile} is not the key of the certificate in ${files.certFile}`,
    );
  try {
    createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
  } catch (err) {
    throw new TenantGuardError(
      'ERR_TLS_RELOAD',
      `the TLS context rejects ${files.certFile}: ${err instanceof Error ? err.message : 'error'}`,
      { cause: err },
    );
  }
  const digest = createHash('sha256')
    .update(cert)
    .update('\0')
    .update(key)
    .update('\0')
    .update(ca ?? '')
    .digest('hex');
  return {
    cert,
    key,
    ca,
    digest,
    served: {
      serialNumber: x509.serialNumber,
      fingerprint256: x509.fingerprint256,
      subject: x509.subject,
      validTo: x509.validTo,
    },
  };
}

/** A PEM certificate block. */
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;

/**
 * The certificates of a client CA bundle, and only those, as one PEM text: every block must
 * parse, and there must be at least one.
 *
 * Why: a `ca` that is empty is no `ca` at all to Node, which then verifies clients against
 * its default root store (public CAs, NODE_EXTRA_CA_CERTS, the system's). An empty
 * `--client-ca-file` (cert-manager writes an empty `ca.crt` for some issuers) let any client
 * with a certificate from a public CA send AdmissionReviews, and refused the API server's (a
 * red-team review). A file with no certificate is refused, at start and on reload.
 * @throws TenantGuardError ERR_TLS_RELOAD naming the file
 */
export function clientCaBundle(text: string, path: string): string {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0)
    throw new TenantGuardError(
      'ERR_TLS_RELOAD',
      `${path} holds no PEM certificate: a client CA bundle needs at least one (without one, Node would trust its default roots)`,
    );
  blocks.forEach((block, index) => {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new TenantGuardError('ERR_TLS_RELOAD', `certificate ${index + 1} of ${path} does not parse`, {
        cause: err,
      });
    }
  });
  return blocks.join('\n');
}

/** What stat says about the files; it changes when any of them is replaced. */
function statSignature(files: TlsFiles): string {
  return [files.certFile, files.keyFile, files.clientCaFile]
    .filter((f): f is string => f !== undefined)
    .map((f) => {
      try {
        const s = statSync(f);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

/**
 * Creates the HTTPS server (not yet listening) with the pair in `files`, and keeps it
 * current as the files change.
 * @throws TenantGuardError ERR_TLS_RELOAD when the first pair cannot be used.
 */
export function createReloadingHttpsServer(
  app: RequestListener,
  files: TlsFiles,
  logger: Logger,
  options: ReloadOptions = {},
): ReloadingHttpsServer {
  const log = logger.child({ component: 'tls' });
  const now = options.now ?? Date.now;
  let pair = readTlsPair(files, now);
  let signature = statSignature(files);
  let lastProblem: string | undefined;
  const epochs =
    files.clientCaFile === undefined ? undefined : (options.clientCaEpochs ?? new ClientCaEpochs());
  const server = createServer(
    {
      cert: pair.cert,
      key: pair.key,
      ...(pair.ca === undefined ? {} : { ca: pair.ca }),
      minVersion: 'TLSv1.2',
      ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeout: options.handshakeTimeoutMs }),
      // Asked for, verified, but not required of every route (TlsFiles.clientCaFile).
      ...(files.clientCaFile === undefined ? {} : { requestCert: true, rejectUnauthorized: false }),
    },
    epochs === undefined ? app : epochs.listener(app),
  );
  // The verdict on a client's certificate is kept per connection (admission-client.ts): a
  // TLS 1.2 renegotiation must not change the peer under it (TLS 1.3 has none), and a new
  // client CA bundle must end it (client-ca-epochs.ts).
  if (epochs !== undefined) {
    server.on('connection', (socket: Socket) => epochs.accepted(socket));
    server.on('secureConnection', (socket: TLSSocket) => {
      socket.disableRenegotiation();
      epochs.handshake(socket);
    });
  }
  log.info(
    { certificate: pair.served },
    `serving certificate ${pair.served.subject} (serial ${pair.served.serialNumber}, valid to ${pair.served.validTo})`,
  );
  const warnIfExpiring = (served: ServedCertificate): void => {
    const warning = expiryWarning(served.validTo, files.certFile, now);
    if (warning !== undefined) log.warn({ code: 'ERR_TLS_CERT_VALIDITY', validTo: served.validTo }, warning);
  };
  warnIfExpiring(pair.served);

  const reload = (): boolean => {
    signature = statSignature(files);
    let next: Pair;
    try {
      next = readTlsPair(files, now);
    } catch (err) {
      // Half a rotation, or a broken pair: keep serving the last good one. Said once per state.
      // A pair outside its dates is no passing state: an error, and `refused()` says so.
      const problem = err instanceof Error ? err.message : String(err);
      if (problem !== lastProblem) {
        const message = `keeping the current certificate (valid to ${pair.served.validTo}): ${problem}`;
        if (isTenantGuardError(err, 'ERR_TLS_CERT_VALIDITY')) log.error({ code: err.code }, message);
        else log.warn({ code: 'ERR_TLS_RELOAD' }, message);
      }
      lastProblem = problem;
      return false;
    }
    lastProblem = undefined;
    if (next.digest === pair.digest) return false;
    server.setSecureContext({
      cert: next.cert,
      key: next.key,
      ...(next.ca === undefined ? {} : { ca: next.ca }),
    });
    log.info(
      { certificate: next.served, previous: pair.served.serialNumber },
      `now serving certificate ${next.served.subject} (serial ${next.served.serialNumber}, valid to ${next.served.validTo})`,
    );
    warnIfExpiring(next.served);
    if (epochs !== undefined && next.ca !== pair.ca) {
      const busy = epochs.advance(server);
      log.info(
        { busy },
        'new client CA bundle: connections verified under the previous one end (idle ones now, busy ones after their answer)',
      );
    }
    pair = next;
    return true;
  };

  let debounce: NodeJS.Timeout | undefined;
  const soon = (): void => {
    clearTimeout(debounce);
    debounce = setTimeout(reload, options.debounceMs ?? 100);
    debounce.unref();
  };
  const watchers: FSWatcher[] = [];
  if (options.watch !== false) {
    const dirs = new Set(
      [files.certFile, files.keyFile, files.clientCaFile]
        .filter((f): f is string => f !== undefined)
        .map((f) => dirname(f)),
    );
    for (const dir of dirs) {
      // The directory, not the files: a Secret volume swaps a symlink, which a watch on the
      // old file would never see.
      try {
        const w = watch(dir, { persistent: false }, soon);
        w.on('error', (err) =>
          log.warn({ code: 'ERR_TLS_RELOAD', dir }, `stopped watching ${dir} (${err.message}); polling only`),
        );
        watchers.push(w);
      } catch (err) {
        log.warn(
          { code: 'ERR_TLS_RELOAD', dir },
          `cannot watch ${dir} (${err instanceof Error ? err.message : String(err)}); polling only`,
        );
      }
    }
  }
  const poll = setInterval(() => {
    if (statSignature(files) !== signature) reload();
  }, options.pollIntervalMs ?? 10_000);
  poll.unref();

  return {
    server,
    current: () => pair.served,
    reload,
    refused: () => lastProblem,
    close: async () => {
      clearInterval(poll);
      clearTimeout(debounce);
      for (const w of watchers) w.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
