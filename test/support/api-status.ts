/**
 * Kubernetes `Status` bodies shaped exactly as the API server writes them
 * (k8s.io/apimachinery/pkg/api/errors), for the test API server.
 */

/** A `metav1.Status` failure body. */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: Array<{ reason?: string; message: string; field?: string }>;
  };
  code: number;
}

/** An error the store throws; the HTTP layer writes `status` with `status.code`. */
export class ApiStatusError extends Error {
  readonly status: StatusBody;

  constructor(status: StatusBody) {
    super(status.message ?? status.reason ?? `status ${status.code}`);
    this.name = 'ApiStatusError';
    this.status = status;
  }
}

/** Identifies a resource in a Status `details`: the API server puts the plural in `kind`. */
export interface StatusTarget {
  name: string;
  group: string;
  plural: string;
}

function details(target: StatusTarget): NonNullable<StatusBody['details']> {
  // The API server omits an empty group (`omitempty`), so core resources carry only name and kind.
  return target.group === ''
    ? { name: target.name, kind: target.plural }
    : { name: target.name, group: target.group, kind: target.plural };
}

function qualified(target: StatusTarget): string {
  return target.group === '' ? target.plural : `${target.plural}.${target.group}`;
}

/** Builds a failure Status. */
export function failure(
  code: number,
  reason: string,
  message: string,
  extra?: Pick<StatusBody, 'details'>,
): StatusBody {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(extra ?? {}),
    code,
  };
}

export function notFound(target: StatusTarget): ApiStatusError {
  return new ApiStatusError(
    failure(404, 'NotFound', `${qualified(target)} "${target.name}" not found`, { details: details(target) }),
  );
}

export function alreadyExists(target: StatusTarget): ApiStatusError {
  return new ApiStatusError(
    failure(409, 'AlreadyExists', `${qualified(target)} "${target.name}" already exists`, {
      details: details(target),
    }),
  );
}

/** The optimistic-concurrency 409 (`errors.NewConflict`). */
export function conflict(target: StatusTarget): ApiStatusError {
  const message = `Operation cannot be fulfilled on ${qualified(target)} "${target.name}": the object has been modified; please apply your changes to the latest version and try again`;
  return new ApiStatusError(failure(409, 'Conflict', message, { details: details(target) }));
}

/** `errors.NewResourceExpired`: a watch from a resourceVersion older than the kept history. */
export function expired(requested: string, oldest: number): StatusBody {
  return failure(410, 'Expired', `too old resource version: ${requested} (${oldest})`);
}

export function badRequest(message: string): ApiStatusError {
  return new ApiStatusError(failure(400, 'BadRequest', message));
}

export function invalid(target: StatusTarget, kind: string, field: string, message: string): ApiStatusError {
  const body = failure(422, 'Invalid', `${kind} "${target.name}" is invalid: ${field}: ${message}`, {
    details: { ...details(target), kind, causes: [{ reason: 'FieldValueInvalid', message, field }] },
  });
  return new ApiStatusError(body);
}

export function methodNotAllowed(): ApiStatusError {
  return new ApiStatusError(
    failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
  );
}

export function unsupportedMediaType(contentType: string): ApiStatusError {
  return new ApiStatusError(
    failure(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType})`,
    ),
  );
}

/** The `Success` Status a core DELETE answers. */
export function deleted(target: StatusTarget, uid: unknown): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { ...details(target), uid },
  };
}
