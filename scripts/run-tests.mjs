// Runs every test file under test/ with node's own test runner, TypeScript loaded by tsx.
// Node 20's `--test` takes no globs, so the files are listed here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

// Arguments: substrings of the files to run (all when none), and `--exclude=SUBSTRING`.
const args = process.argv.slice(2);
const excluded = args.filter((a) => a.startsWith('--exclude=')).map((a) => a.slice('--exclude='.length));
const filter = args.filter((a) => !a.startsWith('--exclude='));
const files = findTests('test')
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)))
  .filter((f) => !excluded.some((s) => f.includes(s)))
  .sort();
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
