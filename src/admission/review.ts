/**
 * AdmissionReview parsing: untrusted JSON in, typed data out. Two layers, because they fail
 * differently:
 * - the envelope (`parseAdmissionReview`): without an `admission.k8s.io/v1` AdmissionReview
 *   and a request `uid` there is nothing to answer, so the caller returns HTTP 400;
 * - the request's content (`readAdmissionRequest`, `narrowPolicyRequest`): a wrongly typed
 *   field is answered with a well-formed denial under rule TG-REQ-01, naming the field.
 *
 * See https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request
 */
import { TenantGuardError } from '../errors.js';
import type { GroupVersionKind } from '../policy/evaluate.js';
import { describeJsonType as typeOf, isRecord } from '../json.js';
import { objectShapeProblems } from '../policy/object-shape.js';
import {
  violation,
  type GuardedKind,
  type KubeObject,
  type Operation,
  type PolicyRequest,
  type UserInfo,
  type Violation,
} from '../policy/types.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';

const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/**
 * An AdmissionRequest read field by field. Fields that were wrongly typed hold a safe
 * fallback (for logs and the audit record) and are listed in `problems`.
 */
export interface AdmissionRequest {
  readonly uid: string;
  /** undefined when `request.kind` is not a group/version/kind. */
  readonly kind: GroupVersionKind | undefined;
  /** undefined when not one of CREATE, UPDATE, DELETE, CONNECT. */
  readonly operation: Operation | undefined;
  readonly namespace: string;
  readonly name: string;
  readonly subResource: string;
  readonly user: UserInfo;
  /** As sent: not yet known to be an object. */
  readonly object: unknown;
  readonly oldObject: unknown;
  readonly dryRun: boolean;
  /** TG-REQ-01 violations found while reading. */
  readonly problems: readonly Violation[];
}

/** The envelope of an AdmissionReview: enough to answer it. */
export interface AdmissionEnvelope {
  readonly uid: string;
  readonly request: Record<string, unknown>;
}

function malformed(message: string): TenantGuardError {
  return new TenantGuardError('ERR_ADMISSION_MALFORMED', message);
}

/**
 * Checks that a parsed body is an `admission.k8s.io/v1` AdmissionReview with a request and
 * a request uid.
 * @throws TenantGuardError ERR_ADMISSION_MALFORMED (answer HTTP 400 with its message).
 */
export function parseAdmissionReview(body: unknown): AdmissionEnvelope {
  if (!isRecord(body))
    throw malformed('body is not a JSON object; expected an admission.k8s.io/v1 AdmissionReview');
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    throw malformed(
      `apiVersion ${describe(body.apiVersion)} is not ${ADMISSION_API_VERSION}; set admissionReviewVersions: ["v1"] in the webhook configuration`,
    );
  }
  if (body.kind !== ADMISSION_KIND) throw malformed(`kind ${describe(body.kind)} is not ${ADMISSION_KIND}`);
  const request = body.request;
  if (!isRecord(request)) throw malformed('request is missing or not an object');
  if (typeof request.uid !== 'string' || request.uid === '')
    throw malformed('request.uid is missing or not a non-empty string');
  return { uid: request.uid, request };
}

/** A short, safe rendering of an unexpected value's type for messages (never the value itself). */
function describe(value: unknown): string {
  if (value === undefined) return '(missing)';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return `(${typeOf(value)})`;
}

