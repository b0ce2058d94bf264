/**
 * The version of tenant-guard, as `package.json` says (a test keeps the two equal). A
 * constant rather than a read of `package.json`, so the bundled plugin and server carry it.
 */
export const VERSION = '0.1.0';
