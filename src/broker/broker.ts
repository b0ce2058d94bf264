/**
 * The broker's one operation, "give this caller a token for that target", as a function from
 * an Authorization header and a target name to an outcome, with the audit record (SPEC
 * section 8) written for every issue and refusal. The HTTP layer (router.ts) only renders
 * outcomes.
 */
import type { Logger } from 'pino';
import type { AuditSink, TokenAuditRecord } from '../audit/record.js';
import { isTenantGuardError, type ErrorCode } from '../errors.js';
import type { RegistryProvider } from '../tenancy/registry.js';
import type { Tenant, TenantCluster } from '../tenancy/tenant.js';
import { MAX_TOKEN_LENGTH, parseBearer } from './callers/bearer.js';
import { NO_BROKER_METRICS, type BrokerMetrics } from './broker-metrics.js';
import {
  authorizeCaller,
  RetryLaterError,
  type Caller,
  type CallerAuthenticator,
  type CallerPolicy,
} from './callers/caller-auth.js';
import { cacheControl, discoveryDocument, issuerPath } from './discovery.js';
import type { KeyManager } from './keys/key-manager.js';
import type { CallerRateLimiter } from './callers/rate-limiter.js';
import { RefusalLines, SWEEP_MS } from './refusal-lines.js';
import { unrefInterval, type Every } from '../every.js';
import { signToken } from './keys/signer.js';
import type { Clock } from '../clock.js';
import { isRegisteredServerSpelling } from '../policy/secret-server.js';
// The bound the exec plugin holds the server it sends to: a longer one is refused unread.
import { MAX_SERVER_CHARS } from '../credential/exec-credential.js';

/** The codes the broker refuses a token with: every ERR_BROKER_* and the registry's not-synced. */
export type BrokerErrorCode = Extract<ErrorCode, `ERR_BROKER_${string}`> | 'ERR_REGISTRY_NOT_SYNCED';

/**
 * HTTP status of each refusal code. `satisfies` makes a broker code added to ErrorCode without
 * a status here a compile error, instead of a silent 500.
 */
export const BROKER_HTTP_STATUS = {
  ERR_BROKER_BAD_REQUEST: 400,
  ERR_BROKER_UNAUTHENTICATED: 401,
  ERR_BROKER_FORBIDDEN: 403,
  ERR_BROKER_UNKNOWN_TARGET: 404,
  ERR_BROKER_SERVER_MISMATCH: 403,
  ERR_BROKER_SERVER_UNBOUND: 400,
  ERR_BROKER_RATE_LIMITED: 429,
  ERR_BROKER_BUSY: 503,
  ERR_BROKER_INTERNAL: 500,
  ERR_BROKER_REVIEW_UNAVAILABLE: 503,
  ERR_BROKER_NO_API: 503,
  ERR_BROKER_NO_SIGNING_KEY: 503,
  ERR_REGISTRY_NOT_SYNCED: 503,
} as const satisfies Record<BrokerErrorCode, number>;

/** What the broker answers: a token, or a refusal with its HTTP status and one-line reason. */
export type TokenOutcome =
  | {
      ok: true;
      token: string;
      jti: string;
      kid: string;
      /** epoch ms */ expiresAt: number;
      /** the token's `aud` */ audience: string;
    }
  | { ok: false; status: number; code: ErrorCode; message: string; retryAfterSeconds?: number };

/** What `Broker` is built from (see `createBroker` for the wiring). */
export interface BrokerParts {
  /** Byte for byte the issuer of discovery and of every token. */
  issuer: string;
  registry: RegistryProvider;
  policy: CallerPolicy;
  /** Undefined when no Kubernetes API is configured: token requests get 503. */
  authenticator: CallerAuthenticator | undefined;
  keys: KeyManager;
  limiter: CallerRateLimiter;
  /** For our own failures. */
  logger: Logger;
  /** Where the token audit records (SPEC section 8) go. */
  audit: AuditSink;
  metrics?: BrokerMetrics;
  jwksMaxAgeSeconds: number;
  /**
   * Issue tokens to requests that name no server (a cluster Secret without
   * `provideClusterInfo`, during a migration; ADR 0011). Default false: refused.
   */
  allowRequestsWithoutServer?: boolean;
  now?: Clock;
  /** The refusal sweep's timer. Default an unref'd setInterval. */
  every?: Every;
  /** Extra cleanup on `close()`. */
  onClose?: () => void;
}

