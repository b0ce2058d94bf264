/**
 * Graceful drain of the real `tenant-guard serve` process (issue 9 item 3): requests sent
 * continuously across a SIGTERM, over keep-alive and over new connections, get no connection
 * error; /readyz turns 503; new connections are still served after that; a request in flight
 * when the drain window ends finishes; the process exits 0.
 *
 * Driven by events, not sleeps: the child's stderr lines (its URL, "drain window over"),
 * the readiness poll seeing 503, and counts of answered requests. Every loop is bounded.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { reviewBody } from '../server/webhook-app-support.js';
import { REPO_ROOT, tempDir } from './cli-support.js';

/** The child's stderr, line by line, with a wait for the first line matching a pattern. */
function lineWatcher(child: ChildProcess) {
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; ok: (m: RegExpMatchArray) => void }> = [];
  let rest = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    rest += chunk;
    const parts = rest.split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of [...waiters]) {
        const m = line.match(w.pattern);
        if (m !== null) {
          waiters.splice(waiters.indexOf(w), 1);
          w.ok(m);
        }
      }
    }
  });
  return {
    lines,
    waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
      for (const line of lines) {
        const m = line.match(pattern);
        if (m !== null) return Promise.resolve(m);
      }
      return new Promise((ok, fail) => {
        waiters.push({ pattern, ok });
        child.once('exit', () =>
          fail(new Error(`exited before a line matching ${pattern}; stderr:\n${lines.join('\n')}`)),
        );
      });
    },
  };
}

interface Reply {
  status: number;
  body: string;
}

function send(url: string, ca: string, path: string, agent: Agent | false, body?: unknown): Promise<Reply> {
  return new Promise((ok, fail) => {
    const req = httpsRequest(
      `${url}${path}`,
      {
        ca,
        agent,
        method: body === undefined ? 'GET' : 'POST',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const errorText = (err: unknown): string =>
  err instanceof Error ? `${'code' in err ? String(err.code) : ''} ${err.message}` : String(err);

/** This process's environment without TG_* variables: the child serves on its flags alone. */
function withoutTgVariables(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TG_')));
}

describe('tenant-guard serve: graceful drain on SIGTERM (a real child process)', () => {
  test('continuous requests across SIGTERM: no connection error, /readyz 503, new connections served, in-flight finishes, exit 0', async (t) => {
    const certs = join(tempDir(), 'certs');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'serve',
        '--port',
        '0',
        '--certs-dir',
        certs,
        '--drain-seconds',
        '2',
        '--log-level',
        'warn',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: withoutTgVariables() },
    );
    const exited = new Promise<{ code: number | null; at: number }>((ok) =>
      child.once('exit', (code) => ok({ code, at: performance.now() })),
    );
    const stderr = lineWatcher(child);
    try {
      const url = (await stderr.waitFor(/ on (https:\/\/127\.0\.0\.1:\d+) /))[1] ?? '';
      const ca = readFileSync(join(certs, 'ca.pem'), 'utf8');
      const keepAlive = new Agent({ keepAlive: true, ca, maxSockets: 2 });

      const errors: string[] = [];
      let answered = 0;
      let afterNotReady = 0;
      let notReady = false;
      let stop = false;
      let onAnswered: (() => void) | undefined;
      const worker = async (agent: Agent | false, path: string, body?: unknown): Promise<void> => {
        for (let i = 0; i < 100_000 && !stop; i++) {
          try {
            const r = await send(url, ca, path, agent, body);
            if (r.status !== 200) errors.push(`${path}: HTTP ${r.status}`);
            answered++;
            if (notReady && agent === false) afterNotReady++;
            onAnswered?.();
          } catch (err) {
            errors.push(`${path} (${agent === false ? 'new connection' : 'keep-alive'}): ${errorText(err)}`);
            return;
          }
        }
      };
      const until = (predicate: () => boolean): Promise<void> =>
        new Promise((ok) => {
          if (predicate()) return ok();
          onAnswered = () => {
            if (predicate() || errors.length > 0) {
              onAnswered = undefined;
              ok();
            }
          };
        });
      const review = reviewBody();
      const workers = [
        worker(keepAlive, '/validate', review),
        worker(keepAlive, '/healthz'),
        worker(false, '/validate', review),
        worker(false, '/healthz'),
      ];
      await until(() => answered >= 20);

      // A request in flight across the whole drain window: headers and half the body now, the rest after "drain window over".
      const slowBody = JSON.stringify(review);
      const slow = new Promise<Reply>((ok, fail) => {
        const req = httpsRequest(
          `${url}/validate`,
          {
            ca,
            agent: false,
            method: 'POST',
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(slowBody) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
            );
          },
        );
        req.on('error', fail);
        req.write(slowBody.slice(0, 10));
        void stderr.waitFor(/drain window over/).then(
          () => req.end(slowBody.slice(10)),
          () => undefined,
        );
      });
      slow.catch(() => undefined);
      // The slow request's half is on the server before the signal: another request on a new connection was answered after it was written.
      const answeredBefore = answered;
      await until(() => answered >= answeredBefore + 4);

      const sigterm = performance.now();
      assert.ok(child.kill('SIGTERM'));
      let readyAfterSignal = 0;
      for (let i = 0; i < 10_000; i++) {
        const r = await send(url, ca, '/readyz', false);
        if (r.status === 503) {
          assert.match(r.body, /not-draining/);
          break;
        }
        readyAfterSignal++;
      }
      const notReadyAt = performance.now();
      notReady = true;
      // What kube-proxy and the API server do until the Endpoints change reaches them: keep sending, on new connections too.
      await until(() => afterNotReady >= 4);
      stop = true;
      await Promise.all(workers);
      keepAlive.destroy();

      await stderr.waitFor(/drain window over/);
      const inFlight = await slow;
      const { code, at } = await exited;
      assert.deepEqual(errors, [], 'no request sent across the SIGTERM failed');
      assert.equal(inFlight.status, 200, 'the request in flight when the window ended was answered');
      assert.equal(
        (JSON.parse(inFlight.body) as { response: { uid: string } }).response.uid,
        '705ab4f5-6393-11e8-b7cc-42010a800002',
      );
      assert.equal(code, 0);
      assert.ok(afterNotReady >= 4 && answered > 30);
      assert.match((await stderr.waitFor(/stopped \d+ ms after SIGTERM/))[0], /stopped/);
      t.diagnostic(
        `drain 2 s: ${answered} requests answered, ${errors.length} errors; /readyz 503 ${Math.round(notReadyAt - sigterm)} ms after SIGTERM (${readyAfterSignal} polls still 200 before the signal arrived); exit ${Math.round(at - sigterm)} ms after SIGTERM`,
      );
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
