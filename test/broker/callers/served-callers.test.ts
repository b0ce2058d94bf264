import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { claimedIdentity, ServedCallers } from '../../../src/broker/callers/served-callers.js';
import type { ReviewOutcome } from '../../../src/broker/callers/token-review.js';
import { isTenantGuardError } from '../../../src/errors.js';
import { makeCallerToken } from '../../support/caller-tokens.js';
import { brokerReviewing, CONTROLLER } from '../helpers.js';
import {
  CTL,
  CTL_UID,
  flood,
  harness,
  isBusy,
  projectedToken,
  reviewOf,
  tick,
  UPDATER,
  UPDATER_UID,
  type Projected,
} from './lane-harness.js';

describe('claimedIdentity reads a token’s own identity claims, unverified', () => {
  const cases: Array<{ name: string; token: string; expect: ReturnType<typeof claimedIdentity> }> = [
    {
      name: 'projected token: sub, ServiceAccount UID, pod name',
      token: projectedToken(CTL, 2_000_000_000),
      expect: { username: CONTROLLER, uid: CTL_UID, pod: CTL.pod },
    },
    {
      name: 'legacy Secret token: sub and the flat UID claim',
      token: makeCallerToken({
        sub: CONTROLLER,
        more: { 'kubernetes.io/serviceaccount/service-account.uid': CTL_UID },
      }),
      expect: { username: CONTROLLER, uid: CTL_UID, pod: undefined },
    },
    {
      name: 'malformed kubernetes.io claim: the subject alone',
      token: makeCallerToken({
        sub: CONTROLLER,
        more: { 'kubernetes.io': { pod: 'x', serviceaccount: [1] } },
      }),
      expect: { username: CONTROLLER, uid: undefined, pod: undefined },
    },
    { name: 'no subject', token: makeCallerToken({ sub: '' }), expect: undefined },
    { name: 'not a JWT', token: 'opaque-token', expect: undefined },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(claimedIdentity(c.token), c.expect));
});

describe('ServedCallers: one priority slot per served identity, bounded', () => {
  test('a slot per served pod name and one for the user name’s other pods; taken until released', () => {
    const served = new ServedCallers();
    assert.equal(served.take({ username: CONTROLLER, uid: CTL_UID }, false), undefined, 'never served');
    served.remember({ username: CONTROLLER, uid: CTL_UID, pod: 'c-0' });
    assert.equal(
      served.take({ username: CONTROLLER, uid: 'other', pod: 'c-0' }, false),
      undefined,
      'another UID',
    );
    assert.equal(
      served.take({ username: CONTROLLER, pod: 'c-0' }, false),
      undefined,
      'no UID, when one was served',
    );
    const pod = served.take({ username: CONTROLLER, uid: CTL_UID, pod: 'c-0' }, false);
    assert.notEqual(pod, undefined);
    assert.equal(
      served.take({ username: CONTROLLER, uid: CTL_UID, pod: 'c-0' }, false),
      undefined,
      'its slot is taken',
    );
    const other = served.take({ username: CONTROLLER, uid: CTL_UID, pod: 'c-new' }, false);
    assert.notEqual(other, undefined, 'a new pod of the user name has a slot of its own');
    assert.equal(
      served.take({ username: CONTROLLER, uid: CTL_UID, pod: 'c-newer' }, false),
      undefined,
      'one for all new pods',
    );
    served.release(pod ?? '');
    assert.notEqual(
      served.take({ username: CONTROLLER, uid: CTL_UID, pod: 'c-0' }, false),
      undefined,
      'released',
    );
    assert.notEqual(
      served.take({ username: CONTROLLER, uid: CTL_UID, pod: 'c-0' }, true),
      undefined,
      'verified identities have slots of their own: claims cannot take them',
    );
    served.remember({ username: UPDATER });
    assert.notEqual(
      served.take({ username: UPDATER, uid: 'any' }, false),
      undefined,
      'served without a UID: any UID',
    );
  });

  test('at the cap the least recently served user name, or pod name, is forgotten', () => {
    const served = new ServedCallers(2, 1);
    served.remember({ username: 'a' });
    served.remember({ username: 'b' });
    served.remember({ username: 'a' }); // a is now the most recent
    served.remember({ username: 'c' });
    assert.equal(served.size, 2);
    assert.deepEqual(
      ['a', 'b', 'c'].map((u) => served.take({ username: u }, false) !== undefined),
      [true, false, true],
    );
    served.remember({ username: 'a', pod: 'p-1' });
    served.remember({ username: 'a', pod: 'p-2' });
    assert.notEqual(served.take({ username: 'a', pod: 'p-2' }, false), undefined);
    assert.equal(
      served.take({ username: 'a', pod: 'p-1' }, false),
      undefined,
      'p-1 shares the (taken) user-name slot',
    );
  });
});

