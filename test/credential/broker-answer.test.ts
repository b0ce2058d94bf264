import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  brokerReason,
  processBrokerAnswer,
  sanitizeReason,
  type AttemptResult,
} from '../../src/credential/broker-answer.js';
import { resolveBrokerEndpoint } from '../../src/credential/broker-endpoint.js';
import { fakeJwt } from './fake-broker.js';

const tokens = resolveBrokerEndpoint('https://broker.example');
const dropIn = resolveBrokerEndpoint('https://broker.example/api/get-target-token');
const EXP = 1_900_000_060;
const JWT = fakeJwt({ sub: 'tenantguard:k8s-team-a-dev', exp: EXP });

function failed(r: AttemptResult): Extract<AttemptResult, { ok: false }> {
  assert.equal(r.ok, false);
  if (r.ok) throw new Error('unreachable');
  return r;
}

describe('processBrokerAnswer: success', () => {
  test('/v1/tokens: the token and what the broker stated (expiry, audience), unchecked here', () => {
    const r = processBrokerAnswer(tokens, 't', {
      status: 200,
      statusText: 'OK',
      contentType: 'application/json',
      body: JSON.stringify({
        token: JWT,
        expirationTimestamp: new Date((EXP - 10) * 1000).toISOString(),
        audience: 'aud-1',
      }),
    });
    assert.deepEqual(r, {
      ok: true,
      issued: { token: JWT, statedExpiresAt: (EXP - 10) * 1000, audience: 'aud-1' },
    });
  });
  test('/v1/tokens with an opaque token: the stated expirationTimestamp', () => {
    const r = processBrokerAnswer(tokens, 't', {
      status: 200,
      statusText: 'OK',
      contentType: 'application/json',
      body: '{"token":"opaque","expirationTimestamp":"2030-01-01T00:00:00Z"}',
    });
    assert.deepEqual(r, {
      ok: true,
      issued: { token: 'opaque', statedExpiresAt: Date.parse('2030-01-01T00:00:00Z') },
    });
  });
  test('drop-in endpoint: plain body, nothing stated', () => {
    const r = processBrokerAnswer(dropIn, 't', {
      status: 200,
      statusText: 'OK',
      contentType: 'text/plain',
      body: `${JWT}\n`,
    });
    assert.deepEqual(r, { ok: true, issued: { token: JWT } });
  });
  test('drop-in endpoint with an opaque token: no expiry', () => {
    assert.deepEqual(
      processBrokerAnswer(dropIn, 't', {
        status: 200,
        statusText: 'OK',
        contentType: 'text/plain',
        body: 'opaque',
      }),
      { ok: true, issued: { token: 'opaque' } },
    );
  });
});

