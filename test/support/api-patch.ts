/**
 * PATCH bodies the test API server understands: JSON merge patch (RFC 7386), JSON patch
 * (RFC 6902, through fast-json-patch) and strategic merge patch, which is applied as a merge
 * patch (lists are replaced, not merged by key: enough for the objects our code patches).
 */
import jsonPatch from 'fast-json-patch';
import { badRequest, unsupportedMediaType } from './api-status.js';
import type { KubeJson } from './api-store.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7386: null deletes, objects merge recursively, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * Applies a PATCH body of the given content type to `current`.
 * @throws ApiStatusError 415 for another content type, 400 for a body that does not apply.
 */
export function applyPatch(current: KubeJson, contentType: string, body: unknown): KubeJson {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') {
    if (!isObject(body)) throw badRequest('a merge patch must be a JSON object');
    const merged = mergePatch(current, body);
    if (!isObject(merged)) throw badRequest('the patched object is not a JSON object');
    return merged;
  }
  if (type === 'application/json-patch+json') {
    if (!Array.isArray(body)) throw badRequest('a JSON patch must be an array of operations');
    try {
      const result = jsonPatch.applyPatch(
        structuredClone(current),
        body as jsonPatch.Operation[],
        true,
        false,
      );
      if (!isObject(result.newDocument)) throw badRequest('the patched object is not a JSON object');
      return result.newDocument;
    } catch (err) {
      throw badRequest(
        `the JSON patch does not apply: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      );
    }
  }
  throw unsupportedMediaType(contentType);
}
