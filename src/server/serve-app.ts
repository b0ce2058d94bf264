/**
 * The express app of `tenant-guard serve`, built from injected parts without listening: the
 * webhook plus every contribution's routers and readiness checks.
 */
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AdmissionPolicy } from '../admission/admit.js';
import { pinoAuditSink } from '../audit/logger.js';
import type { AuditSink } from '../audit/record.js';
import type { AdmissionClientRule } from './admission-client.js';
import type { AdmissionLimits } from '../policy/limits.js';
import type { Settings } from '../settings.js';
import type { RegistryProvider } from '../tenancy/registry.js';
import type { ServeContribution } from './component.js';
import { createMetricsRegistry } from './metrics.js';
import { createWebhookApp } from './webhook-app.js';

export interface ServeAppOptions {
  readonly settings: Settings;
  readonly registry: RegistryProvider;
  readonly logger: Logger;
  /** Default: audit lines through `logger`. */
  readonly audit?: AuditSink;
  /** Default: a new Registry with prom-client's default process metrics. */
  readonly metricsRegistry?: Registry;
  readonly policy?: AdmissionPolicy;
  readonly contributions?: readonly ServeContribution[];
  /** Serve /mutate and /validate. Default true (`--components` without `webhook`: false). */
  readonly admission?: boolean;
  /** How much of a request the webhook reads. Default `DEFAULT_LIMITS`. */
  readonly limits?: AdmissionLimits;
  /** Who may send AdmissionReviews (`--client-ca-file`, `--client-names`); default anyone. */
  readonly admissionClients?: AdmissionClientRule;
}

/** The express app of `serve`: the webhook plus every contribution's routers and checks. */
export function buildServeApp(options: ServeAppOptions): Express {
  const contributions = options.contributions ?? [];
  return createWebhookApp({
    settings: options.settings,
    registry: options.registry,
    logger: options.logger,
    audit: options.audit ?? pinoAuditSink(options.logger),
    metricsRegistry: options.metricsRegistry ?? createMetricsRegistry(),
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    mounts: contributions.flatMap((c) => c.mounts ?? []),
    readiness: contributions.flatMap((c) => c.readiness ?? []),
    admission: options.admission ?? true,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.admissionClients === undefined ? {} : { admissionClients: options.admissionClients }),
  });
}
