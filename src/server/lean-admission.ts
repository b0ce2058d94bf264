/**
 * `POST /mutate` and `POST /validate` on bare `node:https`, in front of express: the API
 * server's requests skip express's router, prototypes and body parser, which cost most of
 * a request. Same answers, status codes and messages as the express route.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultPolicy, type AdmissionPolicy, type Endpoint } from '../admission/admit.js';
import type { CostlyReason, LargeRequestGate } from '../admission/large-request-gate.js';
import type { Logger } from 'pino';
import { answerReview, INTERNAL_ERROR_MESSAGE, type Answer, type ReviewDeps } from './admission-answer.js';
import type { WebhookMetrics } from './metrics.js';
import type { AdmissionClientCheck } from './admission-client.js';
import type { TurnBatch, TurnTask } from './turn-batch.js';
import { jsonNestsDeeperThan } from '../policy/text-depth.js';
import { LogThrottle } from './log-throttle.js';
import { requesterSource, requestSource } from '../request-source.js';

/** The API server caps a request at 3 MiB; an AdmissionReview body above that is refused (413). */
export const DEFAULT_BODY_LIMIT_BYTES = 3 * 1024 * 1024;

/** Sent with the 429 of a large request refused because too many wait. */
export const BUSY_MESSAGE =
  'tenant-guard is judging other large AdmissionReviews; retry (the API server does, within its timeout)';

/**
 * One warning a second, per gate (so per app), for the requests refused at it, large or
 * costly, on the lean path and express's alike (log-throttle.ts).
 */
const REFUSAL_LOGS = new WeakMap<LargeRequestGate, LogThrottle>();
export function gateRefusalLog(gate: LargeRequestGate): LogThrottle {
  let throttle = REFUSAL_LOGS.get(gate);
  if (throttle === undefined) REFUSAL_LOGS.set(gate, (throttle = new LogThrottle()));
  return throttle;
}

/** False once the client has gone: nobody is owed a verdict or an audit record. */
function awaitsAnswer(res: ServerResponse): boolean {
  return !res.closed && !res.destroyed;
}

/**
 * Runs `judge` for a parsed body in a turn of the gate, after an I/O poll (or answers 429 at
 * once when too many wait, as the express route's turns do); the turn ends when `judge`
 * returns, and the answer it returns is sent with the others of its turn of the loop. Its
 * share of the gate is its requester's, not the API server's address (`requesterSource`),
 * and, unless `requesterVerified` (a client CA verified the connection, so the name is the
 * API server's), its address's as well: any pod reaching the port could otherwise name a new
 * user on every request and fill the queue alone.
 */
export function inGateTurn(
  gate: LargeRequestGate,
  answers: TurnBatch,
  logger: Logger,
  res: ServerResponse,
  endpoint: Endpoint,
  judge: TurnTask,
  body: unknown,
  reason: CostlyReason,
  requesterVerified: boolean,
): void {
  // The requester's name is the API server's word only when a client CA verified the
  // connection; otherwise the address holds a share of its own too (`maxPerAddress`).
  const address = requestSource(res.req);
  const pending = gate.acquire(requesterSource(body, address), requesterVerified ? undefined : address);
  if (pending === undefined) {
    const unlogged = gateRefusalLog(gate).take();
    if (unlogged !== undefined)
      logger.warn(
        { code: 'ERR_ADMISSION_BUSY', path: `/${endpoint}`, reason, ...gate.load, unlogged },
        'costly admission request refused: too many waiting',
      );
    res.setHeader('retry-after', '1');
    sendJson(res, 429, { message: BUSY_MESSAGE });
    return;
  }
  void pending.then((slot) =>
    answers.deferAfterPoll(() => {
      try {
        // A client gone while it waited frees its turn at once.
        return awaitsAnswer(res) ? judge() : undefined;
      } finally {
        slot.release();
      }
    }),
  );
}

/** What the lean path reads besides a review's: the policy core and the body limit. */
export interface LeanAdmissionDeps extends ReviewDeps {
  readonly policy?: AdmissionPolicy;
  readonly bodyLimitBytes?: number;
}

/** Status and message of a body refused before any policy code, on the lean path and express's alike. */
export const TOO_LARGE = {
  status: 413,
  message: 'AdmissionReview body is larger than the limit of the webhook',
} as const;
export const NOT_JSON = {
  status: 400,
  message: 'body is not valid JSON; expected an admission.k8s.io/v1 AdmissionReview',
} as const;
const ABORTED = { status: 400, message: 'bad request' } as const;

/**
 * Deepest bracket nesting of an AdmissionReview body the webhook parses. The API server
 * decodes objects with Go's encoding/json family, which refuses nesting past 10,000
 * levels, and the review adds two around the object: it never sends more. A body nested
 * deeper is refused (400) before `JSON.parse`, which took 140-300 ms for a 1.5 MiB body of
 * 785,000 nested brackets (a red-team review); at 10,000 levels it takes milliseconds.
 */
export const MAX_BODY_NESTING = 10_100;
export const TOO_DEEP = {
  status: 400,
  message: `AdmissionReview body nests deeper than ${MAX_BODY_NESTING} levels, which the API server never sends`,
} as const;

/** True when a body's bytes nest deeper than MAX_BODY_NESTING (a body shorter than that cannot). */
export function bodyTooDeep(bytes: Uint8Array): boolean {
  return bytes.length > MAX_BODY_NESTING && jsonNestsDeeperThan(bytes, MAX_BODY_NESTING);
}

