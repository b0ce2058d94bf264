/**
 * The image runs the command bundled by scripts/build-server.mjs (Dockerfile ENTRYPOINT).
 * Built here and run as the image would: `serve` with a file registry and no certificates
 * yet (it makes them: selfsigned is loaded lazily from a chunk of the bundle), answering
 * /mutate with the tenant's patch.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildServer, RUN_TIME_JSON_BYTES } from '../../scripts/build-server.mjs';
import { startProcess, stop } from '../../bench/processes.js';
import { SERVE_LISTENING, serveWebhookArgs } from '../../bench/serve-process.js';
import { admissionReview, argoKind, tenantsYaml } from '../support/policy-fixtures.js';

const REVIEW = JSON.stringify(
  admissionReview({
    uid: 'bundle-1',
    kind: argoKind('Application'),
    resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'applications' },
    name: 'guestbook',
    namespace: 'team-a',
    operation: 'CREATE',
    userInfo: { username: 'alice', groups: ['team-a-admins'] },
    object: {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'guestbook', namespace: 'team-a' },
      spec: {
        project: 'team-a',
        source: { repoURL: 'https://github.com/example/apps.git', path: 'guestbook' },
        destination: { name: 'k8s-team-a-dev', namespace: 'guestbook' },
      },
    },
  }),
);

function post(port: number, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    // The certificate the bundle just made for itself; loopback only.
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate',
        method: 'POST',
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the server bundle the image runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-server-bundle-'));
  let main = '';
  before(async () => {
    main = await buildServer(join(dir, 'server'));
    writeFileSync(join(dir, 'tenants.yaml'), tenantsYaml('two-teams'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('serve makes its certificates, loads the tenants and answers /mutate with the patch', async () => {
    const env = { ...process.env };
    delete env.KUBERNETES_SERVICE_HOST;
    const served = await startProcess(serveWebhookArgs(main, join(dir, 'tenants.yaml'), join(dir, 'certs')), {
      env,
      listenPattern: SERVE_LISTENING,
      discardStdout: true,
    });
    try {
      const answer = await post(served.port, REVIEW);
      assert.equal(answer.status, 200);
      const review = JSON.parse(answer.text) as {
        response: { uid: string; allowed: boolean; patch?: string };
      };
      assert.equal(review.response.uid, 'bundle-1');
      assert.equal(review.response.allowed, true);
      const patch = JSON.parse(Buffer.from(review.response.patch ?? '', 'base64').toString('utf8')) as Array<{
        path: string;
      }>;
      assert.ok(
        patch.some((op) => op.path.startsWith('/metadata/labels')),
        `the tenant label is pinned: ${JSON.stringify(patch)}`,
      );
    } finally {
      await stop(served);
    }
  });

  test("dependencies' large JSON data are read from node_modules when required, not inlined", () => {
    const out = join(dir, 'server');
    const sources = readdirSync(out)
      .filter((f) => f.endsWith('.mjs'))
      .map((f) => readFileSync(join(out, f), 'utf8'));
    const required = new Set(
      sources.flatMap((s) => [...s.matchAll(/require\("(\.\/[^"]+\.json)"\)/g)].map((m) => m[1] ?? '')),
    );
    const files = [...required].map((p) => resolve(out, p));
    assert.ok(
      files.some((f) => f.endsWith(`${sep}node_modules${sep}mime-db${sep}db.json`)),
      `the MIME database is among them: ${[...required].join(', ')}`,
    );
    for (const file of files) {
      assert.ok(existsSync(file), `${file} is where the bundle requires it`);
      assert.ok(file.includes(`${sep}node_modules${sep}`), `${file}: a dependency's`);
      assert.ok(statSync(file).size >= RUN_TIME_JSON_BYTES, `${file}: only large files stay outside`);
    }
    // mime-db's first entry, in the JSON and in any literal esbuild would have made of it.
    assert.ok(
      !sources.some((s) => s.includes('application/1d-interleaved-parityfec')),
      'no bundle file holds the MIME database',
    );
  });
});
