import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { REPO_ROOT, runCli, tempDir } from './cli-support.js';

const ALLOWED = 'webhook-config/examples/applicationset-allowed.yaml';
const DENIED = 'webhook-config/examples/applicationset-denied.yaml';
const OWNER = ['--user', 'alice', '--groups', 'team-a-admins'];

function writeTemp(name: string, content: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, content);
  return path;
}

function application(project: string, destinationName: string, namespace = 'team-a') {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'web', namespace, labels: { 'tenantguard.dev/tenant': namespace } },
    spec: {
      project,
      destination: { name: destinationName, namespace: 'web' },
      source: { repoURL: 'https://github.com/argoproj/argocd-example-apps.git', path: '.' },
    },
  };
}

describe('tenant-guard check on the shipped examples', () => {
  test('the allowed ApplicationSet: exit 0, the patch, verdict allowed', async () => {
    const r = await runCli(['check', '-f', ALLOWED, ...OWNER]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^ApplicationSet team-a\/guestbook: allowed with warnings \(tenant team-a, enforce\); CREATE by alice \(groups: team-a-admins\); patch: 4 operations$/m,
    );
    assert.match(
      r.stdout,
      /"path": "\/spec\/generators\/0\/clusters\/selector"/,
      "a single object's patch is printed",
    );
    assert.match(r.stdout, /^1 object: 1 allowed \(1 with warnings\), 0 denied; 0 skipped/m);
  });

  test('the denied ApplicationSet: exit 1, every violation line', async () => {
    const r = await runCli(['check', '-f', DENIED, ...OWNER]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^ApplicationSet team-a\/borrowed-clusters: denied \(tenant team-a, enforce\)/m);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('  [TG-'));
    assert.deepEqual(
      lines.map((l) => l.trim().slice(0, 11)),
      ['[TG-AS-01] ', '[TG-AS-03] ', '[TG-AS-04] '],
    );
    assert.match(r.stdout, /\[TG-AS-03\] spec\.template\.spec\.destination\.name "k8s-team-b-prod"/);
  });

  test("-o json gives the patch and the verdict as data, with the audit record's field names", async () => {
    const r = await runCli(['check', '-f', DENIED, ...OWNER, '-o', 'json']);
    assert.equal(r.code, 1);
    const { results, summary } = JSON.parse(r.stdout) as {
      results: Array<Record<string, unknown>>;
      summary: Record<string, number>;
    };
    const body = results[0] ?? {};
    assert.equal(body.allowed, false);
    assert.equal(body.kind, 'ApplicationSet');
    assert.equal(body.tenant, 'team-a');
    assert.equal(body.user, 'alice');
    assert.deepEqual(body.groups, ['team-a-admins']);
    assert.deepEqual(
      (body.rules as Array<{ id: string; path: string }>).map((v) => v.id),
      ['TG-AS-01', 'TG-AS-03', 'TG-AS-04'],
    );
    assert.equal((body.rules as Array<{ path: string }>)[1]?.path, 'spec.template.spec.destination.name');
    assert.ok(Array.isArray(body.patch));
    assert.deepEqual(summary, { objects: 1, allowed: 0, denied: 1, warned: 0, skipped: 0 });
  });

  test('the default user, who owns no tenant, is denied by TG-OWN-03', async () => {
    const r = await runCli(['check', '-f', ALLOWED, '-o', 'json']);
    assert.equal(r.code, 1);
    const body = (JSON.parse(r.stdout) as { results: Array<{ rules: Array<{ id: string }>; user: string }> })
      .results[0];
    assert.equal(body?.user, 'check-user');
    assert.ok(body?.rules.some((v) => v.id === 'TG-OWN-03'));
  });
});

