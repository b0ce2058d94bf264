/**
 * `tenant-guard check` on deeply nested input (issue 10 item 1): the same TG-REQ-01 denial
 * as the webhook within what the parser can take, a bad-input exit past it, never a crash.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, tempDir } from '../cli/cli-support.js';

function application(values: string): string {
  return `{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"web","namespace":"team-a"},
"spec":{"project":"team-a","destination":{"name":"k8s-team-a-dev","namespace":"web"},"source":{"repoURL":"https://example.com/r.git","helm":{"valuesObject":${values}}}}}`;
}

function writeTemp(content: string): string {
  const path = join(tempDir(), 'deep.json');
  writeFileSync(path, content);
  return path;
}

const OWNER = ['--user', 'alice', '--groups', 'team-a-admins'];

describe('tenant-guard check on deep input', () => {
  test("200 levels: exit 1 with the webhook's TG-REQ-01 line naming --max-object-depth", async () => {
    const r = await runCli([
      'check',
      '-f',
      writeTemp(application(`${'{"a":'.repeat(200)}1${'}'.repeat(200)}`)),
      ...OWNER,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stdout,
      /\[TG-REQ-01\] object\.spec\.source\.helm\.valuesObject\..*more than 100 levels deep.*--max-object-depth/,
    );
  });

  test('200 levels with --max-object-depth 300: read and judged by the rules', async () => {
    const r = await runCli([
      'check',
      '-f',
      writeTemp(application(`${'{"a":'.repeat(200)}1${'}'.repeat(200)}`)),
      ...OWNER,
      '--max-object-depth',
      '300',
    ]);
    assert.doesNotMatch(r.stdout, /TG-REQ-01/);
    assert.match(r.stdout, /^Application team-a\/web: (allowed|denied)/m);
  });

  test('10,000 levels (what Go accepts): exit 2, bad input, before the YAML parser', async () => {
    const r = await runCli([
      'check',
      '-f',
      writeTemp(application(`${'['.repeat(10_000)}${']'.repeat(10_000)}`)),
      ...OWNER,
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nests about \d+ levels deep; tenant-guard reads at most 100/);
  });
});
