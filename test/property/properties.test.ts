/**
 * Property-based tests of issue 8 (see properties.ts): at least 10,000 runs per property
 * over generated ApplicationSets, Applications, AppProjects and cluster Secrets of two
 * tenants, written by every kind of requester; a smaller share of runs goes through the
 * real HTTP app. `npm run fuzz` runs many more. A failure prints fast-check's seed and
 * path: rerun with PROPERTY_SEED and PROPERTY_PATH to replay it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import request from 'supertest';
import { reviewFor, webhookApp } from '../attacks/admission-flow.js';
import { anyWriteArb } from './arbitraries.js';
import { context, mangledWriteArb, PROPERTIES } from './properties.js';

export const SUITE_RUNS = 10_000;
const HTTP_RUNS = 200;

function options(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env.PROPERTY_SEED;
  const path = process.env.PROPERTY_PATH;
  return {
    numRuns,
    ...(seed === undefined ? {} : { seed: Number(seed) }),
    ...(path === undefined ? {} : { path }),
  };
}

describe('properties of the policy core (issue 8)', () => {
  for (const [name, property] of Object.entries(PROPERTIES)) {
    test(`${name} (${SUITE_RUNS} runs)`, () => {
      const details = fc.check(property, options(SUITE_RUNS));
      assert.equal(details.failed, false, fc.defaultReportMessage(details) ?? 'failed');
      assert.equal(details.numRuns, SUITE_RUNS, 'every run was made');
    });
  }

  test(`d over HTTP: POST /mutate and /validate never answer 500 (${HTTP_RUNS} runs)`, async () => {
    const { app } = webhookApp(context.registry, context.settings);
    let posted = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyWriteArb, mangledWriteArb), async (write) => {
        const body = JSON.stringify(reviewFor({ uid: 'f0220000-0000-4000-8000-00000000beef', ...write }));
        for (const path of ['/mutate', '/validate']) {
          const res = await request(app).post(path).set('Content-Type', 'application/json').send(body);
          assert.equal(res.status, 200, `${path} answered ${res.status}`);
          posted++;
        }
      }),
      options(HTTP_RUNS),
    );
    assert.equal(posted, HTTP_RUNS * 2);
  });
});
