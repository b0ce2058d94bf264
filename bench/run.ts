/**
 * `npm run bench [policy|webhook|scan|broker|noisy|cost] [--seconds N]`: every figure next to a floor measured in the
 * same run, printed as ratios. `noisy` (the noisy-neighbour measurement of bench/noisy-neighbour.ts)
 * and `cost` (CPU per phase of each worst case, bench/worst-case-cost.ts) run only when named.
 */
import { benchPolicy } from './policy.js';
import { benchWebhook } from './webhook.js';

const args = process.argv.slice(2);
const secondsIndex = args.indexOf('--seconds');
const seconds = secondsIndex >= 0 ? Number(args[secondsIndex + 1]) : 5;
const only = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--seconds');
const wants = (name: string) => (only.length === 0 && name !== 'noisy' && name !== 'cost') || only.includes(name);

if (wants('policy')) benchPolicy();
if (wants('webhook')) await benchWebhook(seconds);
if (wants('scan')) {
  const scan = await import('./scan.js');
  await scan.benchScan();
}
if (wants('broker')) {
  const broker = await import('./broker.js');
  await broker.runBrokerBench({ durationSeconds: seconds });
}
if (wants('cost')) {
  const cost = await import('./worst-case-cost.js');
  cost.benchWorstCaseCost();
}
if (wants('noisy')) {
  const noisy = await import('./noisy-neighbour.js');
  await noisy.benchNoisyNeighbour({ seconds });
}
