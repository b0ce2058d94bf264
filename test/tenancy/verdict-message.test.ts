/**
 * The verdict message bound (a red-team review, F5): a Tenant refused for 20,000 lost
 * claims got a 5.5 MiB status and a 2.75 MiB log line. Every message about a Tenant is now
 * made bounded (the first few items named, the rest counted) and held to one cap in the
 * status, its condition, the log line, the Event and the CRD schema.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTenantGuardError } from '../../src/errors.js';
import { describeChange, type RegistryChange } from '../../src/tenancy/registry-changes.js';
import { buildRegistry } from '../../src/tenancy/registry.js';
import { tenantCrd } from '../../src/tenancy/tenant-crd.js';
import { tenantEvent } from '../../src/tenancy/tenant-events.js';
import { desiredStatus, outcomeOf } from '../../src/tenancy/tenant-status.js';
import { parseTenant } from '../../src/tenancy/tenant.js';
import {
  capMessage,
  formatCount,
  MAX_VERDICT_MESSAGE_CHARS,
  NAMED_ITEMS,
  nameFirstAndCount,
  quoteValue,
} from '../../src/tenancy/verdict-message.js';

const CAP = MAX_VERDICT_MESSAGE_CHARS;

function tenantOf(
  name: string,
  created: string,
  spec: { namespaces?: string[]; clusters?: Array<{ name: string; server: string }> },
): ReturnType<typeof parseTenant> {
  return parseTenant(
    {
      apiVersion: 'tenantguard.dev/v1alpha1',
      kind: 'Tenant',
      metadata: { name, creationTimestamp: created },
      spec: {
        owners: { groups: [`${name}-admins`] },
        namespaces: spec.namespaces ?? [name],
        projects: [name],
        clusters: spec.clusters ?? [{ name: `${name}-dev`, server: `https://${name}-dev.example.com` }],
      },
    },
    { source: 'test', argocdNamespace: 'argocd' },
  );
}

describe('verdict messages are bounded where they are made', () => {
  test('a copy of a Tenant with 20,000 namespaces: the first claims named, the rest counted, within the cap', () => {
    // The schema now admits 256 namespaces (F6); the registry's bound must not depend on it.
    const namespaces = Array.from({ length: 20_000 }, (_, i) => `ns-${i}`);
    const { rejections } = buildRegistry([
      { ...tenantOf('team-a', '2025-01-01T00:00:00Z', {}), namespaces },
      { ...tenantOf('team-b', '2025-01-02T00:00:00Z', {}), namespaces },
    ]);
    const message = rejections[0]?.message ?? '';
    assert.equal(rejections[0]?.reason, 'NamespaceConflict');
    assert.ok(message.length <= CAP, `${message.length} characters`);
    const named = message.split('; ').filter((p) => p.startsWith('spec.'));
    assert.deepEqual(
      named.map((p) => p.split(':')[0]),
      namespaces.slice(0, NAMED_ITEMS).map((_, i) => `spec.namespaces[${i}]`),
    );
    assert.ok(
      message.endsWith(
        `… and ${formatCount(namespaces.length - NAMED_ITEMS)} more namespaces held by tenant "team-a"`,
      ),
      message,
    );
  });

  test('claims lost to several tenants are counted by kind and holder', () => {
    const { rejections } = buildRegistry([
      tenantOf('a', '2025-01-01T00:00:00Z', { namespaces: ['n1', 'n2', 'n3', 'n4', 'n5'] }),
      tenantOf('c', '2025-01-02T00:00:00Z', {
        clusters: [{ name: 'c-dev', server: 'https://c.example.com' }],
      }),
      tenantOf('b', '2025-01-03T00:00:00Z', {
        namespaces: ['n1', 'n2', 'n3', 'n4', 'n5'],
        clusters: [{ name: 'c-dev', server: 'https://c.example.com' }],
      }),
    ]);
    const message = rejections.find((r) => r.tenant === 'b')?.message ?? '';
    // Cluster claims come first (name, server, audience, subject), then namespaces.
    assert.ok(
      message.endsWith('… and 1 more subject held by tenant "c", 5 more namespaces held by tenant "a"'),
      message,
    );
  });

  test('a first item longer than the cap is cut, and the count of the rest is kept', () => {
    const item = (text: string) => ({ text, noun: ['x', 'xs'] as const, where: 'held by tenant "t"' });
    const message = nameFirstAndCount([item('y'.repeat(5000)), item('z'), item('z')], { named: 1 });
    assert.ok(message.length <= CAP, `${message.length}`);
    assert.ok(message.startsWith('yyy'));
    assert.ok(message.endsWith('… and 2 more xs held by tenant "t"'), message);
    assert.equal(nameFirstAndCount([item('short')]), 'short', 'nothing to count: no tail');
  });

  test('capMessage never splits a surrogate pair and ends a cut text with an ellipsis', () => {
    const text = `${'a'.repeat(CAP - 2)}😀😀`;
    const cut = capMessage(text);
    assert.ok(cut.length <= CAP);
    assert.ok(cut.endsWith('a…'), 'the pair that did not fit whole is dropped whole');
    assert.equal(capMessage('short'), 'short');
  });

  test('a long value is quoted cut, with its length', () => {
    const server = `https://${'s'.repeat(1000)}.example.com`;
    assert.match(quoteValue(server), /^"https:\/\/s+…" \(1,020 characters\)$/);
    assert.equal(quoteValue('team-a'), '"team-a"');
  });

  test('an invalid Tenant with hundreds of problems names ten and counts the rest', () => {
    const bad = Array.from({ length: 200 }, (_, i) => `NS-${i}`);
    assert.throws(
      () => tenantOf('team-a', '2025-01-01T00:00:00Z', { namespaces: bad }),
      (err: unknown) => {
        assert.ok(isTenantGuardError(err, 'ERR_TENANT_INVALID'));
        const body = err.message.slice('test (Tenant "team-a"): '.length);
        assert.ok(body.length <= CAP, `${body.length}`);
        assert.match(body, /^spec\.namespaces\[0\]: "NS-0" does not match/);
        const named = body.split('; ').filter((p) => p.startsWith('spec.')).length;
        assert.equal(named, 10);
        assert.ok(body.endsWith(`… and ${bad.length - named} more problems`), body);
        return true;
      },
    );
  });
});

describe('one cap for the status, its condition, the log line and the Event', () => {
  const long = `spec.x: ${'w'.repeat(50_000)}`;

  test('status.message and the Accepted condition hold a capped message, whoever made it', () => {
    const outcome = outcomeOf(1, undefined, { tenant: 't', reason: 'ClusterNameConflict', message: long });
    const status = desiredStatus(outcome, undefined, 1, '2025-03-01T10:00:00Z');
    assert.equal(status.message, capMessage(long));
    assert.equal(status.conditions.find((c) => c.type === 'Accepted')?.message, status.message);
    const invalid = desiredStatus(outcomeOf(1, long, undefined), undefined, 1, '2025-03-01T10:00:00Z');
    assert.equal(invalid.message, capMessage(long), "a parse error's message too");
  });

  test('the log line and the Event say the same sentence, within the cap', () => {
    const verdict = { accepted: false as const, reason: 'Invalid', message: capMessage(long) };
    const changes: RegistryChange[] = [
      { kind: 'rejected', tenant: 't', view: { name: 't', verdict, fingerprint: '1' } },
      {
        kind: 'accepted',
        tenant: 't',
        view: { name: 't', verdict: { accepted: true }, fingerprint: '2' },
        previous: verdict,
      },
    ];
    for (const change of changes) {
      const sentence = describeChange(change);
      assert.ok(sentence.length <= CAP, `${change.kind}: ${sentence.length}`);
      assert.ok(sentence.startsWith('Tenant "t"'));
      assert.equal(tenantEvent(change, new Date(0), 'pod').message, sentence);
    }
  });

  test("the CRD schema's status messages have the same maxLength", () => {
    const status = (
      tenantCrd() as unknown as {
        spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { status: any } } } }> };
      }
    ).spec.versions[0]?.schema.openAPIV3Schema.properties.status;
    assert.equal(status.properties.message.maxLength, CAP);
    assert.equal(status.properties.conditions.items.properties.message.maxLength, CAP);
  });
});
