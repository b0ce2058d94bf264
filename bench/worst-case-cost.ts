/**
 * `npm run bench -- cost`: the CPU time (user + system, so it holds on a busy machine where
 * wall time does not) each worst case of bench/worst-case.ts holds the event loop for, per
 * phase: JSON.parse of the body, then `admit` on /validate and on /mutate (with the answer
 * and the audit record). With the large-request gate these phases run on separate turns,
 * one large request at a time, so the longest phase bounds how long another tenant's small
 * request can wait. Median of 5 runs after 2 warm-ups, in this process.
 */
import { admit, defaultPolicy, type Endpoint } from '../src/admission/admit.js';
import { outcomeResponse } from '../src/admission/response.js';
import { parseAdmissionReview, readAdmissionRequest } from '../src/admission/review.js';
import { admissionAuditRecord } from '../src/audit/admission-record.js';
import { resolveSettings } from '../src/settings.js';
import { buildRegistry } from '../src/tenancy/registry.js';
import { generatedTenants } from './tenants.js';
import { worstCases } from './worst-case.js';

function cpuMs(work: () => void): number {
  const before = process.cpuUsage();
  work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Prints the CPU milliseconds of each phase of each worst case. */
export function benchWorstCaseCost(write: (line: string) => void = console.log): void {
  const { registry } = buildRegistry(generatedTenants(10));
  const settings = resolveSettings({});
  write(
    '\nCPU ms per phase of one worst-case request (median of 5; each phase is one turn of the event loop)',
  );
  write('| Worst case | JSON.parse | /validate | /mutate | /validate answers |');
  write('|---|---|---|---|---|');
  for (const worst of worstCases()) {
    const phases: Record<'parse' | Endpoint, number[]> = { parse: [], validate: [], mutate: [] };
    let answer = '';
    for (let run = 0; run < 7; run++) {
      let body: unknown;
      const parse = cpuMs(() => {
        body = JSON.parse(worst.body);
      });
      const request = readAdmissionRequest(parseAdmissionReview(body));
      const timed = (endpoint: Endpoint) =>
        cpuMs(() => {
          const outcome = admit(endpoint, request, { policy: defaultPolicy, registry, settings });
          if (endpoint === 'validate')
            answer =
              outcome.type === 'malformed'
                ? 'denied: limit'
                : outcome.type === 'decided'
                  ? outcome.decision.allowed
                    ? 'allowed'
                    : 'denied: rules'
                  : outcome.type;
          JSON.stringify(outcomeResponse(request.uid, outcome));
          JSON.stringify(admissionAuditRecord(endpoint, request, outcome) ?? {});
        });
      const validate = timed('validate');
      const mutate = timed('mutate');
      if (run < 2) continue;
      phases.parse.push(parse);
      phases.validate.push(validate);
      phases.mutate.push(mutate);
    }
    write(
      `| ${worst.name} (${(worst.body.length / 1e6).toFixed(1)} MB) | ${median(phases.parse).toFixed(0)} | ${median(phases.validate).toFixed(0)} | ${median(phases.mutate).toFixed(0)} | ${answer} |`,
    );
  }
}

if (process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) benchWorstCaseCost();
