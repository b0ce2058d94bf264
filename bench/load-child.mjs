// The load generator in its own process (plain JS, no tsx): `node bench/load-child.mjs '<json>'`
// runs one autocannon load and prints its result as one JSON line. bench/load.ts spawns it,
// so the generator never shares an event loop (or a core's time slice) with a server.
// With `"latency": true` it runs its own closed-loop client instead (`connections` keep-alive
// connections, one request in flight on each), timing every request with hrtime: autocannon
// reports whole milliseconds, too coarse for a p99 of a few hundred µs.
import { Agent, request } from 'node:https';
import autocannon from 'autocannon';

const o = JSON.parse(process.argv[2] ?? '{}');
const url = new URL(o.url);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
  throw new Error(`benchmarks target loopback only, not ${url.hostname}`);
if (o.latency === true) {
  const connections = o.connections ?? 4;
  // Self-signed certificates of the run; loopback only.
  const agent = new Agent({ keepAlive: true, maxSockets: connections, rejectUnauthorized: false });
  const headers = { 'content-type': 'application/json', ...o.headers };
  const one = () =>
    new Promise((ok, fail) => {
      const started = process.hrtime.bigint();
      const req = request(o.url, { method: o.method ?? 'GET', agent, headers }, (res) => {
        res.resume();
        res.on('end', () => ok({ ns: Number(process.hrtime.bigint() - started), status: res.statusCode }));
      });
      req.on('error', fail);
      req.end(o.body);
    });
  const samples = [];
  let non2xx = 0;
  const end = Date.now() + (o.durationSeconds ?? 5) * 1000;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        const r = await one();
        samples.push(r.ns);
        if (r.status < 200 || r.status >= 300) non2xx++;
      }
    }),
  );
  const seconds = (performance.now() - began) / 1000;
  agent.destroy();
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] / 1e6;
  process.stdout.write(
    `${JSON.stringify({ requestsPerSecond: samples.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), errors: 0, non2xx })}\n`,
  );
  process.exit(0);
}
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
process.stdout.write(
  `${JSON.stringify({
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  })}\n`,
);
