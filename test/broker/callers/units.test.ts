/**
 * Small pure parts of the broker's caller checks that the HTTP tests reach only in their
 * usual shapes (gaps a mutation-testing review found).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseBearer } from '../../../src/broker/callers/bearer.js';
import { CallerRateLimiter } from '../../../src/broker/callers/rate-limiter.js';
import { readReviewStatus } from '../../../src/broker/callers/token-review.js';

/** A TokenReview answer as the API server sends it (the spec echoed; the status is what is read). */
const review = (status: Record<string, unknown>) =>
  ({ spec: { token: 'x' }, status }) as unknown as Parameters<typeof readReviewStatus>[0];

describe('CallerRateLimiter', () => {
  test('a bucket idle for an hour holds its burst, not an hour of tokens', () => {
    const limiter = new CallerRateLimiter(1, 3);
    assert.equal(limiter.take('pod', 0).allowed, true);
    let allowed = 0;
    for (let i = 0; i < 50; i++) if (limiter.take('pod', 3_600_000).allowed) allowed += 1;
    assert.equal(allowed, 3);
  });
});

describe('readReviewStatus', () => {
  test('a status without `authenticated` (how an API server answers a failed review) is not authenticated', () => {
    const outcome = readReviewStatus(
      review({
        user: { username: 'system:serviceaccount:argocd:argocd-application-controller' },
        error: 'token expired',
      }),
    );
    assert.equal(outcome.authenticated, false);
    assert.equal(outcome.error, 'token expired');
  });

  test('`authenticated` must be the boolean true', () => {
    for (const value of ['true', 1, {}])
      assert.equal(readReviewStatus(review({ authenticated: value })).authenticated, false);
    assert.equal(readReviewStatus(review({ authenticated: true })).authenticated, true);
  });
});

describe('parseBearer', () => {
  test('the scheme is case-insensitive (RFC 7235): bearer and BEARER are Bearer', () => {
    for (const header of ['Bearer abc.def', 'bearer abc.def', 'BEARER abc.def'])
      assert.equal(parseBearer(header).ok, true, header);
  });
});
