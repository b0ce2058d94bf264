/**
 * The attack catalogue (issue 2): each manifest under test/attacks/manifests/ is one way for
 * tenant A to reach tenant B's cluster or the control plane. Each write goes through
 * /mutate and then /validate, as the API server sends it: once through the pure policy
 * functions and once through the webhook app over HTTP. Secrets go once with `data` only and
 * once with `stringData`, and must be decided alike.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { isRecord } from '../../src/json.js';
import type { PolicyContext } from '../../src/policy/types.js';
import { resolveSettings } from '../../src/settings.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { runHttp, runPure, webhookApp, type FlowResult, type WriteRequest } from './admission-flow.js';
import {
  ATTACK_TENANTS,
  loadAttacks,
  secretVariants,
  type Attack,
  type AttackStep,
  type Expectation,
} from './catalogue.js';

const context: PolicyContext = {
  registry: parseTenantsYaml(readFileSync(ATTACK_TENANTS, 'utf8'), 'test/attacks/tenants.yaml', 'argocd'),
  // The platform's own clusters use exec profiles (TG-CS-04); the twins of cs-17..20 match them.
  settings: resolveSettings({
    execProfiles: readFileSync(new URL('./exec-profiles.json', import.meta.url), 'utf8'),
  }),
};
const attacks = loadAttacks();

/** Values that must never show up in a response or a log line: Secret configs and tokens. */
function secretValues(step: AttackStep): string[] {
  const out: string[] = [];
  for (const o of [step.object, step.oldObject]) {
    const stringData = o?.stringData;
    if (!isRecord(stringData)) continue;
    for (const [key, value] of Object.entries(stringData)) {
      if (key !== 'config' || typeof value !== 'string') continue;
      out.push(value, Buffer.from(value, 'utf8').toString('base64'));
      for (const token of value.match(/attacker-static-token[\w-]*/g) ?? []) out.push(token);
    }
  }
  return out;
}

function describeResult(result: FlowResult): string {
  return result.allowed
    ? `allowed; warnings: ${JSON.stringify(result.warnings)}`
    : `denied:\n${result.lines.join('\n')}`;
}

/** Asserts a result meets the step's expectation. */
function assertExpected(result: FlowResult, expect: Expectation, where: string): void {
  if (expect.allowed) {
    assert.equal(result.allowed, true, `${where}: expected allowed, got ${describeResult(result)}`);
    for (const rule of expect.warnings) {
      assert.ok(
        result.warnings.some((w) => w.startsWith(`[${rule}] `)),
        `${where}: expected a ${rule} warning, got ${JSON.stringify(result.warnings)}`,
      );
    }
    return;
  }
  assert.equal(
    result.allowed,
    false,
    `${where}: expected a denial with ${expect.rules.join(', ')}, got ${describeResult(result)}`,
  );
  for (const rule of expect.rules) {
    assert.ok(
      result.rules.includes(rule),
      `${where}: expected ${rule} among the denial lines, got ${describeResult(result)}`,
    );
  }
  for (const line of result.lines)
    assert.match(line, /^\[TG-[A-Z]+-\d\d\] \S/, `${where}: every denial line starts with its rule id`);
}

function ruleSet(result: FlowResult): string {
  return [...new Set(result.rules)].sort().join(',');
}

function stepName(attack: Attack, index: number): string {
  return attack.steps.length === 1 ? attack.file : `${attack.file} step ${index + 1}`;
}

function uidFor(attackIndex: number, stepIndex: number): string {
  return `a77ac000-0000-4000-8000-${String(attackIndex).padStart(6, '0')}${String(stepIndex).padStart(6, '0')}`;
}

