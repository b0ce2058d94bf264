import { startServe } from '../src/cli/serve.js';
import { brokerComponent } from '../src/broker/serve-component.js';
import { pino } from 'pino';
try {
const handle = await startServe({ port: '0', certsDir: '/tmp/tgserve/certs', keyDir: '/tmp/tgserve/keys', issuer: 'https://127.0.0.1:1/x' }, { stdout: process.stdout, stderr: { write: () => true }, env: {}, cwd: process.cwd() } as never, { components: [brokerComponent], logger: pino({ level: 'warn' }) });
console.log('url', handle.url);
const r1 = await fetch(`${handle.url}/x/.well-known/openid-configuration`).catch((e) => String(e.cause ?? e));
console.log(r1);
const { execSync } = await import('node:child_process');
const c = '/tmp/tgserve/certs/ca.pem';
console.log(execSync(`curl -sS --cacert ${c} ${handle.url}/x/.well-known/openid-configuration; echo; curl -s -o /dev/null -w '%{http_code} ' --cacert ${c} ${handle.url}/x/openid/v1/jwks; curl -s --cacert ${c} -H 'Authorization: Bearer x' '${handle.url}/api/get-target-token?targetName=k8s-team-a-dev'`).toString());
await handle.close(100);
} catch (e) { console.log('ERR', e); }
