// The load generator in its own process (plain JS, no tsx): `node bench/load-child.mjs '<json>'`
// runs one autocannon load and prints its result as one JSON line. bench/load.ts spawns it,
// so the generator never shares an event loop (or a core's time slice) with a server.
import autocannon from 'autocannon';

const o = JSON.parse(process.argv[2] ?? '{}');
const url = new URL(o.url);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new Error(`benchmarks target loopback only, not ${url.hostname}`);
const result = await autocannon({
  url: o.url,
  method: o.method ?? 'GET',
  ...(o.body === undefined ? {} : { body: o.body }),
  headers: { 'content-type': 'application/json', ...o.headers },
  duration: o.durationSeconds ?? 5,
  connections: o.connections ?? 8,
  pipelining: 1,
  // Self-signed certificates of the run; loopback only.
  tlsOptions: { rejectUnauthorized: false },
});
process.stdout.write(`${JSON.stringify({
  requestsPerSecond: result.requests.average,
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
  errors: result.errors + result.timeouts,
  non2xx: result.non2xx,
})}\n`);