/** `/mutate` or `/validate` from a request target (query string ignored), else undefined. */
export function admissionEndpoint(url: string | undefined): Endpoint | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path === '/mutate' ? 'mutate' : path === '/validate' ? 'validate' : undefined;
}

/**
 * True for a Content-Type of `application/json` with no parameter but a UTF-8 charset:
 * what the API server sends. Anything else (another type, charset or parameter) is left
 * to express, which answers it as it always has.
 */
function isPlainJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type !== 'application/json') return false;
  if (semi < 0) return true;
  const params = contentType
    .slice(semi + 1)
    .trim()
    .toLowerCase()
    .replace(/"/g, '');
  return params === 'charset=utf-8' || params === 'charset=utf8';
}

/** A JSON body as express's strict JSON parser reads it: BOM dropped, `{}` when empty, an object or array only. */
export function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false } {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.length === 0) return { ok: true, value: {} };
  // The first character that is not JSON whitespace (space, tab, line feed, carriage return).
  let at = 0;
  while (at < body.length && ' \t\n\r'.includes(body.charAt(at))) at += 1;
  const first = body.charAt(at);
  if (first !== '{' && first !== '[') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch {
    return { ok: false };
  }
}

/**
 * An admission body read as both routes read it, and as express.json does: its nesting
 * checked before the parse (400 TOO_DEEP), then strict JSON (400 NOT_JSON). `type` is
 * body-parser's name for the refusal, which express's error handler reads.
 */
export function readJsonBody(
  bytes: Buffer,
):
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly refusal: typeof TOO_DEEP | typeof NOT_JSON; readonly type: string } {
  if (bodyTooDeep(bytes)) return { ok: false, refusal: TOO_DEEP, type: 'entity.too.deep' };
  const parsed = parseJsonBody(bytes.toString('utf8'));
  return parsed.ok ? parsed : { ok: false, refusal: NOT_JSON, type: 'entity.parse.failed' };
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  // Encoded once: its length is the header, and the socket writes the bytes as they are.
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
  });
  res.end(body);
}

/**
 * `POST /mutate` and `POST /validate` on bare `node:http(s)`: a body read bounded by the
 * limit, one `JSON.parse`, one `JSON.stringify`, and the same answers, log lines, audit
 * records and metrics as the express route. Returns false (touching nothing) for a
 * request it leaves to express: another route or method, a Content-Type other than
 * UTF-8 `application/json`, a Content-Encoding, no body at all, or a large body (or one of
 * unknown length), which is read, then parsed in a turn of the large-request gate, on the
 * express route (large-admission.ts).
 */
export function leanAdmission(
  deps: LeanAdmissionDeps,
  metrics: WebhookMetrics,
  gate: LargeRequestGate,
  answers: TurnBatch,
  clientCheck?: AdmissionClientCheck,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const policy = deps.policy ?? defaultPolicy;
  const limit = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const endpoint = admissionEndpoint(req.url);
    if (endpoint === undefined) return false;
    const headers = req.headers;
    if (!isPlainJson(headers['content-type'])) return false;
    const encoding = headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
    const lengthHeader = headers['content-length'];
    if (lengthHeader === undefined && headers['transfer-encoding'] === undefined) return false;
    const started = process.hrtime.bigint();
    const refuse = (answer: { status: number; message: string }): void => {
      sendJson(res, answer.status, { message: answer.message });
      metrics.observe({ endpoint, kind: 'unknown', decision: 'bad_request' }, 0);
    };
    if (lengthHeader !== undefined && Number(lengthHeader) > limit) {
      refuse(TOO_LARGE);
      req.resume();
      return true;
    }
    // A large body (or one of unknown length) is read, then parsed in a turn of the gate:
    // express's route (large-admission.ts).
    if (gate.isLarge(lengthHeader === undefined ? undefined : Number(lengthHeader))) return false;
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer): void => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        refuse(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      if (done) return;
      done = true;
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      const parsed = readJsonBody(bytes);
      if (!parsed.ok) {
        refuse(parsed.refusal);
        return;
      }
      // The verdict now; its answer (sent, then logged and counted) with the others of the turn.
      const judge = (): (() => void) => {
        // The client again, as the request is judged: a client CA bundle that changed while
        // its body came in (up to the request timeout) no longer vouches for it.
        if (clientCheck?.(req, res, endpoint) === true) return () => undefined;
        let answer: Answer;
        try {
          answer = answerReview(endpoint, parsed.value, started, deps, policy, metrics);
        } catch (err) {
          deps.logger.error({ err, code: 'ERR_ADMISSION_INTERNAL', path: `/${endpoint}` }, 'request failed');
          return () => {
            sendJson(res, 500, { message: INTERNAL_ERROR_MESSAGE });
            metrics.observe({ endpoint, kind: 'unknown', decision: 'error' }, 0);
          };
        }
        return () => {
          sendJson(res, answer.status, answer.payload);
          answer.after();
        };
      };
      // A small body holding much elementsYaml, or many values, is judged in a turn of the
      // gate, as a large one is.
      const costly = gate.costlyBecause(parsed.value, size);
      if (costly !== undefined)
        inGateTurn(
          gate,
          answers,
          deps.logger,
          res,
          endpoint,
          judge,
          parsed.value,
          costly,
          clientCheck !== undefined,
        );
      // The others at the end of this turn, with the rest this poll read (turn-batch.ts).
      // A client gone meanwhile is owed no answer, as in a turn of the gate.
      else answers.defer(() => (awaitsAnswer(res) ? judge() : undefined));
    };
    const onAborted = (): void => {
      if (done) return;
      done = true;
      refuse(ABORTED);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('error', onAborted);
    return true;
  };
}
