/**
 * The broker's signing floor in its own process: bare jose signing of the broker's claims,
 * one token after another (serial), for `seconds`. Prints `SIGN <tokens per second>`.
 *   node --import tsx bench/sign-floor.ts RS256|ES256 [seconds]
 */
import { generateKeyRecord } from '../src/broker/keys/key-material.js';
import type { SigningAlg } from '../src/broker/options.js';
import { signToken } from '../src/broker/keys/signer.js';

export const CALLER = 'system:serviceaccount:argocd:argocd-application-controller';

async function main(): Promise<void> {
  const alg = (process.argv[2] ?? 'RS256') as SigningAlg;
  const seconds = Number(process.argv[3] ?? '5');
  const key = await generateKeyRecord(alg, Date.now(), Date.now());
  const claims = {
    issuer: 'https://bench.example.com',
    subject: 'tenantguard:k8s-bench-dev',
    audience: 'k8s-bench-dev',
    groups: ['tenant-admins'],
    ttlSeconds: 60,
    caller: CALLER,
  };
  await signToken(key, claims, Date.now()); // imports the key once, as the broker does
  const end = Date.now() + seconds * 1000;
  let count = 0;
  const started = performance.now();
  while (Date.now() < end) {
    await signToken(key, claims, Date.now());
    count++;
  }
  process.stdout.write(`SIGN ${count / ((performance.now() - started) / 1000)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
