import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoff } from '../../src/tenancy/watch-backoff.js';
import { toTenantList } from '../../src/tenancy/tenant-list.js';
import { desiredStatus, outcomeOf, statusDiffers } from '../../src/tenancy/tenant-status.js';

const T0 = '2025-03-01T10:00:00Z';
const T1 = '2025-03-02T11:00:00Z';

describe('Tenant status (pure)', () => {
  test('accepted: reason, message, cluster count, generation, one Accepted condition', () => {
    const s = desiredStatus(outcomeOf(2, undefined, undefined), undefined, 3, T0);
    assert.deepEqual(s, {
      accepted: true,
      reason: 'Accepted',
      message: 'in the registry with 2 clusters',
      clusterCount: 2,
      observedGeneration: 3,
      conditions: [
        {
          type: 'Accepted',
          status: 'True',
          reason: 'Accepted',
          message: 'in the registry with 2 clusters',
          lastTransitionTime: T0,
          observedGeneration: 3,
        },
      ],
    });
  });

  test("the invalid verdict wins over a rejection; a rejection carries the registry's reason", () => {
    const rejection = {
      tenant: 'b',
      reason: 'NamespaceConflict' as const,
      message: 'spec.namespaces[0]: namespace "x" is already owned by tenant "a"',
    };
    assert.deepEqual(outcomeOf(1, 'spec.clusters[0].server: bad', rejection), {
      accepted: false,
      reason: 'Invalid',
      message: 'spec.clusters[0].server: bad',
      clusterCount: 1,
    });
    assert.deepEqual(outcomeOf(1, undefined, rejection), {
      accepted: false,
      reason: 'NamespaceConflict',
      message: rejection.message,
      clusterCount: 1,
    });
  });

  const cases: Array<{
    name: string;
    current: unknown;
    outcome: ReturnType<typeof outcomeOf>;
    differs: boolean;
    transition: string;
  }> = [
    {
      name: 'same verdict, older time: no write, time kept',
      current: desiredStatus(outcomeOf(1, undefined, undefined), undefined, 1, T0),
      outcome: outcomeOf(1, undefined, undefined),
      differs: false,
      transition: T0,
    },
    {
      name: 'verdict flips: write, new transition time',
      current: desiredStatus(outcomeOf(1, undefined, undefined), undefined, 1, T0),
      outcome: outcomeOf(1, 'x: bad', undefined),
      differs: true,
      transition: T1,
    },
    {
      name: 'same status, other message: write, time kept',
      current: desiredStatus(outcomeOf(1, 'x: bad', undefined), undefined, 1, T0),
      outcome: outcomeOf(1, 'y: bad', undefined),
      differs: true,
      transition: T0,
    },
    {
      name: 'no status yet',
      current: undefined,
      outcome: outcomeOf(0, undefined, undefined),
      differs: true,
      transition: T1,
    },
    {
      name: 'garbage status',
      current: { accepted: 'yes', conditions: 'none' },
      outcome: outcomeOf(0, undefined, undefined),
      differs: true,
      transition: T1,
    },
  ];
  for (const c of cases) {
    test(`statusDiffers / transition time: ${c.name}`, () => {
      const desired = desiredStatus(c.outcome, c.current, 1, T1);
      assert.equal(statusDiffers(c.current, desired), c.differs);
      assert.equal(desired.conditions.find((x) => x.type === 'Accepted')?.lastTransitionTime, c.transition);
    });
  }

  test('conditions of other types are kept', () => {
    const current = {
      conditions: [
        { type: 'Reviewed', status: 'True', reason: 'Audit', message: 'by sec', lastTransitionTime: T0 },
      ],
    };
    const desired = desiredStatus(outcomeOf(1, undefined, undefined), current, 1, T1);
    assert.deepEqual(
      desired.conditions.map((c) => c.type),
      ['Reviewed', 'Accepted'],
    );
    assert.equal(statusDiffers({ ...desired }, desired), false);
  });

  test('toTenantList keeps named objects and the resourceVersion; refuses what is not a list', () => {
    const list = toTenantList({
      metadata: { resourceVersion: '42' },
      items: [{ metadata: { name: 'a', resourceVersion: '7' }, spec: {} }, { metadata: {} }, 'x'],
    });
    assert.equal(list.metadata?.resourceVersion, '42');
    assert.deepEqual(
      list.items.map((i) => i.metadata?.name),
      ['a'],
    );
    assert.throws(() => toTenantList({ items: 'no' }), { code: 'ERR_TENANT_WATCH' });
  });

  test('backoff doubles to its ceiling, with jitter within ±20%', () => {
    for (let i = 0; i < 50; i++) {
      const first = backoff(1, 500, 30_000);
      const fourth = backoff(4, 500, 30_000);
      const capped = backoff(20, 500, 30_000);
      assert.ok(first >= 400 && first <= 600, `${first}`);
      assert.ok(fourth >= 3200 && fourth <= 4800, `${fourth}`);
      assert.ok(capped >= 24_000 && capped <= 36_000, `${capped}`);
    }
  });
});
