/**
 * The broker's answer as the exec plugin reads it off the wire: the token or the error of one
 * attempt, whether trying again may help, a bounded Retry-After, and a reason made safe for
 * one stderr line (no control characters, no JWT-like text).
 */
import { TenantGuardError } from '../errors.js';
import type { BrokerEndpoint } from './broker-endpoint.js';
import { asSingleToken } from './token-file.js';

/** What the broker answered, as read off the wire. */
export interface BrokerAnswer {
  status: number;
  statusText: string;
  contentType: string;
  body: string;
  /** The `Retry-After` header, when sent. */
  retryAfter?: string;
}

/** A token the broker issued, as it answered it (unchecked: see token-checks.ts). */
export interface IssuedToken {
  token: string;
  /** The `expirationTimestamp` the broker stated, ms since the epoch. */
  statedExpiresAt?: number;
  /** The audience the broker stated (`audience` of the /v1/tokens JSON). */
  audience?: string;
}

/**
 * The outcome of one attempt: a token, or an error and whether trying again may help
 * (network errors, 5xx and 429: yes, after `retryAfterMs` when the broker said so; TLS
 * errors, other 4xx and malformed answers: no).
 */
export type AttemptResult =
  | { ok: true; issued: IssuedToken }
  | { ok: false; error: TenantGuardError; retryable: boolean; retryAfterMs?: number };

/** Longest `Retry-After` honoured, in ms (the run's --timeout bounds it anyway). */
const MAX_RETRY_AFTER_MS = 60_000;

/** `Retry-After` in delta-seconds, as ms; undefined for absent, HTTP-date or nonsense values. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d{1,6}\s*$/.test(value)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Number(value) * 1000);
}

const MAX_REASON_CHARS = 300;
const JWT_LIKE = /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;

/** Makes untrusted text safe for one stderr line: no control characters, no JWT-like strings, bounded. */
export function sanitizeReason(text: string): string {
  const line = text
    // eslint-disable-next-line no-control-regex -- control characters are what it removes
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .replace(JWT_LIKE, '[token redacted]')
    .replace(/\s+/g, ' ')
    .trim();
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS)}...` : line;
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value))
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The broker's one-line reason from an error answer: `message` (and `error`) of a JSON body
 * (`/v1/tokens`, or a Kubernetes-style Status), else the plain text (the drop-in endpoint).
 * @returns the sanitised reason, or undefined when the body says nothing
 */
export function brokerReason(answer: Pick<BrokerAnswer, 'contentType' | 'body'>): string | undefined {
  const json = answer.body.trimStart().startsWith('{') ? jsonObject(answer.body) : undefined;
  let reason: string;
  if (json !== undefined) {
    const message = typeof json['message'] === 'string' ? json['message'] : '';
    const error = typeof json['error'] === 'string' ? json['error'] : '';
    reason =
      message !== '' && error !== '' && !message.includes(error) ? `${message} (${error})` : message || error;
  } else {
    reason = answer.body;
  }
  const clean = sanitizeReason(reason);
  return clean === '' ? undefined : clean;
}

const STATUS_HINTS: Readonly<Record<number, string>> = {
  400: 'the broker rejected the request',
  401: 'the caller token was not accepted',
  403: 'the caller may not obtain tokens for this target',
  404: 'unknown target, or no broker endpoint at this URL',
  429: 'the broker is rate limiting this caller',
  503: 'the broker is not ready or cannot review the caller token',
};

function refusal(endpoint: BrokerEndpoint, target: string, answer: BrokerAnswer): TenantGuardError {
  // The broker's own reason when it gives one; else what the status usually means.
  const reason =
    brokerReason(answer) ??
    `no reason given (${STATUS_HINTS[answer.status] ?? (answer.status >= 500 ? 'the broker failed' : 'unexpected answer')})`;
  const code =
    answer.status >= 400 && answer.status < 500 ? 'ERR_CREDENTIAL_REFUSED' : 'ERR_CREDENTIAL_BROKER';
  const status = `${answer.status}${answer.statusText ? ` ${answer.statusText}` : ''}`;
  return new TenantGuardError(
    code,
    `broker ${endpoint.url.href} answered ${status} for target "${target}": ${reason}`,
  );
}

function malformed(endpoint: BrokerEndpoint, what: string): AttemptResult {
  return {
    ok: false,
    retryable: false,
    error: new TenantGuardError(
      'ERR_CREDENTIAL_BROKER',
      `broker ${endpoint.url.href} answered 2xx but ${what}`,
    ),
  };
}

/**
 * Interprets the broker's answer (no network here, so it is tested on its own): the token
 * and what the broker stated about it; `checkIssuedToken` decides whether it may be used.
 */
export function processBrokerAnswer(
  endpoint: BrokerEndpoint,
  target: string,
  answer: BrokerAnswer,
): AttemptResult {
  if (answer.status < 200 || answer.status >= 300) {
    const retryable = answer.status >= 500 || answer.status === 429;
    const retryAfterMs = retryable ? parseRetryAfter(answer.retryAfter) : undefined;
    return {
      ok: false,
      retryable,
      error: refusal(endpoint, target, answer),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
  let token: string | undefined;
  let stated: number | undefined;
  let audience: string | undefined;
  if (endpoint.kind === 'target-token') {
    token = asSingleToken(answer.body);
    if (token === undefined) return malformed(endpoint, 'the body is not a single token');
  } else {
    const json = jsonObject(answer.body);
    if (json === undefined) return malformed(endpoint, 'the body is not a JSON object');
    const raw = json['token'];
    token = typeof raw === 'string' ? asSingleToken(raw) : undefined;
    if (token === undefined) return malformed(endpoint, 'the JSON has no "token" string');
    const exp = json['expirationTimestamp'];
    if (typeof exp === 'string' && !Number.isNaN(Date.parse(exp))) stated = Date.parse(exp);
    const aud = json['audience'];
    if (typeof aud === 'string' && aud !== '') audience = aud;
  }
  return {
    ok: true,
    issued: {
      token,
      ...(stated === undefined ? {} : { statedExpiresAt: stated }),
      ...(audience === undefined ? {} : { audience }),
    },
  };
}
