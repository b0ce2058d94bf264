/**
 * The audit record of SPEC section 8 and the sink it goes to. One JSON line per denial,
 * warning, mutation and relaxed (audited) verdict, and per issued or refused token, marked
 * `"audit": true`. A record never carries an object, a token or Secret data: only names,
 * rule ids, paths and the policy's messages.
 */
import { capLine } from '../policy/answer-limits.js';
import type { RequesterRole, Violation } from '../policy/types.js';
import type { EnforcementMode } from '../tenancy/tenant.js';

/** One rule line of a record. */
export interface AuditRule {
  readonly id: string;
  readonly path: string;
  readonly message: string;
}

/** What happened to an admission request. */
export type AdmissionAuditEvent = 'denied' | 'warned' | 'informational' | 'mutated' | 'audited';

/** What happened to a token request at the broker. */
export type TokenAuditEvent = 'issued' | 'refused';

export interface AdmissionAuditRecord {
  readonly event: AdmissionAuditEvent;
  readonly endpoint: 'mutate' | 'validate';
  readonly uid: string;
  /** The guarded kind (`ClusterSecret` for an Argo CD cluster Secret) or the request's kind. */
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly operation: string;
  readonly user: string;
  readonly groups: readonly string[];
  /** null for a platform object or when the tenant could not be told. */
  readonly tenant: string | null;
  /** The denying rules (`denied`), or the rules a mode or the platform-admin bypass relaxed. */
  readonly rules: readonly AuditRule[];
  readonly dryRun: boolean;
  readonly enforcement: EnforcementMode | null;
  readonly role?: RequesterRole;
  /**
   * Admission warnings, each up to 1,000 characters (the answer sends each under 120; events
   * `warned`, `informational`); shorter when the record's byte budget cuts them.
   */
  readonly warnings?: readonly string[];
  /** Relaxed rules beside the denying ones of a `denied` record. */
  readonly relaxed?: readonly AuditRule[];
  /** JSON Pointer paths a mutation added (event `mutated`); never their values. */
  readonly changes?: readonly string[];
  /** Why, when no rule says it (e.g. the registry is not synced). */
  readonly reason?: string;
  /**
   * How many items each list left off: a record keeps at most `MAX_AUDIT_ITEMS` rules,
   * relaxed rules, changes and groups, and `MAX_WARNINGS` warnings (src/policy/answer-limits.ts),
   * so one request cannot write megabytes of log. Absent when nothing was left off.
   */
  readonly omitted?: {
    readonly groups?: number;
    readonly rules?: number;
    readonly relaxed?: number;
    readonly warnings?: number;
    readonly changes?: number;
    /**
     * Texts (paths, messages, warnings, names) cut to keep the record's JSON within
     * MAX_AUDIT_RECORD_BYTES (record-bytes.ts); each says how much it left off.
     */
    readonly cut?: number;
  };
}

/** A token event of the broker (SPEC section 8). */
export interface TokenAuditRecord {
  readonly event: TokenAuditEvent;
  /** Broker target (cluster name). */
  readonly target: string;
  /** The caller's user name from the TokenReview, when it got that far. */
  readonly caller: string | null;
  /** The caller's pod (`namespace/name`) from the token's pod binding. */
  readonly pod: string | null;
  readonly jti?: string;
  /** Expiry of the issued token, seconds since the epoch. */
  readonly exp?: number;
  readonly tenant?: string | null;
  /** Error code of a refusal (e.g. `ERR_BROKER_FORBIDDEN`). */
  readonly code?: string;
  readonly reason?: string;
  /** The network address a refused request came from. */
  readonly source?: string;
  /**
   * Refusals of this source answered since its last line but not written, past its budget of
   * refusal lines (the broker's `REFUSAL_LINES_*`); every one is in the requests metric.
   */
  readonly suppressed?: number;
  /** Texts cut to keep the record's JSON within MAX_AUDIT_RECORD_BYTES (record-bytes.ts). */
  readonly omitted?: { readonly cut?: number };
}

export type AuditRecord = AdmissionAuditRecord | TokenAuditRecord;

/** Where audit records go. The webhook and the broker share one. */
export interface AuditSink {
  write(record: AuditRecord): void;
}

/** The marker every audit line carries, so `tenant-guard audit` can pick them from a log. */
export const AUDIT_MARKER = 'audit';

/** Rule lines of a record from violations, each message cut to `MAX_LINE_CHARS`. */
export function auditRules(violations: readonly Violation[]): AuditRule[] {
  return violations.map((v) => ({ id: v.rule, path: capLine(v.path), message: capLine(v.message) }));
}
