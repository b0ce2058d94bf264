/**
 * The one error class of tenant-guard. Callers branch on `code`, never on the message.
 * Messages never carry a token, a private key or Secret data.
 */
export type ErrorCode =
  | 'ERR_TENANT_INVALID'
  | 'ERR_TENANT_CONFLICT'
  | 'ERR_TENANTS_FILE'
  | 'ERR_SETTINGS_INVALID'
  | 'ERR_ADMISSION_MALFORMED'
  | 'ERR_ADMISSION_INTERNAL'
  | 'ERR_REGISTRY_NOT_SYNCED'
  | 'ERR_BROKER_UNAUTHENTICATED'
  | 'ERR_BROKER_FORBIDDEN'
  | 'ERR_BROKER_UNKNOWN_TARGET'
  | 'ERR_BROKER_SERVER_MISMATCH'
  | 'ERR_BROKER_SERVER_UNBOUND'
  | 'ERR_BROKER_REVIEW_UNAVAILABLE'
  | 'ERR_BROKER_RATE_LIMITED'
  | 'ERR_BROKER_BUSY'
  | 'ERR_BROKER_NO_API'
  | 'ERR_BROKER_BAD_REQUEST'
  | 'ERR_BROKER_NO_SIGNING_KEY'
  | 'ERR_BROKER_INTERNAL'
  | 'ERR_KEYRING_STORE'
  | 'ERR_KEYRING_CONFLICT'
  | 'ERR_KEYRING_UNSAFE'
  | 'ERR_ISSUER_KEYS'
  | 'ERR_CREDENTIAL_TOKEN_FILE'
  | 'ERR_CREDENTIAL_BROKER'
  | 'ERR_CREDENTIAL_USAGE'
  | 'ERR_CREDENTIAL_UNREACHABLE'
  | 'ERR_CREDENTIAL_TLS'
  | 'ERR_CREDENTIAL_REFUSED'
  | 'ERR_CREDENTIAL_TIMEOUT'
  | 'ERR_CREDENTIAL_EXEC_INFO'
  | 'ERR_CREDENTIAL_CACHE'
  | 'ERR_CERTS'
  | 'ERR_TENANT_WATCH'
  | 'ERR_REGISTRY_TOO_LARGE'
  | 'ERR_TENANT_STATUS'
  | 'ERR_TLS_RELOAD'
  | 'ERR_TLS_CERT_VALIDITY'
  | 'ERR_USAGE';

export class TenantGuardError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TenantGuardError';
    this.code = code;
  }
}

/** True when `err` is a TenantGuardError, optionally of the given code. */
export function isTenantGuardError<C extends ErrorCode = ErrorCode>(
  err: unknown,
  code?: C,
): err is TenantGuardError & { readonly code: C } {
  return err instanceof TenantGuardError && (code === undefined || err.code === code);
}

/**
 * The `code` of a Node.js system error (`ENOENT`, `ECONNREFUSED`, ...), if it has one; never
 * its message (which may quote a path or a peer's answer). The one errno reader of the code.
 */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}