describe('tenant-guard check: requests as the API server builds them', () => {
  test('JSON input from stdin', async () => {
    const r = await runCli(['check', '-f', '-', ...OWNER], {
      stdin: JSON.stringify(application('team-a', 'k8s-team-a-dev')),
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^Application team-a\/web: allowed \(tenant team-a, enforce\); CREATE by alice \(groups: team-a-admins\); patch: none$/m,
    );
  });

  test("UPDATE moving to another tenant's cluster is denied; the old object is the stored one", async () => {
    const old = writeTemp('old.yaml', stringify(application('team-a', 'k8s-team-a-dev')));
    const next = writeTemp('new.yaml', stringify(application('team-a', 'k8s-team-b-dev')));
    const r = await runCli(['check', '-f', next, '--old', old, '--operation', 'UPDATE', ...OWNER]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[TG-APP-02\] spec\.destination\.name "k8s-team-b-dev"/);
  });

  test('DELETE by someone who does not own the tenant is denied', async () => {
    const file = writeTemp('app.yaml', stringify(application('team-a', 'k8s-team-a-dev')));
    const r = await runCli([
      'check',
      '-f',
      file,
      '--operation',
      'delete',
      '--user',
      'mallory',
      '--groups',
      'team-b-admins',
      '-o',
      'json',
    ]);
    assert.equal(r.code, 1);
    const body = (
      JSON.parse(r.stdout) as {
        results: Array<{ operation: string; patch: unknown[]; rules: Array<{ id: string }> }>;
      }
    ).results[0];
    assert.equal(body?.operation, 'DELETE');
    assert.deepEqual(body?.patch, []);
    assert.ok(body?.rules.some((v) => v.id === 'TG-OWN-03'));
  });

  test('settings flags apply (a different tenant label)', async () => {
    const r = await runCli([
      'check',
      '-f',
      ALLOWED,
      ...OWNER,
      '--tenant-label',
      'example.com/team',
      '-o',
      'json',
    ]);
    assert.equal(r.code, 0, r.stdout);
    const body = (
      JSON.parse(r.stdout) as { results: Array<{ patch: Array<{ path: string; value: unknown }> }> }
    ).results[0];
    assert.ok(body?.patch.some((op) => JSON.stringify(op.value).includes('example.com/team')));
  });

  test('an object whose spec is a string is denied under TG-REQ-01', async () => {
    const file = writeTemp(
      'bad.yaml',
      'apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: x, namespace: team-a}\nspec: oops\n',
    );
    const r = await runCli(['check', '-f', file, ...OWNER]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[TG-REQ-01\] object\.spec is a string; expected an object/);
  });
});

describe('tenant-guard check: bad input exits 2', () => {
  const cases: Array<{ name: string; args: () => string[]; stderr: RegExp }> = [
    {
      name: 'unreadable file',
      args: () => ['check', '-f', '/nonexistent/x.yaml'],
      stderr: /cannot read \/nonexistent\/x\.yaml: ENOENT/,
    },
    {
      name: 'YAML error',
      args: () => ['check', '-f', writeTemp('bad.yaml', 'a: [b\n')],
      stderr: /YAML error/,
    },
    {
      name: '--old with two objects',
      args: () => [
        'check',
        '-f',
        writeTemp('two.yaml', 'kind: A\napiVersion: v1\n---\nkind: B\napiVersion: v1\n'),
        '--operation',
        'UPDATE',
        '--old',
        ALLOWED,
      ],
      stderr: /--old goes with exactly one object; .* holds 2/,
    },
    {
      name: 'not a Kubernetes object',
      args: () => ['check', '-f', writeTemp('list.yaml', '- a\n- b\n')],
      stderr: /is not a mapping/,
    },
    {
      name: 'invalid tenants file',
      args: () => [
        'check',
        '-f',
        ALLOWED,
        '--tenants',
        writeTemp(
          't.yaml',
          'apiVersion: tenantguard.dev/v1alpha1\nkind: Tenant\nmetadata: {name: x}\nspec: {}\n',
        ),
      ],
      stderr: /Tenant "x"/,
    },
    {
      name: 'missing tenants file',
      args: () => ['check', '-f', ALLOWED, '--tenants', '/nonexistent/t.yaml'],
      stderr: /cannot read tenants file/,
    },
    {
      name: 'bad operation',
      args: () => ['check', '-f', ALLOWED, '--operation', 'PATCH'],
      stderr: /--operation must be one of CREATE, UPDATE, DELETE/,
    },
    {
      name: 'UPDATE without --old',
      args: () => ['check', '-f', ALLOWED, '--operation', 'UPDATE'],
      stderr: /--operation UPDATE needs --old FILE/,
    },
    {
      name: 'bad output format',
      args: () => ['check', '-f', ALLOWED, '-o', 'xml'],
      stderr: /--output must be text or json/,
    },
    { name: 'no -f', args: () => ['check'], stderr: /required option '-f, --filename <path>' not specified/ },
    {
      name: 'unknown flag',
      args: () => ['check', '-f', ALLOWED, '--frobnicate'],
      stderr: /unknown option '--frobnicate'/,
    },
    { name: 'bad boolean setting', args: () => ['check', '-f', ALLOWED], stderr: /not a boolean/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const env = c.name === 'bad boolean setting' ? { TG_ALLOW_CLUSTER_DECISION_RESOURCE: 'maybe' } : {};
      const r = await runCli(c.args(), { env });
      assert.equal(r.code, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.match(r.stderr, c.stderr);
      assert.equal(r.stdout.includes('verdict'), false);
    });
  }

  test('TG_TENANTS names the tenants file when --tenants is not given', async () => {
    const r = await runCli(['check', '-f', ALLOWED, ...OWNER], {
      env: { TG_TENANTS: '/nonexistent/from-env.yaml' },
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /from-env\.yaml/);
  });
});

describe('tenant-guard check for CI: folders, many objects, skipped kinds, an explicit registry', () => {
  test('a directory, recursively, with multi-document files: one line per object, the skipped counted, exit 1 on any denial', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'team-a', 'apps'), { recursive: true });
    writeFileSync(
      join(dir, 'team-a', 'apps', 'apps.yaml'),
      [
        application('team-a', 'k8s-team-a-dev'),
        { ...application('team-a', 'k8s-team-b-dev'), metadata: { name: 'web-b', namespace: 'team-a' } },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'team-a' } },
      ]
        .map((o) => stringify(o))
        .join('---\n'),
    );
    writeFileSync(join(dir, 'README.md'), 'not a manifest');
    const r = await runCli(['check', '-f', dir, ...OWNER]);
    assert.equal(r.code, 1, r.stderr);
    const objectLines = r.stdout.split('\n').filter((l) => /^Application /.test(l));
    assert.deepEqual(
      objectLines.map((l) => l.split(':')[0]),
      ['Application team-a/web', 'Application team-a/web-b'],
    );
    assert.match(r.stdout, /^Application team-a\/web-b: denied/m);
    assert.match(
      r.stdout,
      /^2 objects: 1 allowed \(0 with warnings\), 1 denied; 1 skipped \(kinds tenant-guard does not judge\)$/m,
    );
  });

  test('kinds it does not judge are skipped, not an error', async () => {
    const r = await runCli([
      'check',
      '-f',
      writeTemp('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^0 objects: 0 allowed \(0 with warnings\), 0 denied; 1 skipped/m);
  });

  test('outside this repository it refuses to run without --tenants; inside, it says it uses the example', async () => {
    const elsewhere = tempDir();
    const refused = await runCli(['check', '-f', join(REPO_ROOT, ALLOWED), ...OWNER], {
      cwd: elsewhere,
      env: {},
    });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /give --tenants FILE \(or TG_TENANTS\)/);
    const here = await runCli(['check', '-f', ALLOWED, ...OWNER], { env: {} });
    assert.equal(here.code, 0);
    assert.match(here.stderr, /using the example registry webhook-config\/examples\/tenants\.yaml/);
  });
});