export { REFUSAL_LINES_BURST, REFUSAL_LINES_PER_SECOND } from './refusal-lines.js';

/** See the file comment. */
export class Broker {
  /** Refusal audit lines within a budget per source or caller (refusal-lines.ts). */
  private readonly refusals: RefusalLines;
  private readonly stopRefusalSweep: () => void;
  readonly issuer: string;
  /** Path the discovery document and JWKS are served under ('' or e.g. '/broker'). */
  readonly issuerPath: string;
  private readonly now: Clock;
  private readonly metrics: BrokerMetrics;

  constructor(private readonly parts: BrokerParts) {
    this.issuer = parts.issuer;
    this.issuerPath = issuerPath(parts.issuer);
    this.now = parts.now ?? Date.now;
    this.metrics = parts.metrics ?? NO_BROKER_METRICS;
    this.refusals = new RefusalLines((record) => this.record(record), this.now);
    // What waits of a refusal budget is written once the budget allows, not only with its
    // next refusal: a client that stops leaves no refusal unaccounted.
    this.stopRefusalSweep = (parts.every ?? unrefInterval)(SWEEP_MS, () => this.refusals.sweep());
  }

  /** Whether token requests can be served at all (an API for TokenReviews is configured). */
  get hasKubernetesApi(): boolean {
    return this.parts.authenticator !== undefined;
  }

  /** The discovery document and its Cache-Control. */
  discovery(): { body: Record<string, unknown>; cacheControl: string } {
    return {
      body: discoveryDocument(this.issuer, this.parts.keys.algorithms()),
      cacheControl: cacheControl(this.parts.jwksMaxAgeSeconds),
    };
  }

  /** The JWKS and its Cache-Control. */
  jwks(): { body: { keys: unknown[] }; cacheControl: string } {
    return {
      body: this.parts.keys.jwks(this.now()),
      cacheControl: cacheControl(this.parts.jwksMaxAgeSeconds),
    };
  }

  /** The key ring (for tests and diagnostics). */
  get keyManager(): KeyManager {
    return this.parts.keys;
  }

  /** Stops the timers (the key ring's, the refusal sweep) and writes the refusal lines that wait. */
  close(): void {
    this.stopRefusalSweep();
    this.refusals.close();
    this.parts.keys.close();
    this.parts.onClose?.();
  }

