/**
 * Fakes for the webhook app tests: a log that keeps its lines, a fake policy, tenants, and
 * AdmissionReview bodies.
 */
import { Registry } from 'prom-client';
import type { Express } from 'express';
import type { AdmissionPolicy } from '../../src/admission/admit.js';
import { createLogger, pinoAuditSink } from '../../src/audit/logger.js';
import type { Decision, Violation } from '../../src/policy/types.js';
import { DEFAULT_SETTINGS, type Settings } from '../../src/settings.js';
import { staticRegistry, type RegistryProvider, type TenantRegistry } from '../../src/tenancy/registry.js';
import { createWebhookApp, type WebhookAppDeps } from '../../src/server/webhook-app.js';
import { admissionReview, argoKind, loadTenants } from '../support/policy-fixtures.js';

export function settings(): Settings {
  return structuredClone({ ...DEFAULT_SETTINGS });
}

/** The webhook tests' tenants (test/fixtures/tenants/team-b-warn.yaml). */
export function tenants(): TenantRegistry {
  return loadTenants('team-b-warn');
}

/** A log whose JSON lines the test can read. */
export interface CapturedLog {
  readonly lines: string[];
  /** Parsed lines. */
  records(): Array<Record<string, unknown>>;
  /** Parsed lines with `audit: true`. */
  audits(): Array<Record<string, unknown>>;
  text(): string;
}

export function capturedLogger(level = 'debug') {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (s: string) => void lines.push(s) } });
  const log: CapturedLog = {
    lines,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    audits: () => log.records().filter((r) => r.audit === true),
    text: () => lines.join(''),
  };
  return { logger, log };
}

export const SUMMARY = { tenant: 'team-a', enforcement: 'enforce', role: 'human' } as const;

export function allowed(extra: Partial<{ warnings: string[]; audited: Violation[] }> = {}): Decision {
  return { allowed: true, warnings: extra.warnings ?? [], audited: extra.audited ?? [], summary: SUMMARY };
}

export function denied(violations: Violation[], warnings: string[] = []): Decision {
  return { allowed: false, violations, warnings, audited: [], summary: SUMMARY };
}

/** A policy that guards ApplicationSets only and allows everything, unless overridden. */
export function fakePolicy(overrides: Partial<AdmissionPolicy> = {}): AdmissionPolicy {
  return {
    guardedKindOf: (gvk) =>
      gvk.group === 'argoproj.io' && gvk.kind === 'ApplicationSet' ? 'ApplicationSet' : undefined,
    evaluate: () => allowed(),
    mutate: () => ({ object: undefined, tenant: undefined }),
    ...overrides,
  };
}

export interface AppUnderTest {
  readonly app: Express;
  readonly log: CapturedLog;
  readonly metricsRegistry: Registry;
}

/** The app with fakes; `registry: undefined` means "not synced". */
export function buildApp(
  options: Partial<Omit<WebhookAppDeps, 'registry'>> & {
    registry?: RegistryProvider;
    unsynced?: boolean;
  } = {},
): AppUnderTest {
  const { logger, log } = capturedLogger();
  const metricsRegistry = new Registry();
  const registry =
    options.unsynced === true
      ? { current: () => undefined }
      : (options.registry ?? staticRegistry(tenants()));
  const app = createWebhookApp({
    settings: settings(),
    logger,
    audit: pinoAuditSink(logger),
    metricsRegistry,
    policy: fakePolicy(),
    ...options,
    registry,
  });
  return { app, log, metricsRegistry };
}

export const APPLICATION_SET = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'ApplicationSet',
  metadata: { name: 'guestbook', namespace: 'team-a' },
  spec: {
    generators: [{ clusters: {} }],
    template: { metadata: { name: '{{.name}}' }, spec: { project: 'team-a' } },
  },
};

/** An AdmissionReview body; `request` fields override the defaults (an ApplicationSet CREATE by alice). */
export function reviewBody(request: Record<string, unknown> = {}): Record<string, unknown> {
  return admissionReview({
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    kind: argoKind('ApplicationSet'),
    resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'applicationsets' },
    namespace: 'team-a',
    name: 'guestbook',
    operation: 'CREATE',
    userInfo: { username: 'alice', groups: ['team-a-admins', 'system:authenticated'] },
    object: structuredClone(APPLICATION_SET),
    dryRun: false,
    ...request,
  });
}

/** Decodes a response's base64 JSON Patch. */
export function decodePatch(patch: unknown): unknown {
  if (typeof patch !== 'string') throw new Error(`patch is ${typeof patch}, not a base64 string`);
  return JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
}
