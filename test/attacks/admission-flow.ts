/**
 * What the API server does with one write, for tests: `/mutate`, the JSON Patch applied,
 * then `/validate` on the patched object. Twice over: through the pure policy functions,
 * and through the real express app with supertest. Shared by the attack catalogue and the
 * HTTP tests under test/server/.
 */
import assert from 'node:assert/strict';
import type { Express } from 'express';
import jsonPatch, { type Operation as PatchOperation } from 'fast-json-patch';
import { Registry } from 'prom-client';
import request from 'supertest';
import { defaultPolicy } from '../../src/admission/admit.js';
import { admissionRequestFor } from '../../src/admission/manifest-request.js';
import { ADMISSION_API_VERSION, ADMISSION_KIND } from '../../src/admission/review.js';
import { createLogger, pinoAuditSink } from '../../src/audit/logger.js';
import { evaluate, guardedKindOf, mutate } from '../../src/policy/evaluate.js';
import { isRecord } from '../../src/json.js';
import type {
  Decision,
  KubeObject,
  Operation,
  PolicyContext,
  PolicyRequest,
  UserInfo,
} from '../../src/policy/types.js';
import { createWebhookApp } from '../../src/server/webhook-app.js';
import type { Settings } from '../../src/settings.js';
import { staticRegistry, type TenantRegistry } from '../../src/tenancy/registry.js';

/** One write as the API server would send it to both webhooks. */
export interface WriteRequest {
  readonly uid: string;
  readonly operation: Operation;
  readonly user: UserInfo;
  /** Absent on DELETE. */
  readonly object?: KubeObject;
  /** Present on UPDATE and DELETE. */
  readonly oldObject?: KubeObject;
  readonly dryRun?: boolean;
}

/** The verdict of `/validate` after `/mutate`, read the same way from both paths. */
export interface FlowResult {
  readonly allowed: boolean;
  /** Rule ids of the denial lines, in order (empty when allowed). */
  readonly rules: string[];
  /** The denial lines (`[TG-..] path ...`); empty when allowed. */
  readonly lines: string[];
  readonly warnings: string[];
  /** The object /validate saw (after the patch); undefined on DELETE. */
  readonly object: KubeObject | undefined;
}

/** The AdmissionReview body the API server would POST for a write, with `object` replaced. */
export function reviewFor(
  write: WriteRequest,
  object: KubeObject | undefined = write.object,
): Record<string, unknown> {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: ADMISSION_KIND,
    request: admissionRequestFor({ ...write, object }),
  };
}

function rulesOfLines(lines: readonly string[]): string[] {
  return lines.map((l) => /^\[([A-Z0-9-]+)\] /.exec(l)?.[1] ?? '(no rule id)');
}

/** The pure path: `mutate`, then `evaluate` on its result. */
export function runPure(write: WriteRequest, context: PolicyContext): FlowResult & { decision: Decision } {
  const request = admissionRequestFor(write);
  const kind = guardedKindOf(request.kind, write.object, write.oldObject);
  assert.ok(kind !== undefined, `${request.kind.kind} is not a kind the webhook guards`);
  const base: PolicyRequest = {
    uid: write.uid,
    kind,
    operation: write.operation,
    namespace: request.namespace,
    name: request.name,
    ...(write.object === undefined ? {} : { object: write.object }),
    ...(write.oldObject === undefined ? {} : { oldObject: write.oldObject }),
    user: write.user,
    dryRun: write.dryRun ?? false,
  };
  const mutated = write.operation === 'DELETE' ? undefined : mutate(base, context).object;
  const object = mutated ?? write.object;
  const decision = evaluate({ ...base, ...(object === undefined ? {} : { object }) }, context);
  const lines = decision.allowed ? [] : decision.violations.map((v) => `[${v.rule}] ${v.message}`);
  return {
    allowed: decision.allowed,
    rules: rulesOfLines(lines),
    lines,
    warnings: decision.warnings,
    object,
    decision,
  };
}

/** The webhook app with the real policy core and a log whose lines the test can read. */
export interface WebhookUnderTest {
  readonly app: Express;
  /** Every log line written so far (JSON text). */
  readonly logLines: string[];
}

