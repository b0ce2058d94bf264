/**
 * The pino logger of the server and the audit sink that writes through it. The logger is
 * created once by the command and injected everywhere; nothing here is a singleton.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { AUDIT_MARKER, type AuditRecord, type AuditSink } from './record.js';

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

/**
 * An AuditSink that writes each record as one info line with `"audit": true`. Give it the
 * root logger, not a request's child, so the record's own fields are not written twice.
 */
export function pinoAuditSink(logger: Logger): AuditSink {
  return {
    write(record: AuditRecord): void {
      logger.info({ [AUDIT_MARKER]: true, ...record }, `audit ${record.event}`);
    },
  };
}
