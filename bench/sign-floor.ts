/**
 * The broker's signing floor in its own process: bare jose signing of the broker's claims
 * (jose's SignJWT with the key imported once, as issue 14 defines the floor), one token
 * after another (serial), for `seconds`. Prints `SIGN <tokens per second>`.
 * `--ours` signs with the broker's own signer (src/broker/keys/signer.ts) instead, for the
 * context row that shows what the broker's signing costs against jose's.
 *   node --import tsx bench/sign-floor.ts RS256|ES256 [seconds] [--ours]
 */
import { randomBytes } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';
import { generateKeyRecord } from '../src/broker/keys/key-material.js';
import type { SigningAlg } from '../src/broker/options.js';
import { NBF_SKEW_SECONDS, signToken, type TokenClaims } from '../src/broker/keys/signer.js';
import type { KeyRecord } from '../src/broker/keys/key-ring.js';

const CALLER = 'system:serviceaccount:argocd:argocd-application-controller';

async function joseSigner(record: KeyRecord): Promise<(claims: TokenClaims, now: number) => Promise<string>> {
  const key = await importJWK(record.privateJwk, record.alg);
  return async (claims, now) => {
    const iat = Math.floor(now / 1000);
    return new SignJWT({ act: { sub: claims.caller }, groups: [...claims.groups] })
      .setProtectedHeader({ alg: record.alg, kid: record.kid, typ: 'JWT' })
      .setIssuer(claims.issuer)
      .setSubject(claims.subject)
      .setAudience(claims.audience)
      .setIssuedAt(iat)
      .setNotBefore(iat - NBF_SKEW_SECONDS)
      .setExpirationTime(iat + claims.ttlSeconds)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(key);
  };
}

async function main(): Promise<void> {
  const alg = (process.argv[2] ?? 'RS256') as SigningAlg;
  const seconds = Number(process.argv[3] ?? '5');
  const ours = process.argv.includes('--ours');
  const record = await generateKeyRecord(alg, Date.now(), Date.now());
  const claims: TokenClaims = {
    issuer: 'https://bench.example.com',
    subject: 'tenantguard:k8s-bench-dev',
    audience: 'k8s-bench-dev',
    groups: ['tenant-admins'],
    ttlSeconds: 60,
    caller: CALLER,
  };
  const signOnce = ours
    ? (c: TokenClaims, now: number) => signToken(record, c, now)
    : await joseSigner(record);
  await signOnce(claims, Date.now()); // prepares the key once, as the broker does
  const end = Date.now() + seconds * 1000;
  let count = 0;
  const started = performance.now();
  while (Date.now() < end) {
    await signOnce(claims, Date.now());
    count++;
  }
  process.stdout.write(`SIGN ${count / ((performance.now() - started) / 1000)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
