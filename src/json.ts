/**
 * The one narrowing helper for untrusted JSON that every layer uses. It sits at the root so
 * that no layer has to import another (policy, tenancy, broker, audit) to get it.
 */

/** True for a plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