  /**
   * Issues a token for `target` to the caller whose token is in `authorization`, or says why
   * not. `source` is the caller's network address (the per-source limit on unauthenticated
   * work): required, so that no route can skip that limit by leaving it out. `server` is the
   * URL the token will be presented to (the plugin's `KUBERNETES_EXEC_INFO`): a token is
   * issued only for the target's registered server, compared as TG-CS-02 compares a cluster
   * Secret's (ADR 0011); undefined is refused unless `allowRequestsWithoutServer`, and
   * anything but one string (a repeated query parameter) is refused. Never throws; never
   * puts a token in a message or a log line.
   */
  async issue(
    authorization: string | undefined,
    target: string | undefined,
    source: string,
    server?: unknown,
  ): Promise<TokenOutcome> {
    const who: { caller: string | null; pod: string | null; tenant?: string } = { caller: null, pod: null };
    const refuse = (
      code: BrokerErrorCode,
      message: string,
      extra: { retryAfterSeconds?: number } = {},
    ): TokenOutcome => {
      const status = BROKER_HTTP_STATUS[code];
      // An identified caller's refusals have a budget of their own: cheap requests without a
      // token from the same address must not spend it (a red-team review hid a tenant
      // account's 12 forbidden requests so). Identified callers are few: each cost a review.
      this.refusals.refused(who.caller === null ? `source ${source}` : `caller ${who.caller}`, {
        event: 'refused',
        target: target ?? '',
        ...who,
        code,
        reason: message,
        source,
      });
      // The tenant only once the caller is authorized for the target: /metrics needs no
      // authentication, and a series for an unauthenticated guess told which cluster names
      // exist and whose they are (a red-team review), which the 401/403 answers hide.
      this.metrics.tokenRequest(code, who.tenant);
      return { ok: false, status, code, message, ...extra };
    };
    try {
      const authenticator = this.parts.authenticator;
      if (authenticator === undefined)
        return refuse(
          'ERR_BROKER_NO_API',
          'caller authentication needs a Kubernetes API (TokenReview); run in a cluster or give --kubeconfig',
        );
      const bearer = parseBearer(authorization);
      if (!bearer.ok) return refuse('ERR_BROKER_UNAUTHENTICATED', BEARER_PROBLEM[bearer.reason]);
      // A blank name names no target: 400, not a 404 as if a cluster " " might exist.
      if (target === undefined || target.trim() === '')
        return refuse('ERR_BROKER_BAD_REQUEST', 'no target named; give the target cluster name');
      if (target.length > MAX_TARGET_CHARS)
        return refuse(
          'ERR_BROKER_BAD_REQUEST',
          `the target name has ${target.length} characters; a target name has at most ${MAX_TARGET_CHARS}`,
        );
      const serverProblem = this.serverProblem(server);
      if (serverProblem !== undefined) return refuse(serverProblem.code, serverProblem.message);

      let caller: Caller;
      try {
        caller = await authenticator.authenticate(bearer.token, source);
      } catch (err) {
        if (err instanceof RetryLaterError)
          return refuse(err.code, err.message, { retryAfterSeconds: err.retryAfterSeconds });
        if (
          isTenantGuardError(err, 'ERR_BROKER_UNAUTHENTICATED') ||
          isTenantGuardError(err, 'ERR_BROKER_REVIEW_UNAVAILABLE')
        )
          return refuse(err.code, err.message);
        throw err;
      }
      who.caller = caller.username;
      who.pod = podOf(caller);

      const registry = this.parts.registry.current();
      // The target's own extra callers count only once it is known; a caller allowed nowhere
      // gets 403 whether or not the target exists, so targets cannot be enumerated.
      const owned = registry?.clusterByName(target);
      const decision = authorizeCaller(
        caller,
        target,
        this.parts.policy,
        owned === undefined ? [] : targetCallers(owned.tenant, owned.cluster),
      );
      if (!decision.allowed) return refuse(decision.code, decision.message);
      authenticator.vouch(caller);
      const rate = this.parts.limiter.take(rateKey(caller), this.now());
      if (!rate.allowed)
        return refuse(
          'ERR_BROKER_RATE_LIMITED',
          `too many token requests from ${who.pod ?? `"${caller.username}"`}; retry in ${rate.retryAfterSeconds}s`,
          { retryAfterSeconds: rate.retryAfterSeconds },
        );

      if (registry === undefined)
        return refuse('ERR_REGISTRY_NOT_SYNCED', 'the tenant registry is not loaded yet; retry shortly');
      if (owned === undefined)
        return refuse(
          'ERR_BROKER_UNKNOWN_TARGET',
          `unknown target "${target}"; it is no cluster of any tenant`,
        );
      who.tenant = owned.tenant.name;
      // After authorization: only a caller allowed the target learns where it is registered.
      if (typeof server === 'string' && !isRegisteredServerSpelling(server, owned.cluster.server))
        return refuse(
          'ERR_BROKER_SERVER_MISMATCH',
          `the token for target "${target}" would be presented to ${JSON.stringify(server)}, which is not the server registered for "${target}"; the cluster Secret is stale (its server changed in the registry): re-apply it so that tenant-guard writes the registered server`,
        );

      const now = this.now();
      const signing = this.parts.keys.signingKey(now);
      if (signing.key === undefined)
        return refuse('ERR_BROKER_NO_SIGNING_KEY', `no signing key: ${signing.reason}; retry shortly`);
      const { cluster } = owned;
      const signed = await signToken(
        signing.key,
        {
          issuer: this.issuer,
          subject: cluster.subject,
          audience: cluster.audience,
          groups: cluster.groups,
          ttlSeconds: cluster.tokenTTLSeconds,
          caller: caller.username,
        },
        now,
      );
      this.record({ event: 'issued', target, ...who, jti: signed.jti, exp: signed.exp });
      this.metrics.tokenRequest('issued', who.tenant);
      this.parts.logger.debug(
        { target, jti: signed.jti, kid: signed.kid, audience: cluster.audience, subject: cluster.subject },
        'token signed',
      );
      return {
        ok: true,
        token: signed.token,
        jti: signed.jti,
        kid: signed.kid,
        expiresAt: signed.exp * 1000,
        audience: cluster.audience,
      };
    } catch (err) {
      this.parts.logger.error(
        {
          err: {
            code: isTenantGuardError(err) ? err.code : 'ERR_BROKER_INTERNAL',
            message: err instanceof Error ? err.message : String(err),
          },
        },
        'token request failed',
      );
      return refuse('ERR_BROKER_INTERNAL', 'internal error; see the broker log');
    }
  }

