/**
 * A run of one character taken off either end of request text, in one pass. Pure.
 *
 * Why not a regex: `text.replace(/\/+$/, '')` tries `\/+$` at every `/` of a run and fails
 * at the end of each try when something follows the run: quadratic. A cluster Secret whose
 * `server` held 100,000 slashes before a last letter held the event loop 7 s (a red-team
 * review found the same in `/^-+|:+$/` for elementsYaml tokens).
 */

/** `text` without the run of `char` (one UTF-16 unit) at its end. */
export function trimEndOf(text: string, char: string): string {
  const code = char.charCodeAt(0);
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === code) end -= 1;
  return end === text.length ? text : text.slice(0, end);
}

/** `text` without the run of `char` (one UTF-16 unit) at its start. */
export function trimStartOf(text: string, char: string): string {
  const code = char.charCodeAt(0);
  let start = 0;
  while (start < text.length && text.charCodeAt(start) === code) start += 1;
  return start === 0 ? text : text.slice(start);
}
