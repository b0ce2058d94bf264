// The HTTPS floor in its own process (plain JS, nothing of ours loaded): every request's
// body is read and dropped, and a fixed AdmissionReview (POST) or a fixed short token (GET)
// is sent. Prints `PORT <n>` once listening and `RSS <bytes>` on SIGUSR2; stops on SIGTERM.
// `node bench/noop-server.mjs <µs>`: each request first spends that much CPU (a busy loop),
// a calibration of what a handler with work of that size reaches on this machine.
// `node bench/noop-server.mjs --parse`: each POST body is read into one string and
// `JSON.parse`d first, the least any AdmissionReview handler must do (another calibration).
import { createServer } from 'node:https';
import { generate } from 'selfsigned';

const tls = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
  keyType: 'ec',
  algorithm: 'sha256',
});
const review = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true },
});
const parse = process.argv[2] === '--parse';
const busyMicroseconds = parse ? 0 : Number(process.argv[2] ?? 0);
if (!Number.isFinite(busyMicroseconds) || busyMicroseconds < 0)
  throw new Error(`bad busy time ${process.argv[2]}`);
const busy = BigInt(Math.round(busyMicroseconds * 1000));

const server = createServer({ cert: tls.cert, key: tls.private }, (req, res) => {
  const chunks = parse ? [] : undefined;
  if (chunks !== undefined) req.on('data', (chunk) => chunks.push(chunk));
  else req.resume();
  req.on('end', () => {
    if (
      chunks !== undefined &&
      req.method === 'POST' &&
      typeof JSON.parse(Buffer.concat(chunks).toString('utf8')) !== 'object'
    )
      throw new Error('the benchmark body is not a JSON object');
    if (busy > 0n) {
      const until = process.hrtime.bigint() + busy;
      while (process.hrtime.bigint() < until);
    }
    const post = req.method === 'POST';
    res.writeHead(200, { 'content-type': post ? 'application/json' : 'text/plain' });
    res.end(post ? review : 'token');
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${server.address().port}\n`));
process.on('SIGUSR2', () => process.stdout.write(`RSS ${process.memoryUsage.rss()}\n`));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
