/**
 * One HTTPS request from the exec plugin to the broker for a target's token, classified and
 * never thrown: unreachable, timed out, TLS (not retried), refused (4xx; 429 retried) or a
 * broker fault (5xx retried; a malformed answer not). Answers are read up to a size bound.
 */
import { request } from 'node:https';
import { errnoCode, TenantGuardError } from '../errors.js';
import { processBrokerAnswer, type AttemptResult, type BrokerAnswer } from './broker-answer.js';
import type { BrokerEndpoint } from './broker-endpoint.js';

/** Largest broker answer read, in bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** User-Agent the plugin sends. */
export const USER_AGENT = 'tenant-guard-credential/1';

/** One request to the broker. */
export interface TokenRequest {
  endpoint: BrokerEndpoint;
  target: string;
  /** The URL the token will be presented to (KUBERNETES_EXEC_INFO); undefined sends none. */
  server?: string;
  callerToken: string;
  /** PEM bundle to trust instead of the system roots. */
  ca?: string;
  /** Time this attempt may take, in milliseconds. */
  timeoutMs: number;
}

class AnswerTooLarge extends Error {}

/** OpenSSL verification codes Node.js reports as `err.code` for a certificate it does not trust. */
const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'EPROTO',
]);

/** True for errors of the TLS layer: certificate, host name and protocol failures. Trying again does not help. */
export function isTlsError(err: unknown): boolean {
  const code = errnoCode(err);
  return (
    code !== undefined &&
    (CERT_CODES.has(code) ||
      code.startsWith('ERR_TLS_') ||
      code.startsWith('ERR_SSL_') ||
      code.startsWith('ERR_OSSL_'))
  );
}

function isAbort(err: unknown): boolean {
  return (
    (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) ||
    errnoCode(err) === 'ABORT_ERR'
  );
}

function send(req: TokenRequest): Promise<BrokerAnswer> {
  const url = new URL(req.endpoint.url.href);
  const headers: Record<string, string> = {
    Authorization: `Bearer ${req.callerToken}`,
    'User-Agent': USER_AGENT,
  };
  let body: string | undefined;
  if (req.endpoint.kind === 'tokens') {
    body = JSON.stringify(
      req.server === undefined ? { target: req.target } : { target: req.target, server: req.server },
    );
    headers['Content-Type'] = 'application/json';
    headers['Accept'] = 'application/json';
  } else {
    url.searchParams.set('targetName', req.target);
    if (req.server !== undefined) url.searchParams.set('server', req.server);
    headers['Accept'] = 'text/plain';
  }
  return new Promise((resolve, reject) => {
    const r = request(
      url,
      {
        method: body === undefined ? 'GET' : 'POST',
        headers,
        agent: false,
        signal: AbortSignal.timeout(Math.max(1, req.timeoutMs)),
        ...(req.ca === undefined ? {} : { ca: req.ca }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES)
            r.destroy(new AnswerTooLarge(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
            ...(typeof res.headers['retry-after'] === 'string'
              ? { retryAfter: res.headers['retry-after'] }
              : {}),
          }),
        );
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

function failure(req: TokenRequest, err: unknown): AttemptResult {
  const where = req.endpoint.url.href;
  const detail = err instanceof Error ? err.message.replace(/\s+/g, ' ') : String(err);
  if (isAbort(err)) {
    return {
      ok: false,
      retryable: false,
      error: new TenantGuardError('ERR_CREDENTIAL_TIMEOUT', `no answer from broker ${where} in time`, {
        cause: err,
      }),
    };
  }
  if (err instanceof AnswerTooLarge) {
    return {
      ok: false,
      retryable: false,
      error: new TenantGuardError('ERR_CREDENTIAL_BROKER', `broker ${where}: ${detail}`, { cause: err }),
    };
  }
  if (isTlsError(err)) {
    const hint =
      req.ca === undefined
        ? 'pass the broker CA with --ca-file'
        : 'check --ca-file and the broker certificate';
    return {
      ok: false,
      retryable: false,
      error: new TenantGuardError(
        'ERR_CREDENTIAL_TLS',
        `TLS with broker ${where} failed: ${detail} (${errnoCode(err) ?? 'TLS'}); ${hint}`,
        { cause: err },
      ),
    };
  }
  return {
    ok: false,
    retryable: true,
    error: new TenantGuardError('ERR_CREDENTIAL_UNREACHABLE', `broker ${where} unreachable: ${detail}`, {
      cause: err,
    }),
  };
}

/**
 * Makes one request for a token and classifies the outcome. Never throws.
 * Error codes: ERR_CREDENTIAL_UNREACHABLE (retryable), ERR_CREDENTIAL_TIMEOUT, ERR_CREDENTIAL_TLS,
 * ERR_CREDENTIAL_REFUSED (4xx; 429 retryable), ERR_CREDENTIAL_BROKER (5xx: retryable; malformed answers).
 */
export async function requestToken(req: TokenRequest): Promise<AttemptResult> {
  try {
    return processBrokerAnswer(req.endpoint, req.target, await send(req));
  } catch (err) {
    return failure(req, err);
  }
}
