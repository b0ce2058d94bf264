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
/** Longest pattern (characters), as the CRD's schema says. */
export const MAX_REPO_PATTERN_CHARS = 512;

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
  if (normalized.split('/').some((segment) => segment === '.' || segment === '..'))
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

/** True when `text` matches `pattern`, whose only wildcard is `*` (any run of characters). */
function matchesWithStars(pattern: string, text: string): boolean {
  return matchUnits(pattern, text, '*', (p, t) => p === t);
}

/**
 * Glob matching over units (characters or segments) where `star` matches any run of units:
 * the classic greedy walk that backtracks to the last star only, O(n·m) unit comparisons.
 */
function matchUnits<T>(
  pattern: ArrayLike<T>,
  text: ArrayLike<T>,
  star: T,
  same: (p: T, t: T) => boolean,
): boolean {
  let p = 0;
  let t = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === star) {
      starAt = p;
      resumeAt = t;
      p += 1;
    } else if (p < pattern.length && same(pattern[p] as T, text[t] as T)) {
      p += 1;
      t += 1;
    } else if (starAt >= 0) {
      p = starAt + 1;
      resumeAt += 1;
      t = resumeAt;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === star) p += 1;
  return p === pattern.length;
}

/**
 * True when the repository URL is one the patterns admit. Both are put in normal form; a URL
 * `explainUnplainRepoUrl` refuses matches nothing, and so does a pattern `explainBadRepoPattern`
 * refuses (the registry refuses it first).
 */
export function repoMatches(patterns: readonly string[], url: string): boolean {
  const normalized = normalizeRepoUrl(url);
  if (explainUnplainRepoUrl(normalized) !== undefined) return false;
  const segments = normalized.split('/');
  return patterns.some(
    (pattern) =>
      explainBadRepoPattern(pattern) === undefined &&
      matchUnits(normalizeRepoUrl(pattern).split('/'), segments, '**', matchesWithStars),
  );
}
