/**
 * etcd's bound on one stored object, as the test API server enforces it. etcd refuses a
 * request over `--max-request-bytes` (1.5 MiB by default); the API server passes the error on
 * as a Status without a reason, code 500: `etcdserver: request is too large` (kubectl prints
 * `Error from server: etcdserver: request is too large`). Custom resources are stored as the
 * JSON Go's encoding/json writes, which is longer than JavaScript's for some text: UTF-8
 * bytes, and `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c` and so on (6 bytes each).
 * https://etcd.io/docs/v3.5/dev-guide/limit/
 */
import { ApiStatusError, type StatusBody } from './api-status.js';

/** etcd's default `--max-request-bytes`. */
export const ETCD_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

/**
 * The bytes of `value` as Go's encoding/json writes it (the API server's storage encoding of
 * a custom resource), counted character by character.
 */
export function goJsonBytes(value: unknown): number {
  let bytes = 0;
  for (const ch of JSON.stringify(value)) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '<' || ch === '>' || ch === '&' || cp === 0x2028 || cp === 0x2029) bytes += 6;
    else if (cp < 0x80) bytes += 1;
    else if (cp < 0x800) bytes += 2;
    else if (cp < 0x10000) bytes += 3;
    else bytes += 4;
  }
  return bytes;
}

/** The Status the API server answers when etcd refuses an object for its size. */
export function requestTooLarge(): ApiStatusError {
  // metav1.StatusReasonUnknown is "" and omitted: the body carries no reason.
  const status: StatusBody = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'etcdserver: request is too large',
    code: 500,
  };
  return new ApiStatusError(status);
}