describe('processBrokerAnswer: failures', () => {
  const cases: Array<[string, number, string, string, boolean, RegExp]> = [
    [
      '401 JSON',
      401,
      'application/json',
      '{"error":"ERR_BROKER_UNAUTHENTICATED","message":"caller token rejected by TokenReview: token expired"}',
      false,
      /^broker https:\/\/broker\.example\/v1\/tokens answered 401 Unauthorized for target "t": caller token rejected by TokenReview: token expired \(ERR_BROKER_UNAUTHENTICATED\)$/,
    ],
    [
      '403 JSON',
      403,
      'application/json',
      '{"error":"forbidden","message":"caller system:serviceaccount:argocd:argocd-server may not obtain tokens"}',
      false,
      /403 Forbidden for target "t": caller system:serviceaccount:argocd:argocd-server may not obtain tokens \(forbidden\)$/,
    ],
    [
      '404 plain text',
      404,
      'text/plain',
      'unknown target "t"\n',
      false,
      /404 Not Found for target "t": unknown target "t"$/,
    ],
    [
      '429 retryable',
      429,
      'application/json',
      '{"message":"slow down"}',
      true,
      /429 Too Many Requests .*: slow down$/,
    ],
    [
      '503 retryable',
      503,
      'application/json',
      '{"error":"ERR_BROKER_REVIEW_UNAVAILABLE","message":"TokenReview failed"}',
      true,
      /503 Service Unavailable .*: TokenReview failed \(ERR_BROKER_REVIEW_UNAVAILABLE\)$/,
    ],
    [
      '500 empty body',
      500,
      'text/plain',
      '',
      true,
      /500 Internal Server Error for target "t": no reason given \(the broker failed\)$/,
    ],
  ];
  const texts: Record<number, string> = {
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    429: 'Too Many Requests',
    503: 'Service Unavailable',
    500: 'Internal Server Error',
  };
  for (const [name, status, contentType, body, retryable, message] of cases) {
    test(name, () => {
      const r = failed(
        processBrokerAnswer(tokens, 't', { status, statusText: texts[status] ?? '', contentType, body }),
      );
      assert.equal(r.retryable, retryable);
      assert.equal(r.error.code, status < 500 ? 'ERR_CREDENTIAL_REFUSED' : 'ERR_CREDENTIAL_BROKER');
      assert.match(r.error.message, message);
    });
  }
  const malformed: Array<[string, string, RegExp]> = [
    ['not JSON', 'nope', /the body is not a JSON object/],
    ['no token', '{"expirationTimestamp":"2030-01-01T00:00:00Z"}', /the JSON has no "token" string/],
    ['token with spaces', '{"token":"a b"}', /the JSON has no "token" string/],
  ];
  for (const [name, body, message] of malformed) {
    test(`malformed 200: ${name}`, () => {
      const r = failed(
        processBrokerAnswer(tokens, 't', {
          status: 200,
          statusText: 'OK',
          contentType: 'application/json',
          body,
        }),
      );
      assert.equal(r.retryable, false);
      assert.equal(r.error.code, 'ERR_CREDENTIAL_BROKER');
      assert.match(r.error.message, message);
    });
  }
  test('no reason given: what the status usually means', () => {
    const r = failed(
      processBrokerAnswer(tokens, 't', {
        status: 404,
        statusText: 'Not Found',
        contentType: 'text/html',
        body: '',
      }),
    );
    assert.match(
      r.error.message,
      /answered 404 Not Found for target "t": no reason given \(unknown target, or no broker endpoint at this URL\)$/,
    );
  });
  test('a redirect is not followed', () => {
    const r = failed(
      processBrokerAnswer(tokens, 't', {
        status: 302,
        statusText: 'Found',
        contentType: 'text/html',
        body: '',
      }),
    );
    assert.equal(r.retryable, false);
    assert.equal(r.error.code, 'ERR_CREDENTIAL_BROKER');
  });
});

describe('brokerReason and sanitizeReason', () => {
  test('a Kubernetes Status message', () => {
    assert.equal(
      brokerReason({
        contentType: 'application/json',
        body: '{"kind":"Status","message":"nope","code":403}',
      }),
      'nope',
    );
  });
  test('one line, no control characters', () => {
    assert.equal(sanitizeReason('line one\r\nline\ttwo\x1b[31m red'), 'line one line two [31m red');
  });
  test('JWT-like strings are redacted', () => {
    assert.equal(sanitizeReason(`token ${JWT} is bad`), 'token [token redacted] is bad');
  });
  test('bounded length', () => {
    assert.equal(sanitizeReason('x'.repeat(1000)).length, 303);
  });
  test('empty body: no reason', () => {
    assert.equal(brokerReason({ contentType: 'text/plain', body: ' \n' }), undefined);
  });
});

describe('processBrokerAnswer: what the broker states is taken only when it is well formed', () => {
  const answer = (body: string) => ({ status: 200, statusText: 'OK', contentType: 'application/json', body });

  test('an expirationTimestamp that is no date is left out (the token exp decides), never NaN', () => {
    const r = processBrokerAnswer(
      tokens,
      't',
      answer(JSON.stringify({ token: JWT, expirationTimestamp: 'soon' })),
    );
    assert.deepEqual(r, { ok: true, issued: { token: JWT } });
  });

  test('an empty stated audience is left out (the target name is expected), not expected as ""', () => {
    const r = processBrokerAnswer(tokens, 't', answer(JSON.stringify({ token: JWT, audience: '' })));
    assert.deepEqual(r, { ok: true, issued: { token: JWT } });
  });

  test('a drop-in body of a token and a control character is not a single token', () => {
    const r = processBrokerAnswer(dropIn, 't', {
      status: 200,
      statusText: 'OK',
      contentType: 'text/plain',
      body: `${JWT}\u0001`,
    });
    assert.match(failed(r).error.message, /not a single token/);
  });
});
