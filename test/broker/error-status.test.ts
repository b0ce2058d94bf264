import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BROKER_HTTP_STATUS, type BrokerErrorCode } from '../../src/broker/broker.js';

describe('broker refusal codes', () => {
  test('every code has an HTTP status; one without is a compile error (npm test typechecks)', () => {
    // @ts-expect-error a table that leaves out a broker code does not satisfy the type broker.ts uses.
    const incomplete = { ERR_BROKER_BAD_REQUEST: 400 } satisfies Record<BrokerErrorCode, number>;
    assert.equal(incomplete.ERR_BROKER_BAD_REQUEST, 400);
    for (const [code, status] of Object.entries(BROKER_HTTP_STATUS)) {
      assert.ok(status >= 400 && status < 600, `${code} answers ${status}`);
    }
    assert.equal(BROKER_HTTP_STATUS.ERR_BROKER_INTERNAL, 500);
    assert.equal(BROKER_HTTP_STATUS.ERR_REGISTRY_NOT_SYNCED, 503);
  });
});
