// A broker stand-in the credential tests control fully: what it answers, how late, and what it
// was asked. TLS with a test CA from test/support/test-tls.ts; listens on 127.0.0.1, port 0.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestTls } from '../support/test-tls.js';

/** A JWT-shaped token (not signed: the plugin never verifies) with the given claims. */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'test' })}.${part(claims)}.${Buffer.from('signature-bytes').toString('base64url')}`;
}

/** One request the fake broker saw. */
export interface SeenRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: string;
}

/** What the fake broker does with a request: an answer, `hang` (never answer) or `reset` (drop the connection). */
export type FakeAnswer =
  | { status: number; body: string; contentType?: string; delayMs?: number; headers?: Record<string, string> }
  | 'hang'
  | 'reset';

export interface FakeBroker {
  url: string;
  port: number;
  requests: SeenRequest[];
  /** Replaces how requests are answered; called with the request number (1-based). */
  answer: (fn: (req: SeenRequest, n: number) => FakeAnswer) => void;
  close: () => Promise<void>;
}

/** JSON answer of POST /v1/tokens with a JWT that expires `ttlSeconds` from now. */
export function tokenAnswer(
  ttlSeconds = 60,
  extra: Record<string, unknown> = {},
): { status: number; body: string; contentType: string; token: string; exp: number } {
  const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
  const token = fakeJwt({
    iss: 'https://broker.test',
    sub: 'tenantguard:k8s-team-a-dev',
    aud: 'k8s-team-a-dev',
    exp,
    ...extra,
  });
  return {
    status: 200,
    body: JSON.stringify({ token, expirationTimestamp: new Date(exp * 1000).toISOString() }),
    contentType: 'application/json',
    token,
    exp,
  };
}

/** The target a request asks for: `{"target"}` of a POST, `targetName` of the drop-in GET. */
export function targetOf(req: SeenRequest): string {
  try {
    const body: unknown = JSON.parse(req.body);
    if (typeof body === 'object' && body !== null && 'target' in body && typeof body.target === 'string')
      return body.target;
  } catch {
    // not JSON
  }
  return new URL(req.path, 'https://x').searchParams.get('targetName') ?? '';
}

/** Starts the fake broker; by default it answers every request with a fresh 60 s token for the target asked (its `aud`). */
export async function startFakeBroker(tls: TestTls): Promise<FakeBroker> {
  const requests: SeenRequest[] = [];
  let handler: (req: SeenRequest, n: number) => FakeAnswer = (req) =>
    tokenAnswer(60, { aud: targetOf(req) || 'k8s-team-a-dev' });
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer(
    { cert: tls.certPem, key: tls.keyPem },
    (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen: SeenRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          authorization: req.headers.authorization,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        requests.push(seen);
        const a = handler(seen, requests.length);
        if (a === 'hang') {
          hanging.add(res);
          return;
        }
        if (a === 'reset') {
          req.socket.destroy();
          return;
        }
        setTimeout(() => {
          res.writeHead(a.status, { 'Content-Type': a.contentType ?? 'application/json', ...a.headers });
          res.end(a.body);
        }, a.delayMs ?? 0);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    requests,
    answer: (fn) => {
      handler = fn;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