describe('attack catalogue: the manifests', () => {
  test('holds at least 25 attacks, each opening with what it tries and why it would work without tenant-guard', () => {
    assert.ok(attacks.length >= 25, `only ${attacks.length} attacks`);
    for (const attack of attacks) {
      assert.match(attack.header, /^Attack: \S/m, `${attack.file}: header names the attack`);
      assert.match(attack.header, /^Tries: \S/m, `${attack.file}: header says what it tries`);
      assert.match(
        attack.header,
        /^Without tenant-guard: \S/m,
        `${attack.file}: header says why it would work without us`,
      );
      assert.match(attack.header, /^Expected: \S/m, `${attack.file}: header names the expected verdict`);
    }
  });

  test('every attack ends in a denial naming its rule ids, and no two attacks send the same object', () => {
    const seen = new Map<string, string>();
    for (const attack of attacks) {
      const last = attack.steps.at(-1);
      assert.ok(
        last !== undefined && !last.expect.allowed,
        `${attack.file}: the last write is expected to be denied`,
      );
      const key = JSON.stringify(attack.steps.map((s) => [s.operation, s.object, s.oldObject]));
      assert.equal(seen.get(key), undefined, `${attack.file} repeats ${seen.get(key) ?? ''}`);
      seen.set(key, attack.file);
    }
  });

  test('the catalogue covers every family of attack the issue lists', () => {
    const text = attacks.map((a) => JSON.stringify(a.steps)).join('\n');
    const families: Array<[string, RegExp]> = [
      ['nested matrix', /"matrix":\{"generators":\[\{"matrix"/],
      ['nested merge', /"merge":\{[^}]*"generators"/],
      ['list elements', /"elements":\[/],
      ['elementsYaml', /"elementsYaml"/],
      ['destination.name', /"destination":\{"name":"k8s-team-b/],
      ['templatePatch', /"templatePatch"/],
      ['templated project', /"project":"\{\{/],
      ['static credentials', /bearerTo/],
      ['foreign exec', /"command\\":\\"\/bin\/sh/],
      ['DELETE', /"operation":"DELETE"/],
      ['AppProject', /"kind":"AppProject"/],
      ['kubernetes.default.svc.cluster.local', /kubernetes\.default\.svc\.cluster\.local/],
      ['percent-encoding', /%2E/],
      ['warn mode', /team-w-admins/],
      ['in-cluster', /"in-cluster"/],
    ];
    for (const [family, pattern] of families)
      assert.match(text, pattern, `no attack of the family "${family}"`);
  });
});

describe('dry runs', () => {
  // The catalogue used to run every step again with dryRun: true and compare; the core never
  // read dryRun, so that could not fail. What makes a dry run get the verdict of a real one is
  // that the policy core does not look at the field: this fails as soon as a rule does.
  test('the policy core never reads request.dryRun (a dry run is decided like a real request)', () => {
    const dir = new URL('../../src/policy/', import.meta.url);
    const reads = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) =>
        readFileSync(new URL(f, dir), 'utf8')
          .split('\n')
          .map((line, i) => ({ at: `src/policy/${f}:${i + 1}`, line })),
      )
      .filter(
        ({ at, line }) =>
          /\bdryRun\b/.test(line) &&
          !(at.startsWith('src/policy/types.ts') && /^\s*readonly dryRun: boolean;/.test(line)),
      )
      .map(({ at }) => at);
    assert.deepEqual(reads, []);
  });
});

describe('attack catalogue: pure policy functions (mutate, then evaluate)', () => {
  attacks.forEach((attack, a) => {
    attack.steps.forEach((step, s) => {
      test(stepName(attack, s), { todo: step.knownHole }, () => {
        const results = secretVariants(step, uidFor(a, s)).map(({ variant, write }) => {
          const where = `${stepName(attack, s)} (${variant})`;
          const result = runPure(write, context);
          assertExpected(result, step.expect, where);
          return { variant, result };
        });
        const [first, ...rest] = results;
        for (const other of rest) {
          assert.equal(
            ruleSet(other.result),
            ruleSet(first?.result ?? other.result),
            `${stepName(attack, s)}: ${other.variant} is decided like ${first?.variant ?? ''}`,
          );
        }
      });
    });
  });
});

describe('attack catalogue: HTTP (POST /mutate, JSON patch applied, POST /validate)', () => {
  const { app, logLines } = webhookApp(context.registry, context.settings);
  attacks.forEach((attack, a) => {
    attack.steps.forEach((step, s) => {
      test(stepName(attack, s), { todo: step.knownHole }, async () => {
        const variants = secretVariants(step, uidFor(a, s));
        const sets: string[] = [];
        for (const { variant, write } of variants) {
          const where = `${stepName(attack, s)} over HTTP (${variant})`;
          const logStart = logLines.length;
          const result = await runHttp(write, app);
          assertExpected(result, step.expect, where);
          const pure = runPure(write, context);
          assert.deepEqual(
            result.rules,
            pure.rules,
            `${where}: HTTP and the pure functions agree line for line`,
          );
          sets.push(ruleSet(result));
          assertNoSecretsLeak(step, result, logLines.slice(logStart), where);
          if (!result.allowed) assertAudited(logLines.slice(logStart), write, where);
        }
        assert.equal(
          new Set(sets).size,
          1,
          `${stepName(attack, s)}: data only and stringData are decided alike: ${sets.join(' vs ')}`,
        );
      });
    });
  });
});

function assertNoSecretsLeak(step: AttackStep, result: FlowResult, lines: string[], where: string): void {
  const text = `${lines.join('')}\n${result.lines.join('\n')}\n${result.warnings.join('\n')}`;
  for (const secret of secretValues(step))
    assert.ok(!text.includes(secret), `${where}: Secret data leaked into a response or log line`);
}

function assertAudited(lines: string[], write: WriteRequest, where: string): void {
  const records = lines
    .map((l): unknown => JSON.parse(l))
    .filter((r) => isRecord(r) && r.audit === true && r.event === 'denied' && r.uid === write.uid);
  assert.equal(records.length, 1, `${where}: one audit record for the denial`);
}
