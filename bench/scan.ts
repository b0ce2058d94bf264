/**
 * `npm run bench scan`: a full background scan of 10,000 Applications (100 namespaces,
 * 10 tenants; a tenth of them out of bounds) written as PolicyReports to the test API
 * server, the reporter in its own process. The floor is a process that only lists the same
 * objects through client-node. Prints time and peak RSS, and the ratios.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { TestApiServer } from '../test/support/test-api-server.js';
import { application, ARGO_TYPES, POLICY_REPORTS } from '../test/report/report-support.js';

const TENANTS = 10;
const NAMESPACES_PER_TENANT = 10;
const OBJECTS = 10_000;

function tenantsYaml(): string {
  const docs = [];
  for (let t = 0; t < TENANTS; t += 1) {
    docs.push({
      apiVersion: 'tenantguard.dev/v1alpha1',
      kind: 'Tenant',
      metadata: { name: `t${t}` },
      spec: {
        owners: { groups: [`t${t}-admins`] },
        namespaces: Array.from({ length: NAMESPACES_PER_TENANT }, (_, n) => `t${t}-n${n}`),
        projects: [`t${t}`],
        clusters: [
          { name: `t${t}-dev`, server: `https://t${t}-dev.example.com` },
          { name: `t${t}-prod`, server: `https://t${t}-prod.example.com` },
        ],
      },
    });
  }
  return docs.map((d) => stringify(d)).join('---\n');
}

/** Runs the scan child (asynchronously: this process serves its API). */
function child(
  kubeconfig: string,
  tenants: string,
  mode: string[],
): Promise<{ seconds: number; maxRssMB: number }> {
  return new Promise((resolveRun, reject) => {
    const run = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        new URL('./scan-child.ts', import.meta.url).pathname,
        kubeconfig,
        tenants,
        String(OBJECTS),
        ...mode,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    run.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    run.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    const limit = setTimeout(() => run.kill('SIGKILL'), 300_000);
    run.on('close', (code) => {
      clearTimeout(limit);
      if (code !== 0) reject(new Error(`scan child failed (${code}): ${err}`));
      else
        resolveRun(
          JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { seconds: number; maxRssMB: number },
        );
    });
  });
}

export async function benchScan(): Promise<void> {
  const api = await TestApiServer.start({ historyLimit: 100_000 });
  try {
    for (const t of [...ARGO_TYPES, POLICY_REPORTS]) api.registerResource(t);
    const apps = ARGO_TYPES[1] as (typeof ARGO_TYPES)[number];
    for (let i = 0; i < OBJECTS; i += 1) {
      const t = i % TENANTS;
      const ns = `t${t}-n${Math.floor(i / TENANTS) % NAMESPACES_PER_TENANT}`;
      // Every tenth object targets another tenant's cluster: a fail result.
      const target = i % 10 === 9 ? `t${(t + 1) % TENANTS}-dev` : `t${t}-prod`;
      const app = application(ns, `app-${i}`, target, `t${t}`);
      (app.metadata as { labels: Record<string, string> }).labels['tenantguard.dev/tenant'] = `t${t}`;
      api.seed(apps, ns, app);
    }
    const dir = mkdtempSync(join(tmpdir(), 'tg-bench-scan-'));
    const kubeconfig = join(dir, 'kubeconfig');
    const tenants = join(dir, 'tenants.yaml');
    writeFileSync(kubeconfig, api.kubeConfig().exportConfig());
    writeFileSync(tenants, tenantsYaml());
    const floor = await child(kubeconfig, tenants, ['--floor']);
    const scan = await child(kubeconfig, tenants, []);
    const reports = api.objects(POLICY_REPORTS) as { summary: { fail: number; pass: number } }[];
    const fails = reports.reduce((n, r) => n + r.summary.fail, 0);
    console.log(
      `\nbackground scan: ${OBJECTS} Applications in ${TENANTS * NAMESPACES_PER_TENANT} namespaces, reporter in its own process`,
    );
    console.log('| what | seconds | peak RSS MB |');
    console.log('| --- | ---: | ---: |');
    console.log(
      `| floor: list the objects through client-node | ${floor.seconds.toFixed(2)} | ${floor.maxRssMB.toFixed(0)} |`,
    );
    console.log(
      `| full scan: list, judge, write ${reports.length} PolicyReports (${fails} fail results) | ${scan.seconds.toFixed(2)} | ${scan.maxRssMB.toFixed(0)} |`,
    );
    console.log(
      `| ratio scan / floor | x${(scan.seconds / floor.seconds).toFixed(1)} | x${(scan.maxRssMB / floor.maxRssMB).toFixed(2)} |`,
    );
  } finally {
    await api.close();
  }
}
