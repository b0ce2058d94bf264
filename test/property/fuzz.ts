/**
 * `npm run fuzz`: the properties of issue 8 (test/property/properties.ts) with many more runs
 * than the suite makes. FUZZ_RUNS sets the runs per property (default 200,000); FUZZ_SEED
 * replays a seed. Prints the count of every property and exits 1 on the first failure.
 */
import fc from 'fast-check';
import { PROPERTIES } from './properties.js';

const runs = Number(process.env.FUZZ_RUNS ?? 200_000);
const seed =
  process.env.FUZZ_SEED === undefined
    ? Date.now() ^ (Math.random() * 0x7fffffff)
    : Number(process.env.FUZZ_SEED);
let total = 0;
let failed = false;
console.log(`fuzz: ${runs} runs per property, seed ${seed}`);
for (const [name, property] of Object.entries(PROPERTIES)) {
  const started = Date.now();
  const details = fc.check(property, { numRuns: runs, seed });
  total += details.numRuns;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${details.failed ? 'FAIL' : 'ok  '} ${name}: ${details.numRuns} runs in ${seconds}s`);
  if (details.failed) {
    console.log(fc.defaultReportMessage(details));
    failed = true;
    break;
  }
}
console.log(`fuzz: ${total} runs in all${failed ? ', failed' : ', all passed'}`);
process.exit(failed ? 1 : 0);