describe('the priority lane is earned by identity, not by token (found by a red-team review)', () => {
  test('a rotated token, and a restarted pod’s, of a served caller go first under a flood', async () => {
    const t = harness({ concurrent: 2, queued: 2 });
    await t.serve(t.mint(CTL));
    const flooded = flood(t, 10);
    await tick();
    assert.deepEqual(
      t.authenticator.queueDepth,
      { running: 1, priority: 0, other: 2 },
      'the other lane is full',
    );
    const rotated = await t.authenticator.authenticate(t.mint(CTL), '10.0.0.1');
    assert.equal(rotated.username, CONTROLLER);
    const restarted = t.mint({ ...CTL, pod: 'argocd-application-controller-7d9f-x2v', podUid: 'p-2' });
    assert.equal(
      (await t.authenticator.authenticate(restarted, '10.0.0.1')).pod?.name,
      'argocd-application-controller-7d9f-x2v',
    );
    t.release();
    const results = await flooded;
    assert.equal(results.filter((r) => r.status === 'rejected' && isBusy(r.reason)).length, 7);
  });

  test('forged claims of a served identity take at most one place, and not the lane', async () => {
    const t = harness({ concurrent: 2, queued: 64 });
    const current = t.mint(CTL);
    await t.serve(current);
    const updater: Projected = { sub: UPDATER, saUid: UPDATER_UID, pod: 'argocd-image-updater-0' };
    await t.serve(t.mint(updater));
    t.clock += 6_000; // the controller's current token needs a new review
    t.holding = () => true;
    const blocker = t.authenticator.authenticate('bogus-blocker', '10.1.0.1'); // the slot for others
    // Forged: the controller's claims, wrong UID, then right UID; the review knows none of them.
    const forged = [
      ...Array.from({ length: 5 }, () => projectedToken({ ...CTL, saUid: 'guessed' }, 2_000_000_000)),
      ...Array.from({ length: 30 }, () => projectedToken(CTL, 2_000_000_000)),
    ].map((token, i) => t.authenticator.authenticate(token, `10.2.0.${i}`));
    await tick();
    assert.deepEqual(
      t.authenticator.queueDepth,
      { running: 2, priority: 0, other: 34 },
      'one forged token has the kept slot; the others wait with the flood',
    );
    const served = [
      t.authenticator.authenticate(current, '10.0.0.1'),
      t.authenticator.authenticate(t.mint(updater), '10.0.0.2'),
    ];
    await tick();
    assert.deepEqual(
      t.authenticator.queueDepth,
      { running: 2, priority: 2, other: 34 },
      'the controller’s current token, verified before, and another served caller still go first',
    );
    t.release();
    assert.deepEqual(
      (await Promise.all(served)).map((c) => c.username),
      [CONTROLLER, UPDATER],
    );
    const answers = await Promise.allSettled([blocker, ...forged]);
    assert.ok(
      answers.every(
        (a) => a.status === 'rejected' && isTenantGuardError(a.reason, 'ERR_BROKER_UNAUTHENTICATED'),
      ),
      'the review still decides: every forged token is refused',
    );
  });

  test('a served caller keeps its lane when other callers push its review out of the cache', async () => {
    const t = harness({ concurrent: 2, queued: 2, cacheSize: 2 });
    const old = t.mint(CTL);
    await t.serve(old);
    // Valid tokens of callers allowed no target (never vouched) fill the positive-review cache.
    for (let i = 0; i < 5; i++)
      await t.authenticator.authenticate(
        t.mint({ sub: `system:serviceaccount:t:sa-${i}`, pod: `p-${i}` }),
        `10.3.0.${i}`,
      );
    t.clock += 6_000;
    const flooded = flood(t, 5);
    await tick();
    assert.equal((await t.authenticator.authenticate(old, '10.0.0.1')).username, CONTROLLER);
    t.release();
    await flooded;
  });

  test('through the broker: the controller’s rotated token is issued while a flood gets 503', async () => {
    let clock = 1_000_000;
    let holding = false;
    const held: Array<() => void> = [];
    const genuine = new Map<string, ReviewOutcome>();
    const mint = (): string => {
      const token = projectedToken(CTL, Math.floor(clock / 1000) + 3600);
      genuine.set(token, reviewOf(CTL));
      return token;
    };
    const broker = await brokerReviewing({
      flags: { reviewConcurrency: '2', reviewQueue: '2', reviewCacheTtl: '5s' },
      now: () => clock,
      review: async (token) => {
        const known = genuine.get(token);
        if (known !== undefined) return known;
        if (holding) await new Promise<void>((go) => held.push(go));
        return { authenticated: false, groups: [], extra: {} };
      },
    });
    try {
      const ask = (token: string, source: string) =>
        broker.issue(`Bearer ${token}`, 'k8s-team-a-dev', source, 'https://team-a-dev.example.com');
      assert.equal((await ask(mint(), '10.0.0.5')).ok, true);
      clock += 6_000;
      holding = true;
      const flooded = Promise.all(Array.from({ length: 20 }, (_v, i) => ask(`bogus-${i}`, `10.1.0.${i}`)));
      await tick();
      const rotated = await ask(mint(), '10.0.0.5');
      assert.equal(rotated.ok ? 'issued' : rotated.code, 'issued');
      holding = false;
      for (let next = held.shift(); next !== undefined; next = held.shift()) next();
      const busy = (await flooded).filter((o) => !o.ok && o.code === 'ERR_BROKER_BUSY').length;
      assert.equal(busy, 17, 'the flood beyond one running and two waiting got 503');
    } finally {
      broker.close();
    }
  });
});
