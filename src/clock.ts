/**
 * The one clock type of tenant-guard: milliseconds since the epoch, like `Date.now`. Every
 * component that reads the time takes one (default `Date.now`), so tests inject theirs.
 */
export type Clock = () => number;
