// Run: node --import tsx test/tenancy/measure-silent-watch.ts   (about 50 s; not part of npm test)
// Measures, with the default bounds, how long a silent Tenant watch takes to be noticed and
// recovered: the API server's open watches go silent (no error, no close), a Tenant is
// created, and we time until the log says "silent" and until the Tenant is served.
import { pino } from 'pino';
import { WatchedRegistry, WATCH_DEFAULTS } from '../../src/tenancy/watch-source.js';
import { TestApiServer } from '../support/test-api-server.js';
import { TENANTS, tenantDoc } from './watch-support.js';

const api = await TestApiServer.start();
api.registerResource(TENANTS);
api.seed(TENANTS, undefined, tenantDoc('team-a'));
let noticedAt = 0;
const logger = pino(
  { level: 'info' },
  {
    write: (s: string) => {
      if (s.includes('Tenant watch silent')) noticedAt = Date.now();
    },
  },
);
const w = new WatchedRegistry({
  kubeConfig: api.kubeConfig(),
  logger,
  argocdNamespace: 'argocd',
  writeStatus: false,
});
w.start();
await w.whenSynced();
while (api.count({ verb: 'watch', resource: 'tenants' }) < 1) await new Promise((r) => setTimeout(r, 10));
const keep = setInterval(() => undefined, 1000);
const t0 = Date.now();
api.stallWatches();
api.seed(TENANTS, undefined, tenantDoc('team-b'));
let notReadyAt = 0;
while (w.current()?.tenant('team-b') === undefined) {
  if (notReadyAt === 0 && !w.isFresh()) notReadyAt = Date.now();
  await new Promise((r) => setTimeout(r, 20));
}
const recoveredAt = Date.now();
console.log(
  JSON.stringify({
    defaults: WATCH_DEFAULTS,
    noticedMs: noticedAt - t0,
    recoveredMs: recoveredAt - t0,
    recoveryAfterNoticeMs: recoveredAt - noticedAt,
    notReadyBeforeRecovery: notReadyAt !== 0,
    readyAgain: w.isFresh(),
  }),
);
clearInterval(keep);
await w.stop();
await api.close();
