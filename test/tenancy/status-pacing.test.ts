import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StatusPacer, STATUS_PACING_DEFAULTS } from '../../src/tenancy/status-pacing.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');

describe('StatusPacer (pure)', () => {
  test('each overwrite by another writer doubles the wait, to its ceiling; one overwrite counts once', () => {
    const pacer = new StatusPacer({ contestBackoffInitialMs: 1000, contestBackoffMaxMs: 8000 });
    pacer.ask('t', 'g1 accepted');
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const o = pacer.overwritten('t', `rv${i}`, T0);
      assert.ok(o !== undefined);
      assert.equal(o.first, i === 0);
      assert.equal(pacer.waitFor('t', T0).waitMs, o.waitMs);
      waits.push(o.waitMs);
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 8000, 8000]);
    assert.equal(pacer.overwritten('t', 'rv5', T0 + 1), undefined, 'the same overwrite seen again');
    assert.equal(pacer.waitFor('t', T0 + 8000).waitMs, 0, 'the wait ends');
    assert.equal(pacer.waitFor('other', T0).waitMs, 0, 'per Tenant');
  });

  test('a new question (generation or verdict) ends the contest about the old one', () => {
    const pacer = new StatusPacer({ contestBackoffInitialMs: 1000 });
    pacer.ask('t', 'g1 accepted');
    pacer.overwritten('t', 'rv1', T0);
    pacer.overwritten('t', 'rv2', T0);
    assert.equal(pacer.waitFor('t', T0).waitMs, 2000);
    pacer.ask('t', 'g1 accepted');
    assert.equal(pacer.waitFor('t', T0).waitMs, 2000, 'the same question keeps it');
    pacer.ask('t', 'g2 accepted');
    assert.equal(pacer.waitFor('t', T0).waitMs, 0);
    assert.equal(pacer.overwritten('t', 'rv3', T0)?.first, true, 'a new contest is logged again');
  });

  test('at most maxWritesPerMinute writes of one Tenant in any 60 s; the cap is logged once per stretch', () => {
    const pacer = new StatusPacer();
    const cap = STATUS_PACING_DEFAULTS.maxWritesPerMinute;
    for (let i = 0; i < cap; i++) {
      assert.equal(pacer.waitFor('t', T0 + i * 1000).waitMs, 0);
      pacer.sending('t', T0 + i * 1000);
    }
    const at = T0 + cap * 1000;
    assert.deepEqual(pacer.waitFor('t', at), { waitMs: 60_000 - cap * 1000, why: 'capped', logCap: true });
    assert.equal(pacer.waitFor('t', at).logCap, false, 'logged once');
    assert.equal(pacer.waitFor('t', T0 + 60_000).waitMs, 0, 'the first write left the window');
    pacer.sending('t', T0 + 60_000);
    assert.deepEqual(
      pacer.waitFor('t', T0 + 60_000),
      { waitMs: 1000, why: 'capped', logCap: true },
      'a new stretch is logged again',
    );
  });

  test('options out of range are refused, naming the option', () => {
    assert.throws(() => new StatusPacer({ contestBackoffInitialMs: 0 }), {
      code: 'ERR_SETTINGS_INVALID',
      message: /contestBackoffInitialMs/,
    });
    assert.throws(() => new StatusPacer({ maxWritesPerMinute: 0.5 }), {
      code: 'ERR_SETTINGS_INVALID',
      message: /maxWritesPerMinute/,
    });
  });
});
