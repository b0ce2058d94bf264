/**
 * The broker's key gauges against a key ring whose store fails, on an injected clock. Read
 * but not written when rotation falls due, the replica signs on with the stored active key
 * and publishes no next key (TenantGuardBrokerNextKeyMissing). Not read, it stops signing
 * once its ring is no longer current (key-manager.ts) while the ring it holds still has an
 * active key, so `signing_keys{state="active"}` stays 1; `tenant_guard_broker_can_sign` says
 * what the replica does, and TenantGuardBrokerCannotSign reads it. The rotation settings are
 * gauges, so TenantGuardBrokerKeyRotationStuck follows a non-default period.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createBrokerMetrics } from '../../src/broker/broker-metrics.js';
import { createBroker } from '../../src/broker/create-broker.js';
import { KeyManager } from '../../src/broker/keys/key-manager.js';
import type { RingTiming } from '../../src/broker/keys/key-ring.js';
import {
  MemoryKeyStore,
  type KeyChange,
  type KeySnapshot,
  type KeyStore,
} from '../../src/broker/keys/key-store.js';
import { TenantGuardError } from '../../src/errors.js';
import { CONTROLLER, testConfig, testRegistry } from './helpers.js';

const HOUR = 3_600_000;
const TIMING: RingTiming = {
  rotationPeriodMs: 6 * HOUR,
  publishAheadMs: 120_000,
  retireMarginMs: 60_000,
  maxTokenTtlMs: 900_000,
};

/** A store read only while `readable`, and written only while `writable`. */
class ReadOnlyStore implements KeyStore {
  readonly description = 'read-only';
  readable = true;
  writable = true;
  private readonly inner = new MemoryKeyStore();
  load(): Promise<KeySnapshot> {
    if (!this.readable)
      return Promise.reject(new TenantGuardError('ERR_KEYRING_STORE', 'cannot read key ring: injected'));
    return this.inner.load();
  }
  save(change: KeyChange, version: string | undefined): Promise<string> {
    if (!this.writable)
      return Promise.reject(new TenantGuardError('ERR_KEYRING_STORE', 'cannot write key ring: injected'));
    return this.inner.save(change, version);
  }
}

async function gauges(registry: Registry): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  for (const metric of await registry.getMetricsAsJSON())
    for (const v of metric.values) {
      const labels = Object.entries(v.labels)
        .map(([k, l]) => `${k}=${String(l)}`)
        .join(',');
      values.set(labels === '' ? metric.name : `${metric.name}{${labels}}`, v.value);
    }
  return values;
}

/** A broker of the test registry reporting to `metricsRegistry`, with `options` on top. */
function brokerCounting(
  metricsRegistry: Registry,
  options: Partial<Parameters<typeof createBroker>[0]>,
): ReturnType<typeof createBroker> {
  return createBroker({
    config: testConfig(),
    issuer: 'https://broker.example.com',
    allowedCallers: [CONTROLLER],
    registry: testRegistry(),
    logger: pino({ level: 'silent' }),
    kubeConfig: null,
    metricsRegistry,
    ...options,
  });
}

describe('broker key gauges', () => {
  test('a store that cannot be written when rotation falls due: the replica signs on with no next key; unread, it stops signing though the ring has an active key', async () => {
    let clock = Date.parse('2025-03-01T00:00:00Z');
    const start = clock;
    const store = new ReadOnlyStore();
    const keys = new KeyManager({
      store,
      alg: 'ES256',
      timing: TIMING,
      reloadIntervalMs: 10_000,
      logger: pino({ level: 'silent' }),
      now: () => clock,
      manualReload: true,
    });
    const registry = new Registry();
    createBrokerMetrics(registry, () => keys, { now: () => clock });
    await keys.start();
    store.writable = false;

    clock = start + HOUR;
    await keys.reconcile();
    let g = await gauges(registry);
    assert.equal(g.get('tenant_guard_broker_can_sign'), 1);
    assert.equal(g.get('tenant_guard_broker_active_key_age_seconds'), 3600);

    // Rotation falls due; every round from now fails to store the next key.
    for (let t = 6 * HOUR - 200_000; t <= 6 * HOUR + 300_000; t += 10_000) {
      clock = start + t;
      await keys.reconcile().catch(() => undefined);
    }
    g = await gauges(registry);
    assert.equal(g.get('tenant_guard_broker_signing_keys{state=next}'), 0, 'no next key');
    assert.equal(g.get('tenant_guard_broker_can_sign'), 1, 'the ring read, the active key signs on');
    assert.ok((g.get('tenant_guard_broker_active_key_age_seconds') ?? 0) > 6 * 3600);

    // Not read either: past the staleness bound, no key signs here.
    store.readable = false;
    for (let i = 0; i < 30; i++) {
      clock += 10_000;
      await keys.reconcile().catch(() => undefined);
    }
    g = await gauges(registry);
    assert.equal(
      g.get('tenant_guard_broker_signing_keys{state=active}'),
      1,
      'the ring still has an active key',
    );
    assert.equal(keys.signingKey(clock).key, undefined, 'but this replica signs with none');
    assert.equal(g.get('tenant_guard_broker_can_sign'), 0);

    store.readable = true;
    store.writable = true;
    clock += 10_000;
    await keys.reconcile();
    assert.equal((await gauges(registry)).get('tenant_guard_broker_can_sign'), 1, 'signs again once written');
  });

  test('the rotation settings the broker runs with are gauges (here not the defaults)', async () => {
    const registry = new Registry();
    const broker = await brokerCounting(registry, {
      config: testConfig({ rotationPeriod: '6h', publishAhead: '90s' }),
      manualReload: true,
    });
    try {
      const g = await gauges(registry);
      assert.equal(g.get('tenant_guard_broker_key_rotation_period_seconds'), 21_600);
      assert.equal(g.get('tenant_guard_broker_key_publish_ahead_seconds'), 90);
      assert.equal(g.get('tenant_guard_broker_can_sign'), 1);
    } finally {
      broker.close();
    }
  });
});

describe('broker token request counter', () => {
  test('a refusal before authorization names no tenant, so /metrics does not tell which targets exist', async () => {
    const registry = new Registry();
    const broker = await brokerCounting(registry, {
      reviewer: {
        review: async () => ({ authenticated: false, username: '', groups: [], extra: {}, audiences: [] }),
      },
    });
    try {
      // No token, then a token the review rejects: for a real target and for a guess.
      for (const target of ['k8s-team-b-dev', 'k8s-team-x-dev']) {
        assert.equal((await broker.issue(undefined, target, '10.9.9.9', 'https://x.example.com')).ok, false);
        assert.equal(
          (await broker.issue(`Bearer forged-${target}`, target, '10.9.9.9', 'https://x.example.com')).ok,
          false,
        );
      }
      const series = [...(await gauges(registry)).entries()].filter(([name]) =>
        name.startsWith('tenant_guard_broker_token_requests_total{'),
      );
      assert.deepEqual(series.sort(), [
        ['tenant_guard_broker_token_requests_total{tenant=none,result=ERR_BROKER_UNAUTHENTICATED}', 4],
      ]);
    } finally {
      broker.close();
    }
  });
});
