import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyPatch, buildPatch } from '../../src/admission/admit.js';
import {
  allowResponse,
  denialMessage,
  denyResponse,
  encodePatch,
  outcomeResponse,
  NOT_SYNCED_MESSAGE,
} from '../../src/admission/response.js';
import { violation, type Decision, type PolicyRequest } from '../../src/policy/types.js';
import { MAX_DENIAL_LINES } from '../../src/policy/answer-limits.js';

const REQUEST: PolicyRequest = {
  uid: 'u1',
  kind: 'Application',
  operation: 'CREATE',
  namespace: 'team-a',
  name: 'web',
  object: {},
  user: { username: 'alice', groups: [] },
  dryRun: false,
};
const SUMMARY = { tenant: 'team-a', enforcement: 'enforce', role: 'human' } as const;

describe('JSON Patch', () => {
  test('buildPatch adds only what the edit added, and applyPatch reproduces the edit', () => {
    const original = {
      metadata: { name: 'a', labels: { x: '1' } },
      spec: { generators: [{ clusters: {} }] },
    };
    const edited = structuredClone(original);
    (edited.metadata.labels as Record<string, string>)['tenantguard.dev/tenant'] = 'team-a';
    (edited.spec.generators[0] as Record<string, unknown>).clusters = {
      selector: { matchLabels: { 'tenantguard.dev/tenant': 'team-a' } },
    };
    const patch = buildPatch(original, edited);
    assert.deepEqual(patch, [
      {
        op: 'add',
        path: '/spec/generators/0/clusters/selector',
        value: { matchLabels: { 'tenantguard.dev/tenant': 'team-a' } },
      },
      { op: 'add', path: '/metadata/labels/tenantguard.dev~1tenant', value: 'team-a' },
    ]);
    assert.deepEqual(applyPatch(original, patch), edited);
    assert.deepEqual(original.metadata.labels, { x: '1' }, 'applyPatch works on a copy');
  });

  test('encodePatch is base64 of the JSON text', () => {
    const patch = [{ op: 'add' as const, path: '/a', value: 'é' }];
    assert.equal(
      Buffer.from(encodePatch(patch), 'base64').toString('utf8'),
      '[{"op":"add","path":"/a","value":"é"}]',
    );
  });
});

describe('responses', () => {
  test('allowResponse leaves out an empty patch and empty warnings', () => {
    assert.deepEqual(allowResponse('u1', { patch: [], warnings: [] }), {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u1', allowed: true },
    });
  });

  test('allowResponse with a patch sets patchType JSONPatch', () => {
    const { response } = allowResponse('u1', { patch: [{ op: 'add', path: '/x', value: 1 }] });
    assert.equal(response.patchType, 'JSONPatch');
    assert.equal(response.patch, Buffer.from('[{"op":"add","path":"/x","value":1}]').toString('base64'));
  });

  test('denyResponse carries the code and message', () => {
    assert.deepEqual(denyResponse('u1', 403, 'no', ['w']).response, {
      uid: 'u1',
      allowed: false,
      status: { code: 403, message: 'no' },
      warnings: ['w'],
    });
  });

  test('denialMessage is one line per violation, rule id first, in the given order, then where each rule is explained', () => {
    const lines = denialMessage([
      violation('TG-OWN-03', 'metadata.namespace', '"team-a": user "bob" is not an owner of tenant "team-a"'),
      violation('TG-APP-02', 'spec.destination.name', '"in-cluster" is the control plane'),
    ]);
    assert.equal(
      lines,
      '[TG-OWN-03] metadata.namespace "team-a": user "bob" is not an owner of tenant "team-a"\n[TG-APP-02] spec.destination.name "in-cluster" is the control plane\nhow to fix: docs/rules.md#tg-own-03, #tg-app-02',
    );
  });

  test('a denial past its lines counts the findings a budget line stands for, not lines', () => {
    // A request builds 100 findings of a rule and one line for the rest (finding-budget.ts).
    const built = Array.from({ length: 100 }, (_, i) => violation('TG-AS-04', `spec.x[${i}]`, 'foreign'));
    const rest = { ...violation('TG-AS-04', '', '... and 4900 more findings of TG-AS-04'), unlisted: 4_900 };
    const lines = denialMessage([...built, rest]).split('\n');
    assert.equal(lines.length, MAX_DENIAL_LINES + 1);
    const shownFindings = MAX_DENIAL_LINES - 1;
    assert.match(
      lines[MAX_DENIAL_LINES - 1] ?? '',
      new RegExp(`^\\.\\.\\. and ${5_000 - shownFindings} more violations `),
    );
  });

  const deniedDecision: Decision = {
    allowed: false,
    violations: [violation('TG-APP-01', 'spec.project', '"x" is not allowed')],
    warnings: ['careful'],
    audited: [],
    summary: SUMMARY,
  };
  const cases: Array<[string, Parameters<typeof outcomeResponse>[1], Record<string, unknown>]> = [
    ['unhandled', { type: 'unhandled' }, { uid: 'u1', allowed: true }],
    [
      'not synced',
      { type: 'not-synced', kind: 'Application' },
      { uid: 'u1', allowed: false, status: { code: 503, message: NOT_SYNCED_MESSAGE } },
    ],
    [
      'malformed',
      { type: 'malformed', kind: undefined, violations: [violation('TG-REQ-01', 'object', 'is a string')] },
      {
        uid: 'u1',
        allowed: false,
        status: { code: 403, message: '[TG-REQ-01] object is a string\nhow to fix: docs/rules.md#tg-req-01' },
      },
    ],
    [
      'patched, nothing added',
      { type: 'patched', request: REQUEST, patch: [], tenant: 'team-a', enforcement: 'enforce' },
      { uid: 'u1', allowed: true },
    ],
    [
      'denied',
      { type: 'decided', request: REQUEST, decision: deniedDecision },
      {
        uid: 'u1',
        allowed: false,
        status: {
          code: 403,
          message: '[TG-APP-01] spec.project "x" is not allowed\nhow to fix: docs/rules.md#tg-app-01',
        },
        warnings: ['careful'],
      },
    ],
    [
      'allowed with warnings',
      {
        type: 'decided',
        request: REQUEST,
        decision: { allowed: true, warnings: ['w1'], audited: [], summary: SUMMARY },
      },
      { uid: 'u1', allowed: true, warnings: ['w1'] },
    ],
  ];
  for (const [name, outcome, expected] of cases) {
    test(`outcomeResponse: ${name}`, () => {
      assert.deepEqual(outcomeResponse('u1', outcome).response, expected);
    });
  }
});