describe('tenant-guard check on keys a lookup table must not inherit (issue 8)', () => {
  for (const key of ['__proto__', 'constructor', 'toString']) {
    test(`a cluster Secret whose config has ${key}: exit 1 with TG-CS-03, no crash`, async () => {
      const exec = {
        command: '/custom-tools/tenant-guard-credential',
        args: [
          'https://tenant-guard-broker.tenant-guard.svc',
          'k8s-team-a-prod',
          '/var/run/secrets/tenantguard/token',
          '--ca-file',
          '/var/run/secrets/tenantguard/ca.crt',
        ],
        apiVersion: 'client.authentication.k8s.io/v1',
        provideClusterInfo: true,
      };
      const config = `{"execProviderConfig":${JSON.stringify(exec)},${JSON.stringify(key)}:{"x":1}}`;
      const secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: {
          name: 'k8s-team-a-prod',
          namespace: 'argocd',
          labels: { 'argocd.argoproj.io/secret-type': 'cluster', 'tenantguard.dev/tenant': 'team-a' },
        },
        stringData: { name: 'k8s-team-a-prod', server: 'https://team-a-prod.example.com', config },
      };
      const r = await runCli(['check', '-f', writeTemp(`secret-${key}.yaml`, stringify(secret)), ...OWNER]);
      assert.equal(r.code, 1, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.match(r.stdout, /: denied \(/m);
      assert.match(r.stdout, /\[TG-CS-03\] data\.config/);
    });
  }
});

describe('tenant-guard check with exec profiles', () => {
  test('a bad TG_EXEC_PROFILES is bad input: exit 2 naming the setting', async () => {
    const r = await runCli(['check', '-f', ALLOWED, ...OWNER], {
      env: { TG_EXEC_PROFILES: '[{"name":"sh","command":"/bin/sh"}]' },
    });
    assert.equal(r.code, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, /--exec-profiles.*shell/);
  });

  test('--exec-profiles lets a platform Secret run a listed command, and only that', async () => {
    const profiles = JSON.stringify([
      {
        name: 'gke',
        command: '/usr/local/bin/gke-gcloud-auth-plugin',
        apiVersion: 'client.authentication.k8s.io/v1beta1',
      },
    ]);
    const secret = (command: string) =>
      stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: {
          name: 'gke-shared',
          namespace: 'argocd',
          labels: { 'argocd.argoproj.io/secret-type': 'cluster' },
        },
        stringData: {
          name: 'gke-shared',
          server: 'https://gke.example.com',
          config: JSON.stringify({
            execProviderConfig: { command, apiVersion: 'client.authentication.k8s.io/v1beta1' },
          }),
        },
      });
    const admin = ['--user', 'root', '--groups', 'platform-admins', '--exec-profiles', profiles];
    const ok = await runCli([
      'check',
      '-f',
      writeTemp('gke.yaml', secret('/usr/local/bin/gke-gcloud-auth-plugin')),
      ...admin,
    ]);
    assert.equal(ok.code, 0, `stdout: ${ok.stdout}\nstderr: ${ok.stderr}`);
    const denied = await runCli(['check', '-f', writeTemp('sh.yaml', secret('/bin/sh')), ...admin]);
    assert.equal(denied.code, 1, denied.stdout);
    assert.match(denied.stdout, /\[TG-CS-04\] data\.config\.execProviderConfig/);
  });
});

