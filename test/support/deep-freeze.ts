/**
 * Freezes a JSON value and everything in it, so that a write into it throws (ES modules run
 * in strict mode): what tests give `/mutate` to prove it never edits the request's object.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
