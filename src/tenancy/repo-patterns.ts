/**
 * A Tenant's `spec.sourceRepos`: the repositories (Git, Helm, OCI) its Applications and
 * ApplicationSets may fetch, as patterns in the spelling of an AppProject's `sourceRepos`.
 * Pure.
 *
 * Both a pattern and a repository URL are compared in Argo CD's normal form
 * (util/git NormalizeGitURL): trimmed, lower-cased, `user@host:path` as `user@host/path`,
 * `ssh://` and one trailing `.git` dropped. Then, `/`-separated segment by segment, `*`
 * matches any run of characters within a segment and a `**` segment any number of segments.
 *
 * What Argo CD would fetch from elsewhere than it reads is refused, not matched: a URL with
 * percent-encoding, a backslash, a query, a fragment, white space or a `.`/`..` segment
 * (Git's HTTP client resolves `team-a/../team-b/x` to team-b's repository, which
 * `team-a/**` would have matched), a `;` (a Tomcat-based server, Artifactory or Bitbucket,
 * drops `;params` from a segment and then resolves `..;`) or a character past ASCII (a
 * server normalising Unicode reads fullwidth dots as `..`; a host is written in punycode). Patterns allow `*` and whole-segment `**` only (no `?`,
 * classes, braces or `!` exclusions), so what a pattern admits is plain to read.
 */

/** Longest repository URL read (characters); a longer one is refused. */
export const MAX_REPO_URL_CHARS = 2_048;

const SSH_URL = /^(ssh:\/\/)?([^/:]*?)@[^@]+$/;

/** Argo CD's normal form of a repository URL (see above). */
export function normalizeRepoUrl(url: string): string {
  let repo = url.trim().toLowerCase();
  if (SSH_URL.test(repo) && !repo.startsWith('ssh://')) repo = `ssh://${repo.replace(':', '/')}`;
  if (repo.endsWith('.git')) repo = repo.slice(0, -'.git'.length);
  return repo.startsWith('ssh://') ? repo.slice('ssh://'.length) : repo;
}

// eslint-disable-next-line no-control-regex -- control characters are what is refused
const UNPLAIN = /[%\\?#;\s\u0000-\u001f\u007f-\uffff]/;
/** A `.` or `..` segment. */
const DOT_SEGMENT = /(?:^|\/)\.{1,2}(?:\/|$)/;

/**
 * Why a repository URL (in normal form) cannot be matched, or undefined when it can: it is
 * too long, or it would reach another repository than it spells.
 */
export function explainUnplainRepoUrl(normalized: string): string | undefined {
  if (normalized === '') return 'is empty';
  if (normalized.length > MAX_REPO_URL_CHARS)
    return `is ${normalized.length} characters long; at most ${MAX_REPO_URL_CHARS} are read`;
  if (UNPLAIN.test(normalized))
    return 'holds percent-encoding, a backslash, a query, a fragment, a ";", white space or a character past ASCII; spell the repository URL plainly (a host in punycode)';
  if (DOT_SEGMENT.test(normalized))
    return 'holds a "." or ".." segment, which Git resolves to another repository; spell the repository URL plainly';
  return undefined;
}

/** Why a `spec.sourceRepos` entry is no pattern, or undefined when it is one. */
export function explainBadRepoPattern(pattern: string): string | undefined {
  const normalized = normalizeRepoUrl(pattern);
  if (normalized === '') return 'is empty';
  if (/[[\]{}!]/.test(normalized))
    return 'holds [, ], {, } or !; only * (within a segment) and ** (a whole segment) are wildcards here';
  const unplain = explainUnplainRepoUrl(normalized);
  if (unplain !== undefined) return unplain;
  if (normalized.split('/').some((segment) => segment.includes('**') && segment !== '**'))
    return 'holds ** inside a segment; use ** as a whole segment (https://git.example.com/team-a/**)';
  return undefined;
}

/**
 * Glob matching where a star matches any run of units: the classic greedy walk that
 * backtracks to the last star only, O(n·m) unit comparisons. Written twice, for characters
 * and for segments, so that each stays monomorphic (a generic walk took ~0.7 µs a URL).
 */
function matchesWithStars(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      starAt = p;
      resumeAt = t;
      p += 1;
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p += 1;
      t += 1;
    } else if (starAt >= 0) {
      p = starAt + 1;
      resumeAt += 1;
      t = resumeAt;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p += 1;
  return p === pattern.length;
}

/** The same walk over segments, where a `**` segment matches any run of segments. */
function segmentsMatch(pattern: readonly string[], segments: readonly string[]): boolean {
  let p = 0;
  let t = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (t < segments.length) {
    const unit = pattern[p];
    if (unit === '**') {
      starAt = p;
      resumeAt = t;
      p += 1;
    } else if (unit !== undefined && segmentMatches(unit, segments[t] as string)) {
      p += 1;
      t += 1;
    } else if (starAt >= 0) {
      p = starAt + 1;
      resumeAt += 1;
      t = resumeAt;
    } else return false;
  }
  while (pattern[p] === '**') p += 1;
  return p === pattern.length;
}

/** A pattern in normal form, split into segments; `**` segments and `*` within them kept. */
type CompiledPattern = readonly string[];

/** Compiled patterns by list: a Tenant's list is immutable, and judged at every request. */
const COMPILED = new WeakMap<readonly string[], readonly CompiledPattern[]>();

/** The patterns the registry admits, in normal form and split (a refused one is left out). */
function compiled(patterns: readonly string[]): readonly CompiledPattern[] {
  let out = COMPILED.get(patterns);
  if (out === undefined) {
    out = patterns
      .filter((pattern) => explainBadRepoPattern(pattern) === undefined)
      .map((pattern) => normalizeRepoUrl(pattern).split('/'));
    COMPILED.set(patterns, out);
  }
  return out;
}

/** One segment against one pattern segment: equal, or a glob with `*`. */
function segmentMatches(pattern: string, segment: string): boolean {
  return pattern.includes('*') ? matchesWithStars(pattern, segment) : pattern === segment;
}

/** What the patterns say of a repository URL: admitted, not admitted, or not plain (and why). */
export type RepoVerdict = 'admitted' | 'not admitted' | { readonly unplain: string };

/**
 * What the patterns say of the repository URL. Both are put in normal form; a URL
 * `explainUnplainRepoUrl` refuses is admitted by nothing, and a pattern `explainBadRepoPattern`
 * refuses admits nothing (the registry refuses it first). Patterns are compiled once per list.
 */
export function judgeRepoUrl(patterns: readonly string[], url: string): RepoVerdict {
  const normalized = normalizeRepoUrl(url);
  const unplain = explainUnplainRepoUrl(normalized);
  if (unplain !== undefined) return { unplain };
  const segments = normalized.split('/');
  return compiled(patterns).some((pattern) => segmentsMatch(pattern, segments)) ? 'admitted' : 'not admitted';
}

/** True when the patterns admit the repository URL (`judgeRepoUrl`). */
export function repoMatches(patterns: readonly string[], url: string): boolean {
  return judgeRepoUrl(patterns, url) === 'admitted';
}
