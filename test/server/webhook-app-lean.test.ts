/**
 * The lean admission path of createWebhookApp over real HTTPS: which requests it takes
 * (express never sees them: the request keeps node's own prototype) and that its answers
 * for bodies that are too large, not JSON or not a review are express's answers.
 */
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { generateCertificates } from '../../src/server/certificates.js';
import { WEBHOOK_METRICS } from '../../src/server/metrics.js';
import { buildApp, reviewBody, type AppUnderTest } from './webhook-app-support.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  lean: boolean;
}

describe('webhook app over HTTPS: the lean admission path', () => {
  let server: Server;
  let port: number;
  let underTest: AppUnderTest;
  /** Per request, in order: true when express never touched it. */
  const lean: boolean[] = [];

  before(async () => {
    const bundle = await generateCertificates({ names: ['127.0.0.1'] });
    underTest = buildApp({ bodyLimitBytes: 1024 });
    server = createServer({ cert: bundle.cert, key: bundle.key }, (req, res) => {
      res.on('finish', () => lean.push(Object.getPrototypeOf(req) === IncomingMessage.prototype));
      underTest.app(req, res);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  });

  /** One request; `body` as chunks when an array (chunked, no Content-Length). */
  function send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: string | string[],
  ): Promise<Answer> {
    return new Promise((ok, fail) => {
      // The test's own self-signed certificate, on loopback.
      const req = request(
        { host: '127.0.0.1', port, path, method, headers, rejectUnauthorized: false, agent: false },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () =>
            setImmediate(() =>
              ok({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: text,
                lean: lean.at(-1) ?? false,
              }),
            ),
          );
        },
      );
      req.on('error', fail);
      if (Array.isArray(body)) {
        for (const chunk of body) req.write(chunk);
        req.end();
      } else {
        req.end(body);
      }
    });
  }
  const json = { 'content-type': 'application/json' };

  test('POST /mutate and /validate with a query string (the API server adds ?timeout=) take the lean path', async () => {
    for (const path of ['/mutate?timeout=10s', '/validate?timeout=10s']) {
      const res = await send('POST', path, json, JSON.stringify(reviewBody()));
      assert.equal(res.status, 200);
      assert.equal(res.lean, true, `${path} is answered without express`);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      const answer = JSON.parse(res.body) as { kind: string; response: { uid: string; allowed: boolean } };
      assert.equal(answer.kind, 'AdmissionReview');
      assert.equal(answer.response.allowed, true);
    }
  });

  test('other routes, and an unusual Content-Type, still go to express', async () => {
    const health = await send('GET', '/healthz', {});
    assert.equal(health.status, 200);
    assert.equal(health.lean, false);
    const getMutate = await send('GET', '/mutate', {});
    assert.equal(getMutate.status, 404);
    assert.equal(getMutate.lean, false);
    const text = await send(
      'POST',
      '/validate',
      { 'content-type': 'text/plain' },
      JSON.stringify(reviewBody()),
    );
    assert.equal(text.status, 415);
    assert.match(text.body, /Content-Type must be application\/json/);
    assert.equal(text.lean, false);
  });

  test('a body above the limit is 413, by Content-Length or while read in chunks', async () => {
    const big = JSON.stringify({ ...reviewBody(), padding: 'x'.repeat(2048) });
    const declared = await send('POST', '/validate', json, big);
    assert.equal(declared.status, 413);
    assert.equal(declared.lean, true);
    assert.equal(
      JSON.parse(declared.body).message,
      'AdmissionReview body is larger than the limit of the webhook',
    );
    const chunked = await send('POST', '/mutate', json, [big.slice(0, 600), big.slice(600)]);
    assert.equal(chunked.status, 413);
    assert.equal(
      chunked.lean,
      false,
      'a body of unknown length takes its turn at the large-request gate, on the express route',
    );
    assert.equal(
      JSON.parse(chunked.body).message,
      'AdmissionReview body is larger than the limit of the webhook',
    );
    const metrics = await underTest.metricsRegistry.getSingleMetricAsString(WEBHOOK_METRICS.requests);
    assert.match(metrics, /endpoint="mutate",kind="unknown",decision="bad_request"/);
  });

  test('a body that is not JSON, or JSON but not an object, is 400 with the express message', async () => {
    for (const body of ['{"apiVersion": ', '"AdmissionReview"', '  42']) {
      const res = await send('POST', '/validate', json, body);
      assert.equal(res.status, 400, body);
      assert.equal(res.lean, true);
      assert.equal(
        JSON.parse(res.body).message,
        'body is not valid JSON; expected an admission.k8s.io/v1 AdmissionReview',
      );
    }
  });

  test('an empty body with Content-Length 0 is an empty review (400), a BOM and a UTF-8 charset are accepted', async () => {
    const empty = await send('POST', '/validate', { ...json, 'content-length': '0' }, '');
    assert.equal(empty.status, 400);
    assert.equal(empty.lean, true);
    assert.match(JSON.parse(empty.body).message, /apiVersion \(missing\)/);
    const bom = await send(
      'POST',
      '/validate',
      { 'content-type': 'application/json; charset=UTF-8' },
      `\uFEFF${JSON.stringify(reviewBody())}`,
    );
    assert.equal(bom.status, 200);
    assert.equal(bom.lean, true);
  });
});
