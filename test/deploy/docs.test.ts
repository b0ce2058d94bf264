import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { brokerFlags } from '../../src/broker/options.js';
import { buildProgram } from '../../src/cli/main.js';
import { RELAXABLE_RULES } from '../../src/policy/types.js';
import { settingFlags } from '../../src/settings.js';
import { runCli } from '../cli/cli-support.js';
import { kustomizeBuild } from './manifest-checks.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DOCS = ['install.md', 'upgrade.md', 'onboarding.md', 'audit.md', 'settings.md', 'requirements.md'];
const read = (name: string): string => readFileSync(join(root, 'docs', name), 'utf8');

/** Files under `dir` whose name matches `pattern`, recursively. */
function filesUnder(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path, pattern) : pattern.test(entry) ? [path] : [];
  });
}

function commandOptions(name: string): string[] {
  const sink = { write: () => true };
  const program = buildProgram(
    { stdout: sink, stderr: sink, stdin: process.stdin, env: {}, cwd: root },
    () => undefined,
  );
  const command = program.commands.find((c) => c.name() === name);
  assert.ok(command !== undefined, `tenant-guard ${name} exists`);
  return command.options.map((o) => o.long ?? '').filter((l) => l !== '' && l !== '--help');
}

describe('docs/', () => {
  test('install, upgrade, onboarding, audit, settings and requirements are there', () => {
    for (const name of DOCS) assert.ok(existsSync(join(root, 'docs', name)), `docs/${name}`);
  });

  test('settings.md documents every setting, serve and broker flag, with its environment variable', () => {
    const settings = read('settings.md');
    const undocumented: string[] = [];
    for (const s of Object.values(settingFlags))
      for (const word of [`--${s.flag}\``, s.env]) if (!settings.includes(word)) undocumented.push(word);
    for (const f of brokerFlags)
      for (const word of [`--${f.flag}\``, f.env]) if (!settings.includes(word)) undocumented.push(word);
    for (const flag of [...commandOptions('serve'), ...commandOptions('certs')])
      if (!settings.includes(`\`${flag}\``)) undocumented.push(flag);
    assert.deepEqual(undocumented, []);
  });

  test('every flag and environment variable the Deployments use is documented', () => {
    const settings = read('settings.md');
    const built = kustomizeBuild(join(root, 'webhook-config'));
    const containers = built
      .filter((o) => o.kind === 'Deployment')
      .flatMap((d) => d.spec.template.spec.containers);
    const used = new Set<string>();
    for (const c of containers) {
      for (const arg of c.args ?? [])
        if (String(arg).startsWith('--')) used.add(String(arg).split('=')[0] ?? '');
      for (const e of c.env ?? []) if (String(e.name).startsWith('TG_')) used.add(String(e.name));
    }
    assert.ok(used.size > 5);
    assert.deepEqual(
      [...used].filter((u) => !settings.includes(u.startsWith('--') ? `\`${u}\`` : u)),
      [],
    );
  });

  test('relative links and repository paths named in the docs exist', () => {
    const broken: string[] = [];
    for (const name of DOCS) {
      const text = read(name);
      for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1] ?? '';
        if (!/^https?:/.test(target) && !existsSync(join(root, 'docs', target)))
          broken.push(`${name}: ${target}`);
      }
      for (const m of text.matchAll(/`((?:webhook-config|src|docs|scripts)\/[\w./-]+)`/g)) {
        if (!existsSync(join(root, m[1] ?? ''))) broken.push(`${name}: ${m[1]}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  test("no doc points the cluster at the local run's certificate, and the Secret has one recipe", () => {
    // certs/ holds what `npm start` made for 127.0.0.1 (signed by another CA); the cluster's
    // pair is certs/cluster/, whose tenant-guard-tls.yaml `tenant-guard certs` writes.
    const texts: { name: string; text: string }[] = [
      ...readdirSync(join(root, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => ({ name: `docs/${f}`, text: read(f) })),
      ...filesUnder(join(root, 'webhook-config'), /\.(md|ya?ml)$/).map((f) => ({
        name: relative(root, f),
        text: readFileSync(f, 'utf8'),
      })),
      // The README's "Try it" is the local run; the rest of it is not.
      {
        name: 'README.md',
        text: readFileSync(join(root, 'README.md'), 'utf8').replace(/## Try it\n[\s\S]*?(?=\n## )/, ''),
      },
    ];
    const found = texts.flatMap(({ name, text }) =>
      [
        ...text.matchAll(
          /\bcerts\/(?:tls\.crt|tls\.key|ca\.pem)\b|create secret (?:tls|generic) tenant-guard-tls\b/g,
        ),
      ].map((m) => `${name}: ${m[0]}`),
    );
    assert.deepEqual(found, []);
    assert.ok(texts.length > 10);
    assert.match(read('install.md'), /kubectl apply -f certs\/cluster\/tenant-guard-tls\.yaml/);
  });

  test("the README's denial line is one `check` prints for the denied example", async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const line = /^ {4}(\[TG-[A-Z]+-\d+\] .*)$/m.exec(readme.split('## Commands')[0] ?? '')?.[1];
    assert.ok(line !== undefined, 'the README shows a denial line');
    const out = await runCli([
      'check',
      '-f',
      'webhook-config/examples/applicationset-denied.yaml',
      '--user',
      'alice',
      '--groups',
      'team-a-admins',
    ]);
    assert.equal(out.code, 1);
    assert.ok(
      out.stdout.split('\n').some((l) => l.trim() === line),
      `${line}\nnot in:\n${out.stdout}`,
    );
  });

  test("the example Tenants' comment on warn names exactly the rules warn relaxes", () => {
    const text = readFileSync(join(root, 'webhook-config', 'examples', 'tenants.yaml'), 'utf8');
    const comment = /^ {2}# warn:[\s\S]*?\n {2}enforcement: warn$/m.exec(text)?.[0] ?? '';
    const relaxed = /answer with kubectl warnings/.test(comment)
      ? [...(comment.split('answer with')[0] ?? '').matchAll(/TG-[A-Z]+-\d+/g)].map((m) => m[0])
      : [];
    assert.deepEqual(relaxed.sort(), [...RELAXABLE_RULES].sort());
  });
});
