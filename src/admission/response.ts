/**
 * AdmissionReview responses. A policy denial is `allowed: false` with status code 403 and one
 * line per violation; a patch is a base64 `JSONPatch`; warnings go to `response.warnings`,
 * which kubectl prints.
 * See https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#response
 */
import { ruleReference } from '../policy/rule-catalogue.js';
import { shortWarning } from './warning-text.js';
import { capLines, MAX_DENIAL_LINES, MAX_WARNINGS, moreLine } from '../policy/answer-limits.js';
import { formatViolation, type Violation } from '../policy/types.js';
import type { AdmissionOutcome, PatchOperation } from './admit.js';
import { ADMISSION_API_VERSION, ADMISSION_KIND } from './review.js';

/** The `response` of an AdmissionReview. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  patchType?: 'JSONPatch';
  /** base64 of the JSON Patch. */
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  response: AdmissionResponse;
}

/** Shown while no Tenant registry has been loaded. */
export const NOT_SYNCED_MESSAGE = 'tenant-guard: tenant registry not synced yet; retry in a few seconds';

/**
 * The denial message: the violation lines in order, one per line, at most
 * `MAX_DENIAL_LINES` of them (the last then says how many more), each cut to
 * `MAX_LINE_CHARS`. A 60,000-generator ApplicationSet gets a short answer, not 12 MB.
 */
export function denialMessage(violations: readonly Violation[]): string {
  // Format only what is shown (plus one, so capLines knows there are more), then count the rest.
  const shown = capLines(
    violations.slice(0, MAX_DENIAL_LINES + 1).map(formatViolation),
    MAX_DENIAL_LINES,
    'violations',
  );
  if (violations.length > MAX_DENIAL_LINES) {
    // A line standing for findings past the request's budget counts them all (finding-budget.ts).
    let more = 0;
    for (let i = MAX_DENIAL_LINES - 1; i < violations.length; i++) more += violations[i]?.unlisted ?? 1;
    shown[shown.length - 1] = moreLine(more, 'violations');
  }
  return [...shown, rulesLine(violations)].join('\n');
}

/** The closing line of a denial: where each rule that denied is explained (docs/rules.md). */
export function rulesLine(violations: readonly Violation[]): string {
  const ids = [...new Set(violations.map((v) => v.rule))].slice(0, MAX_DENIAL_LINES);
  return `how to fix: ${ruleReference(ids[0] ?? 'TG-REQ-01')}${ids
    .slice(1)
    .map((id) => `, #${id.toLowerCase()}`)
    .join('')}`;
}

/**
 * At most `MAX_WARNINGS` warnings, each under 120 characters (`shortWarning`: the API server
 * may truncate longer ones); the last says how many more. The audit record keeps them whole.
 * Only what is shown is shortened (plus one, so capLines knows there are more), as
 * `denialMessage` formats only what it shows: a warn-mode tenant's object can hold
 * thousands of relaxed findings.
 */
export function capWarnings(warnings: readonly string[]): string[] {
  const shown = capLines(
    warnings.slice(0, MAX_WARNINGS + 1).map((w) => shortWarning(w)),
    MAX_WARNINGS,
    'warnings',
  );
  if (warnings.length > MAX_WARNINGS + 1)
    shown[shown.length - 1] = moreLine(warnings.length - (MAX_WARNINGS - 1), 'warnings');
  return shown;
}

/** base64 of the JSON text of a patch. */
export function encodePatch(patch: readonly PatchOperation[]): string {
  return Buffer.from(JSON.stringify(patch), 'utf8').toString('base64');
}

function review(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

/** An allowed response, with a patch when it is not empty and warnings when there are any. */
export function allowResponse(
  uid: string,
  options: { patch?: readonly PatchOperation[]; warnings?: readonly string[] } = {},
): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (options.patch !== undefined && options.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = encodePatch(options.patch);
  }
  if (options.warnings !== undefined && options.warnings.length > 0)
    response.warnings = capWarnings(options.warnings);
  return review(response);
}

/** A denial with a status code (403 for policy, 503 while not synced) and message. */
export function denyResponse(
  uid: string,
  code: number,
  message: string,
  warnings: readonly string[] = [],
): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: false, status: { code, message } };
  if (warnings.length > 0) response.warnings = capWarnings(warnings);
  return review(response);
}

/** The AdmissionReview that answers an outcome of `admit`. */
export function outcomeResponse(uid: string, outcome: AdmissionOutcome): AdmissionReviewResponse {
  switch (outcome.type) {
    case 'unhandled':
      return allowResponse(uid);
    case 'not-synced':
      return denyResponse(uid, 503, NOT_SYNCED_MESSAGE);
    case 'malformed':
      return denyResponse(uid, 403, denialMessage(outcome.violations));
    case 'patched':
      return allowResponse(uid, { patch: outcome.patch });
    case 'decided': {
      const { decision } = outcome;
      if (decision.allowed) return allowResponse(uid, { warnings: decision.warnings });
      return denyResponse(uid, 403, denialMessage(decision.violations), decision.warnings);
    }
  }
}