  /** Why the request's `server` cannot be judged (absent and not allowed, repeated, too long), if it cannot. */
  private serverProblem(server: unknown): { code: BrokerErrorCode; message: string } | undefined {
    if (server === undefined) {
      if (this.parts.allowRequestsWithoutServer === true) return undefined;
      return {
        code: 'ERR_BROKER_SERVER_UNBOUND',
        message:
          'no server named: the token would not be bound to the server it is presented to; give the cluster Secret provideClusterInfo: true (re-apply it; Argo CD 3.5 or later), or start the broker with --allow-requests-without-server during the migration',
      };
    }
    if (typeof server !== 'string' || server.trim() === '')
      return { code: 'ERR_BROKER_BAD_REQUEST', message: 'give the server the token is for once, as a URL' };
    if (server.length > MAX_SERVER_CHARS)
      return {
        code: 'ERR_BROKER_BAD_REQUEST',
        message: `the server URL has ${server.length} characters; a server URL has at most ${MAX_SERVER_CHARS}`,
      };
    return undefined;
  }

  private record(record: TokenAuditRecord): void {
    try {
      this.parts.audit.write(record);
    } catch (err) {
      this.parts.logger.error(
        { err: { message: err instanceof Error ? err.message : String(err) } },
        'audit record not written',
      );
    }
  }
}

/** Characters a target name may have before it is looked up (a cluster name has at most 63). */
const MAX_TARGET_CHARS = 253;

const BEARER_PROBLEM: Record<'missing' | 'malformed' | 'too-long', string> = {
  missing: 'no bearer token; send Authorization: Bearer <caller token>',
  malformed: 'malformed Authorization header; send Authorization: Bearer <caller token>',
  'too-long': `caller token longer than ${MAX_TOKEN_LENGTH} characters; send the projected ServiceAccount token`,
};

/** The callers a Tenant and its cluster add for that cluster's tokens (SPEC section 3). */
export function targetCallers(tenant: Tenant, cluster: TenantCluster): readonly string[] {
  return [...(tenant.allowedCallers ?? []), ...(cluster.allowedCallers ?? [])];
}

/**
 * The key of a caller's rate bucket: its pod name from the TokenReview (so controller
 * shards, one ServiceAccount in several pods, each have their own; a StatefulSet pod keeps
 * its bucket across a restart), else its user name.
 */
export function rateKey(caller: Caller): string {
  return caller.pod === undefined ? `user:${caller.username}` : `pod:${caller.username}/${caller.pod.name}`;
}

/** `namespace/pod` of a pod-bound ServiceAccount caller (`system:serviceaccount:NS:NAME`), or the pod name alone. */
function podOf(caller: Caller): string | null {
  if (caller.pod === undefined) return null;
  const ns = /^system:serviceaccount:([^:]+):/.exec(caller.username)?.[1];
  return ns === undefined ? caller.pod.name : `${ns}/${caller.pod.name}`;
}
