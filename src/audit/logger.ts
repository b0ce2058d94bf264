/**
 * The pino logger of the server and the audit sink that writes through it. The logger is
 * created once by the command and injected everywhere; nothing here is a singleton.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import {
  AUDIT_MARKER,
  type AdmissionAuditRecord,
  type AuditRecord,
  type AuditSink,
  type TokenAuditRecord,
} from './record.js';
import { auditRecordJson, withinBytes } from './record-bytes.js';

/**
 * Keys never written to the log, at the top level and one level down (pino's redaction
 * has no recursive wildcard; we never log whole objects, this is the second line).
 */
export const REDACTED_KEYS: readonly string[] = ['data', 'stringData', 'token', 'authorization'];

/** The pino `redact.paths` for `REDACTED_KEYS`, plus request headers. */
export const REDACT_PATHS: readonly string[] = [
  ...REDACTED_KEYS,
  ...REDACTED_KEYS.map((k) => `*.${k}`),
  'req.headers.authorization',
  'headers.authorization',
  'headers.cookie',
];

export interface LoggerOptions {
  /** pino level. Default `info`. */
  level?: string;
  /** Where lines go. Default: stdout. */
  destination?: DestinationStream;
}

/** A JSON logger with the redaction of STYLE.md ("Logging"). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const config = {
    level: options.level ?? 'info',
    base: { service: 'tenant-guard' },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
  };
  return options.destination === undefined ? pino(config) : pino(config, options.destination);
}

/** Keys of an audit record: none of them is redacted, so the record needs no redaction pass. */
type AuditKey = keyof AdmissionAuditRecord | keyof TokenAuditRecord;
type RedactedAuditKey = Extract<AuditKey, 'data' | 'stringData' | 'token' | 'authorization'>;
// A record key that REDACTED_KEYS names would make this a type error (the fast line below skips redaction).
const noRedactedAuditKey: [RedactedAuditKey] extends [never] ? true : never = true;

/** What of a pino logger the audit line needs: its prefix, time, bindings, end and stream. */
interface LineParts {
  readonly prefix: string;
  readonly time: () => string;
  readonly bindings: string;
  readonly end: string;
  readonly stream: DestinationStream;
}

/**
 * The parts of the line pino itself would write for an info line of `logger`, or undefined
 * when the logger changes lines in ways a plain record cannot follow (a mixin, a log
 * formatter, hooks, another message key) or is not a pino logger (then `logger.info`).
 */
function lineParts(logger: Logger): LineParts | undefined {
  const s = pino.symbols;
  const internals = logger as unknown as Record<symbol, unknown>;
  const prefix = (internals[s.lsCacheSym] as Record<number, string> | undefined)?.[
    logger.levels.values.info!
  ];
  const time = internals[s.timeSym];
  const bindings = internals[s.chindingsSym];
  const end = internals[s.endSym];
  const stream = internals[s.streamSym] as DestinationStream | undefined;
  const formatters = internals[s.formattersSym] as { log?: unknown } | undefined;
  const hooks = internals[s.hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  if (
    typeof prefix !== 'string' ||
    typeof time !== 'function' ||
    typeof bindings !== 'string' ||
    typeof end !== 'string' ||
    typeof stream?.write !== 'function' ||
    internals[s.mixinSym] !== undefined ||
    formatters?.log !== undefined ||
    hooks?.logMethod !== undefined ||
    hooks?.streamWrite !== undefined ||
    internals[s.messageKeySym] !== 'msg'
  )
    return undefined;
  return { prefix, time: time as () => string, bindings, end, stream };
}

/**
 * An AuditSink that writes each record as one info line with `"audit": true`. Give it the
 * root logger, not a request's child, so the record's own fields are not written twice.
 *
 * The line is the one `logger.info({ audit: true, ...record }, 'audit <event>')` writes,
 * built with one `JSON.stringify` of the record: pino's per-key pass with the redaction
 * wildcards cost a mutating request more than its policy (no audit key is redacted, above).
 * Every record is held to MAX_AUDIT_RECORD_BYTES here (record-bytes.ts), whoever built it.
 */
export function pinoAuditSink(logger: Logger): AuditSink {
  const parts = noRedactedAuditKey ? lineParts(logger) : undefined;
  if (parts === undefined)
    return {
      write(record: AuditRecord): void {
        logger.info({ [AUDIT_MARKER]: true, ...withinBytes(record) }, `audit ${record.event}`);
      },
    };
  const marker = `,${JSON.stringify(AUDIT_MARKER)}:true,`;
  return {
    write(record: AuditRecord): void {
      if (!logger.isLevelEnabled('info')) return;
      const fields = auditRecordJson(record);
      parts.stream.write(
        `${parts.prefix}${parts.time()}${parts.bindings}${marker}${fields.slice(1, -1)},"msg":${JSON.stringify(`audit ${record.event}`)}${parts.end}`,
      );
    },
  };
}
