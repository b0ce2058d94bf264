/**
 * The one doubling wait of tenant-guard: after the first failure in a row `initialMs`, then
 * twice as long after each further one, never more than `maxMs`. Pure; callers add their
 * own jitter when many processes retry the same thing (the Tenant watch, the credential
 * plugin) and none when one writer paces itself (Tenant status, reports).
 *
 * It sits at the root of src/ because the credential plugin, bundled on its own, uses it too.
 */

/** The wait after `failures` failures in a row (1: `initialMs`), at most `maxMs`. */
export function doublingWaitMs(failures: number, initialMs: number, maxMs: number): number {
  // Past 30 doublings every wait is long capped; the bound keeps 2 ** n finite.
  return Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(0, failures - 1), 30));
}