function readGvk(value: unknown): GroupVersionKind | undefined {
  if (!isRecord(value)) return undefined;
  const { group, version, kind } = value;
  if (typeof group !== 'string' || typeof version !== 'string' || typeof kind !== 'string' || kind === '')
    return undefined;
  return { group, version, kind };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function readUser(value: unknown, problems: Violation[]): UserInfo {
  if (!isRecord(value)) {
    problems.push(
      violation(
        'TG-REQ-01',
        'request.userInfo',
        `is ${typeOf(value)}; expected an object with username and groups`,
      ),
    );
    return { username: '', groups: [] };
  }
  const username = typeof value.username === 'string' ? value.username : '';
  if (typeof value.username !== 'string')
    problems.push(
      violation('TG-REQ-01', 'request.userInfo.username', `is ${typeOf(value.username)}; expected a string`),
    );
  let groups: string[] = [];
  if (isStringArray(value.groups)) groups = value.groups;
  else if (value.groups !== undefined && value.groups !== null) {
    problems.push(
      violation(
        'TG-REQ-01',
        'request.userInfo.groups',
        `is ${typeOf(value.groups)}; expected a list of strings`,
      ),
    );
  }
  return typeof value.uid === 'string' ? { username, groups, uid: value.uid } : { username, groups };
}

function optionalString(request: Record<string, unknown>, key: string, problems: Violation[]): string {
  const value = request[key];
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  problems.push(violation('TG-REQ-01', `request.${key}`, `is ${typeOf(value)}; expected a string`));
  return '';
}

/**
 * Reads the fields of an AdmissionRequest. Never throws: what is wrongly typed is listed
 * in `problems` (rule TG-REQ-01) and read as a neutral fallback.
 */
export function readAdmissionRequest(envelope: AdmissionEnvelope): AdmissionRequest {
  const { request } = envelope;
  const problems: Violation[] = [];
  const kind = readGvk(request.kind);
  if (kind === undefined)
    problems.push(violation('TG-REQ-01', 'request.kind', 'is not a {group, version, kind} object'));
  const operation = OPERATIONS.find((op) => op === request.operation);
  if (operation === undefined) {
    problems.push(
      violation(
        'TG-REQ-01',
        'request.operation',
        `${describe(request.operation)} is not one of ${OPERATIONS.join(', ')}`,
      ),
    );
  }
  let dryRun = false;
  if (typeof request.dryRun === 'boolean') dryRun = request.dryRun;
  else if (request.dryRun !== undefined && request.dryRun !== null)
    problems.push(
      violation('TG-REQ-01', 'request.dryRun', `is ${typeOf(request.dryRun)}; expected a boolean`),
    );
  return {
    uid: envelope.uid,
    kind,
    operation,
    namespace: optionalString(request, 'namespace', problems),
    name: optionalString(request, 'name', problems),
    subResource: optionalString(request, 'subResource', problems),
    user: readUser(request.userInfo, problems),
    object: request.object ?? undefined,
    oldObject: request.oldObject ?? undefined,
    dryRun,
    problems,
  };
}

function metadataName(value: unknown): string | undefined {
  if (!isRecord(value) || !isRecord(value.metadata)) return undefined;
  const name = value.metadata.name;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/**
 * Turns a read AdmissionRequest of a guarded kind into the PolicyRequest the policy core
 * takes, or lists every TG-REQ-01 problem: wrongly typed request fields, `object` and
 * `oldObject` that are not objects (or are missing where the operation needs them), and
 * wrongly typed metadata, labels, `spec` or Secret data.
 */
export function narrowPolicyRequest(
  request: AdmissionRequest,
  kind: GuardedKind,
): { ok: true; request: PolicyRequest } | { ok: false; violations: Violation[] } {
  const problems = [...request.problems];
  const { operation } = request;
  const needsObject = operation === 'CREATE' || operation === 'UPDATE';
  const needsOld = operation === 'UPDATE' || operation === 'DELETE';
  const check = (value: unknown, at: 'object' | 'oldObject', needed: boolean) => {
    if (value === undefined) {
      if (needed)
        problems.push(
          violation(
            'TG-REQ-01',
            at,
            `is missing from the ${operation ?? ''} request; the API server always sends it`,
          ),
        );
      return;
    }
    problems.push(...objectShapeProblems(value, at, kind));
  };
  check(request.object, 'object', needsObject);
  check(request.oldObject, 'oldObject', needsOld);
  if (problems.length > 0 || operation === undefined) return { ok: false, violations: problems };
  const object: KubeObject | undefined = isRecord(request.object) ? request.object : undefined;
  const oldObject: KubeObject | undefined = isRecord(request.oldObject) ? request.oldObject : undefined;
  const name = request.name !== '' ? request.name : (metadataName(object) ?? metadataName(oldObject) ?? '');
  return {
    ok: true,
    request: {
      uid: request.uid,
      kind,
      operation,
      namespace: request.namespace,
      name,
      ...(object === undefined ? {} : { object }),
      ...(oldObject === undefined ? {} : { oldObject }),
      user: request.user,
      dryRun: request.dryRun,
    },
  };
}