/** Builds the real webhook app over a fixed registry. */
export function webhookApp(registry: TenantRegistry, settings: Settings): WebhookUnderTest {
  const logLines: string[] = [];
  const logger = createLogger({
    level: 'info',
    destination: { write: (s: string) => void logLines.push(s) },
  });
  const app = createWebhookApp({
    registry: staticRegistry(registry),
    settings,
    logger,
    audit: pinoAuditSink(logger),
    metricsRegistry: new Registry(),
    policy: defaultPolicy,
  });
  return { app, logLines };
}

/** The `response` of an AdmissionReview answer, checked to be well-formed for `uid`. */
export function admissionResponse(body: unknown, uid: string): Record<string, unknown> {
  assert.ok(isRecord(body), 'the answer is a JSON object');
  assert.equal(body.apiVersion, 'admission.k8s.io/v1');
  assert.equal(body.kind, 'AdmissionReview');
  const response = body.response;
  assert.ok(isRecord(response), 'the answer has a response');
  assert.equal(response.uid, uid, 'the response echoes the request uid');
  assert.equal(typeof response.allowed, 'boolean');
  return response;
}

/** Decodes the base64 JSON Patch of a `/mutate` response (none: empty). */
export function patchOf(response: Record<string, unknown>): PatchOperation[] {
  if (response.patch === undefined) return [];
  assert.equal(response.patchType, 'JSONPatch');
  assert.equal(typeof response.patch, 'string');
  const parsed: unknown = JSON.parse(Buffer.from(String(response.patch), 'base64').toString('utf8'));
  assert.ok(isPatch(parsed), 'the patch is a JSON array of operations with op and path');
  return parsed;
}

function isPatch(value: unknown): value is PatchOperation[] {
  return (
    Array.isArray(value) &&
    value.every((op: unknown) => isRecord(op) && typeof op.op === 'string' && typeof op.path === 'string')
  );
}

/** POSTs one AdmissionReview and returns its checked `response`. */
export async function post(
  app: Express,
  path: '/mutate' | '/validate',
  body: Record<string, unknown>,
  uid: string,
): Promise<Record<string, unknown>> {
  const res = await request(app)
    .post(path)
    .set('Content-Type', 'application/json')
    .send(JSON.stringify(body));
  assert.equal(res.status, 200, `${path} answered HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  return admissionResponse(res.body, uid);
}

/** The HTTP path: POST /mutate, apply its patch with fast-json-patch, POST /validate. */
export async function runHttp(
  write: WriteRequest,
  app: Express,
): Promise<FlowResult & { response: Record<string, unknown>; patch: PatchOperation[] }> {
  const mutateResponse = await post(app, '/mutate', reviewFor(write), write.uid);
  assert.equal(
    mutateResponse.allowed,
    true,
    `/mutate never denies a readable request: ${JSON.stringify(mutateResponse.status)}`,
  );
  const patch = patchOf(mutateResponse);
  if (write.operation === 'DELETE') assert.deepEqual(patch, [], 'DELETE gets no patch');
  const object =
    write.object === undefined || patch.length === 0
      ? write.object
      : jsonPatch.applyPatch(structuredClone(write.object), patch, true, false).newDocument;
  const response = await post(app, '/validate', reviewFor(write, object), write.uid);
  const warnings = Array.isArray(response.warnings) ? response.warnings.map(String) : [];
  if (response.allowed === true)
    return { allowed: true, rules: [], lines: [], warnings, object, response, patch };
  const status = response.status;
  assert.ok(isRecord(status), 'a denial carries a status');
  assert.equal(status.code, 403, 'a policy denial is code 403');
  assert.equal(typeof status.message, 'string');
  const all = String(status.message).split('\n');
  // The last line says where each rule that denied is explained: docs/rules.md#<rule>.
  const fix = all.pop() ?? '';
  const lines = all;
  const rules = rulesOfLines(lines);
  assert.match(
    fix,
    /^how to fix: docs\/rules\.md#tg-[a-z]+-\d+(, #tg-[a-z]+-\d+)*$/,
    'a denial ends with its rule references',
  );
  for (const rule of new Set(rules))
    assert.ok(fix.includes(`#${rule.toLowerCase()}`), `the references name ${rule}`);
  return { allowed: false, rules, lines, warnings, object, response, patch };
}
