/**
 * The policy core alone, no HTTP: parse the AdmissionReview, then `admit` (mutate or
 * validate) on a typical ApplicationSet, next to `JSON.parse` of the same body as the floor.
 */
import { admit, defaultPolicy } from '../src/admission/admit.js';
import { parseAdmissionReview, readAdmissionRequest } from '../src/admission/review.js';
import { resolveSettings } from '../src/settings.js';
import { buildRegistry } from '../src/tenancy/registry.js';
import jsonPatch from 'fast-json-patch';
import { generatedTenants } from './tenants.js';
import { typicalReview } from './webhook.js';

function microsPerOp(iterations: number, op: () => void): number {
  for (let i = 0; i < Math.min(1000, iterations); i++) op();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) op();
  return Number(process.hrtime.bigint() - start) / 1e3 / iterations;
}

/** Prints µs per review for /mutate and /validate in-process, with 10 and 10,000 tenants. */
export function benchPolicy(iterations = 20_000, write: (line: string) => void = console.log): void {
  const settings = resolveSettings({});
  write(`\nPolicy core in-process (parse + admit), ${iterations} reviews each`);
  write('| case | µs per review | vs JSON.parse floor |');
  write('| --- | ---: | ---: |');
  for (const count of [10, 10_000]) {
    const { registry } = buildRegistry(generatedTenants(count));
    const body = typicalReview(`team-${count - 7}`);
    const deps = { policy: defaultPolicy, registry, settings };
    const floor = microsPerOp(iterations, () => JSON.parse(body));
    const mutateOnce = () =>
      admit('mutate', readAdmissionRequest(parseAdmissionReview(JSON.parse(body))), deps);
    const first = mutateOnce();
    if (first.type !== 'patched') throw new Error(`unexpected outcome ${first.type}`);
    const review = JSON.parse(body) as { request: { object: object } };
    review.request.object = jsonPatch.applyPatch(
      review.request.object,
      [...first.patch],
      false,
      false,
    ).newDocument;
    const mutatedBody = JSON.stringify(review);
    const verdict = admit(
      'validate',
      readAdmissionRequest(parseAdmissionReview(JSON.parse(mutatedBody))),
      deps,
    );
    if (verdict.type !== 'decided' || !verdict.decision.allowed)
      throw new Error('the mutated benchmark object is not allowed');
    const m = microsPerOp(iterations, mutateOnce);
    const v = microsPerOp(iterations, () =>
      admit('validate', readAdmissionRequest(parseAdmissionReview(JSON.parse(mutatedBody))), deps),
    );
    write(`| JSON.parse, ${count} tenants | ${floor.toFixed(1)} | 1.00 |`);
    write(`| mutate, ${count} tenants | ${m.toFixed(1)} | ${(m / floor).toFixed(1)} |`);
    write(`| validate, ${count} tenants | ${v.toFixed(1)} | ${(v / floor).toFixed(1)} |`);
  }
}