describe('tenant-guard check reads files as kubectl does (found by a red-team review)', () => {
  const APP_HEAD = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: { name: web, namespace: team-a }
spec:
  project: team-a
  source: { repoURL: https://github.com/argoproj/argocd-example-apps.git, path: . }
`;
  const cases: Array<{ name: string; text: string; code: number; stdout?: RegExp; stderr?: RegExp }> = [
    {
      // go-yaml (kubectl, kustomize) merges `<<`: the API server gets team-b's cluster name.
      name: 'a YAML merge key is merged: a destination it hides is denied',
      text: `${APP_HEAD}  destination:\n    <<: { name: k8s-team-b-dev }\n    namespace: web\n`,
      code: 1,
      stdout: /denied .*\[TG-APP-02\] spec\.destination\.name "k8s-team-b-dev"/s,
    },
    {
      // apimachinery treats any object with items as a list, typed or not.
      name: 'a typed list (ApplicationList) is unfolded',
      text: `apiVersion: argoproj.io/v1alpha1\nkind: ApplicationList\nitems:\n- ${APP_HEAD.replace(/\n(?!$)/g, '\n  ')}  destination: { name: k8s-team-b-dev, namespace: web }\n`,
      code: 1,
      stdout: /1 object: 0 allowed \(0 with warnings\), 1 denied/,
    },
    {
      name: 'a List in a List is unfolded',
      text: `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - ${APP_HEAD.replace(/\n(?!$)/g, '\n    ')}    destination: { name: k8s-team-b-dev, namespace: web }\n`,
      code: 1,
      stdout: /1 object: 0 allowed \(0 with warnings\), 1 denied/,
    },
    {
      name: 'an alias bomb is bad input (exit 2), not a verdict',
      text: `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n`,
      code: 2,
      stderr: /YAML error: Excessive alias count/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const file = writeTemp(`${c.name.replace(/[^a-z]+/gi, '-')}.yaml`, c.text);
      const r = await runCli(['check', '-f', file, ...OWNER]);
      assert.equal(r.code, c.code, r.stdout + r.stderr);
      if (c.stdout !== undefined) assert.match(r.stdout, c.stdout);
      if (c.stderr !== undefined) assert.match(r.stderr, c.stderr);
    });
  }
});
