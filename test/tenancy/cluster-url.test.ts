/**
 * The server URL helpers and the registry's cluster lookups on the values a list generator
 * holds: the answers are those of the plain definitions (URL parsing, lower-casing, a map
 * read) for any text, and the long values of a 2,500-element list generator are neither
 * URL-parsed nor copied one by one (issue 10: they held the event loop).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  connectedServerUrl,
  explainBadServer,
  isControlPlaneTarget,
  isLoopbackHost,
  normalizeServerUrl,
  serverKey,
} from '../../src/tenancy/cluster-url.js';
import { isTenantGuardError } from '../../src/errors.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { loadTenants } from '../support/policy-fixtures.js';

/**
 * The path as client-go sends it, written out plainly from the path as written (between
 * the authority and `?` or `#`; the URL parser's when the text has a backslash, tab or line
 * break): every `%XY` decoded to its byte, then Go's path.Clean on the segments (empty and
 * `.` dropped, `..` taking the one before), then every byte written as `%XY` but ASCII
 * letters, digits, `-._~` and `$&+,:;=@` (Go's path escaping). The Go table below checks
 * this reading.
 */
function referencePath(text: string, url: URL): string {
  const written = /[\\\t\n\r]/.test(text)
    ? url.pathname
    : (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(\/[^?#]*)?/i.exec(text)?.[1] ?? url.pathname);
  if (!written.startsWith('/')) return written;
  const utf8 = Buffer.from(written, 'utf8');
  const bytes: number[] = [];
  for (let i = 0; i < utf8.length; i++) {
    const hex = String.fromCharCode(utf8[i + 1] ?? 0, utf8[i + 2] ?? 0);
    if (utf8[i] === 0x25 && /^[0-9a-f]{2}$/i.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(utf8[i] ?? 0);
  }
  const kept: string[] = [];
  for (const segment of Buffer.from(bytes).toString('latin1').split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') kept.pop();
    else kept.push(segment);
  }
  const keep = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~$&+,:;=@';
  return kept
    .map(
      (segment) =>
        `/${[...segment].map((c) => (keep.includes(c) ? c : `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)).join('')}`,
    )
    .join('');
}

/** An IPv4-mapped IPv6 host as its IPv4 address (`[::ffff:a00:1]` is `10.0.0.1`). */
function referenceHost(host: string): string {
  const m = /^\[::ffff:([0-9a-f]+):([0-9a-f]+)\]$/.exec(host);
  if (m === null) return host;
  const [high, low] = [parseInt(m[1] ?? '', 16), parseInt(m[2] ?? '', 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** normalizeServerUrl as first written (URL parsing decides), with the host and path as client-go sends them. */
function referenceNormalize(raw: string): string | undefined {
  const trimmed = raw.trim();
  if (!URL.canParse(trimmed)) return undefined;
  const url = new URL(trimmed);
  const protocol = url.protocol.toLowerCase();
  let host = referenceHost(url.hostname.toLowerCase());
  while (host.endsWith('.')) host = host.slice(0, -1);
  const port =
    url.port === '' || url.port === { 'https:': '443', 'http:': '80' }[protocol] ? '' : `:${url.port}`;
  let path = referencePath(trimmed, url);
  while (path.endsWith('/')) path = path.slice(0, -1);
  const userinfo = url.username !== '' || url.password !== '' ? `${url.username}:${url.password}@` : '';
  return `${protocol}//${userinfo}${host}${port}${path}${url.search}${url.hash}`;
}

/** Text near the shapes that matter: URLs, `in-cluster` in any case, padding, other scripts. */
const nearTargets = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc
    .tuple(
      fc.constantFrom('', ' ', '\t', '\n', '\u00a0', '\u2028'),
      fc.constantFrom(
        'in-cluster',
        'IN-CLUSTER',
        'In-Cluster',
        'İn-cluster',
        'in-clusteR',
        'https://kubernetes.default.svc',
        'HTTPS://Kubernetes.Default.SVC.:443/',
        'kubernetes.default.svc',
        'https://team-a-dev.example.com',
        'HTTPS://TEAM-A-DEV.example.com.:443',
        'https://shared.example.com/clusters/%61%2d%7e%2F%c3%A9%zz%4',
        'https://shared.example.com/%2e%2E/a%2Eb/%25%41',
        'https://[::FFFF:10.0.0.1]//a;b(c)%3b%21',
        'k8s-team-a-dev',
        'x:y',
        'a\tb:c',
        'ht\ntps://x',
        'mailto:x@y',
        'v'.repeat(800),
      ),
      fc.constantFrom('', ' ', '/', ':', '\t', '\u0130'),
    )
    .map(([a, b, c]) => `${a}${b}${c}`),
);

describe('cluster-url on list generator values', () => {
  test('normalizeServerUrl answers as URL parsing does, for any text', () => {
    fc.assert(
      fc.property(nearTargets, (raw) => {
        assert.equal(normalizeServerUrl(raw), referenceNormalize(raw));
      }),
      { numRuns: 3_000 },
    );
  });

  test('isControlPlaneTarget answers as lower-casing and URL parsing do, for any text', () => {
    const reference = (value: string): boolean => {
      if (value.trim().toLowerCase() === 'in-cluster') return true;
      const normal = referenceNormalize(value);
      if (normal === undefined) return false;
      const host = new URL(normal).hostname;
      return (
        host === 'kubernetes' ||
        host === 'kubernetes.default' ||
        host === 'kubernetes.default.svc' ||
        host.startsWith('kubernetes.default.svc.')
      );
    };
    fc.assert(
      fc.property(nearTargets, (value) => {
        assert.equal(isControlPlaneTarget(value), reference(value));
      }),
      { numRuns: 3_000 },
    );
    assert.equal(isControlPlaneTarget('  IN-CLUSTER\n'), true);
    assert.equal(isControlPlaneTarget('https://KUBERNETES.default.svc.cluster.local:443'), true);
  });

  test('text without a colon is not URL-parsed: it cannot be an absolute URL', (t) => {
    const canParse = t.mock.method(URL, 'canParse');
    assert.equal(normalizeServerUrl('v'.repeat(800)), undefined);
    assert.equal(isControlPlaneTarget('v'.repeat(800)), false);
    assert.equal(canParse.mock.callCount(), 0);
    assert.equal(normalizeServerUrl('https://X.example.com./'), 'https://x.example.com');
    assert.equal(canParse.mock.callCount(), 1);
  });

  test('a long value is not lower-cased (copied) to be compared with in-cluster', (t) => {
    const lower = t.mock.method(String.prototype, 'toLowerCase');
    assert.equal(isControlPlaneTarget('v'.repeat(800)), false);
    assert.equal(lower.mock.callCount(), 0);
    assert.equal(isControlPlaneTarget('In-Cluster'), true);
    assert.equal(lower.mock.callCount(), 1);
  });
});

describe('registry cluster lookups', () => {
  const registry = loadTenants('two-teams');

  test('find every registered cluster by name and by server, whatever the spelling of the URL', () => {
    for (const tenant of registry.tenants)
      for (const cluster of tenant.clusters) {
        assert.equal(registry.clusterByName(cluster.name)?.cluster, cluster);
        assert.equal(registry.clusterByServer(cluster.server)?.cluster, cluster);
        assert.equal(registry.clusterByServer(` ${cluster.server.toUpperCase()}:443/ `)?.cluster, cluster);
        assert.equal(registry.clusterByNameOrServer(cluster.name)?.cluster, cluster);
        assert.equal(registry.clusterByNameOrServer(`${cluster.server}/`)?.cluster, cluster);
      }
  });

  test('find nothing for any other text, long or short', () => {
    fc.assert(
      fc.property(nearTargets, fc.nat(60), (value, pad) => {
        const padded = `${value}${'x'.repeat(pad)}`;
        const clusters = registry.tenants.flatMap((t) => t.clusters);
        for (const v of [value, padded]) {
          assert.equal(
            registry.clusterByName(v)?.cluster,
            clusters.find((c) => c.name === v),
          );
          assert.equal(
            registry.clusterByServer(v)?.cluster,
            clusters.find((c) => c.serverKey === serverKey(v)),
          );
        }
      }),
      { numRuns: 500 },
    );
  });
});

/** Each server is refused as a Tenant server, with a reason matching `reason`. */
function refused(reason: RegExp, servers: readonly string[]): void {
  for (const server of servers) assert.match(explainBadServer(server) ?? '', reason, server);
}

/** Each server is accepted as a Tenant server. */
function accepted(servers: readonly string[]): void {
  for (const server of servers) assert.equal(explainBadServer(server), undefined, server);
}

describe('percent-encoded paths (found by two red-team reviews)', () => {
  test('one path in two spellings is one server: as client-go sends it', () => {
    assert.equal(
      normalizeServerUrl('https://shared.example.com/clusters/%61%2D%64ev'),
      'https://shared.example.com/clusters/a-dev',
    );
    assert.equal(
      normalizeServerUrl('https://h.example/a%7eb%2fc%c3%a9!'),
      'https://h.example/a~b/c%C3%A9%21',
    );
    assert.equal(
      normalizeServerUrl('https://h.example/%25%36%31'),
      'https://h.example/%2561',
      'decoded once',
    );
    const registry = parseTenantsYaml(
      [
        'apiVersion: tenantguard.dev/v1alpha1',
        'kind: Tenant',
        'metadata: { name: team-a }',
        'spec:',
        '  owners: { groups: [team-a-admins] }',
        '  namespaces: [team-a]',
        '  projects: [team-a]',
        '  clusters: [{ name: k8s-team-a-dev, server: "https://shared.example.com/clusters/a-dev" }]',
      ].join('\n'),
      'tenants.yaml',
      'argocd',
    );
    const cluster = registry.tenants[0]?.clusters[0];
    assert.ok(cluster !== undefined);
    for (const spelling of [
      'https://shared.example.com/clusters/%61-dev',
      'https://SHARED.example.com:443/%63lusters/a%2ddev/',
      'https://shared.example.com/clusters/%61%2D%64%65%76',
    ])
      assert.equal(registry.clusterByServer(spelling)?.cluster, cluster, spelling);
    assert.equal(registry.clusterByServer('https://shared.example.com/clusters/a%2Fdev'), undefined);
  });

  test('a host written another way than Go dials it is refused: percent-encoded, or an IPv4 address not in four decimals', () => {
    refused(/percent-encoded host/, ['https://shared%2Eexample.com/a', 'https://%73hared.example.com/a']);
    refused(/IPv4 address 10\.0\.0\.1 another way/, [
      'https://167772161',
      'https://10.0.0.01',
      'https://0x0a.0.0.1',
      'https://10.0.1:6443',
    ]);
    for (const server of [
      'https://10.0.0.1',
      'https://10.0.0.1.:6443/x',
      'https://[2001:db8::1]',
      'https://A.example.com',
    ])
      assert.equal(explainBadServer(server), undefined, server);
  });

  test('a long path costs work per string, not a regex or a string per byte (2.7 MiB of % held the loop ~1 s)', (t) => {
    const regexTest = t.mock.method(RegExp.prototype, 'test');
    const toString = t.mock.method(Number.prototype, 'toString');
    for (const unit of ['%', '%4', '%41', 'é', '/.', '"'])
      assert.ok(
        normalizeServerUrl(`https://x.example/${unit.repeat(5_000)}`)?.startsWith('https://x.example'),
      );
    assert.ok(regexTest.mock.callCount() < 6 * 10, `${regexTest.mock.callCount()} regex tests`);
    assert.equal(toString.mock.callCount(), 0);
    // Asked twice in a row for one value (is it a tenant's server, the control plane), it parses once.
    const parse = t.mock.method(URL, 'canParse');
    const value = `https://x.example/${'%'.repeat(100)}`;
    assert.equal(normalizeServerUrl(value), normalizeServerUrl(value));
    assert.equal(parse.mock.callCount(), 1);
  });

  test('the registry refuses a second Tenant with another spelling client-go sends to the same place', () => {
    const tenant = (name: string, server: string) =>
      [
        'apiVersion: tenantguard.dev/v1alpha1',
        'kind: Tenant',
        `metadata: { name: ${name} }`,
        'spec:',
        `  owners: { groups: [${name}-admins] }`,
        `  namespaces: [${name}]`,
        `  projects: [${name}]`,
        `  clusters: [{ name: k8s-${name}, server: "${server}" }]`,
      ].join('\n');
    for (const [a, b] of [
      ['https://10.0.0.1', 'https://[::ffff:10.0.0.1]'],
      ['https://p.example.com/clusters/a;b', 'https://p.example.com/clusters/a%3Bb'],
      ['https://p.example.com/clusters/a!', 'https://p.example.com/clusters/a%21'],
      ['https://p.example.com/clusters/a(1)', 'https://p.example.com/clusters/a%281%29'],
    ])
      assert.throws(
        () =>
          parseTenantsYaml(
            `${tenant('team-a', a ?? '')}\n---\n${tenant('team-b', b ?? '')}`,
            'x.yaml',
            'argocd',
          ),
        (err: unknown) => isTenantGuardError(err) && err.code === 'ERR_TENANT_CONFLICT',
        `${a} ${b}`,
      );
  });

  test('an encoded slash or backslash, an empty or dot segment, a space in a Tenant server path is refused', () => {
    refused(/encoded slash/, [
      'https://h.example/clusters%2Fa',
      'https://h.example/c%5cd',
      'https://h.example/%2f',
    ]);
    refused(/empty, '\.' or '\.\.' segment/, [
      'https://h.example//clusters/a',
      'https://h.example/clusters/a//..',
      'https://h.example/clusters/a-dev/x//%2e%2e',
      'https://h.example/a/./b',
      'https://h.example/a/%2E',
      'https://h.example/a/..',
    ]);
    assert.match(explainBadServer('https://h.example/a b') ?? '', /space or a control character/);
    accepted([
      'https://h.example/clusters/%61',
      'https://h.example/a/',
      'https://h.example/',
      'https://h.example/a.b/..c/.d',
    ]);
  });
});

describe('one reading of a server for every comparison (found by a red-team review)', () => {
  const segment = fc.constantFrom(
    'x',
    'ab',
    '',
    '.',
    '..',
    '%2e',
    '%2e%2e',
    '%2E.',
    ';',
    '%41',
    '%25',
    '~',
    '@',
    ':',
    'é',
  );
  const server = fc
    .tuple(
      fc.constantFrom('https://', 'HTTPS://', 'http://'),
      fc.constantFrom('team-a-dev.example.com', 'H.Example.com.:443', '[::ffff:10.0.0.1]', '10.0.0.1:6443'),
      fc.array(segment, { maxLength: 6 }),
      fc.boolean(),
    )
    .map(
      ([scheme, host, path, slash]) =>
        `${scheme}${host}${path.length > 0 ? `/${path.join('/')}` : ''}${slash ? '/' : ''}`,
    );

  test('the server a Secret connects to is the key of its spelling, user info, query and fragment aside', () => {
    // TG-CS-08 once read a Secret's server through the URL parser's href, which resolves
    // `/x//..` to `/x/` where client-go (and the key of a team's Application) reads `/`.
    assert.equal(
      connectedServerUrl('https://team-a-dev.example.com/x//..'),
      'https://team-a-dev.example.com',
    );
    fc.assert(
      fc.property(server, fc.constantFrom('', '?a=1', '#f', '?a#b'), fc.boolean(), (plain, extras, user) => {
        const spelled = user ? plain.replace('://', '://u:p@') : plain;
        assert.equal(connectedServerUrl(`${spelled}${extras}`), serverKey(plain));
      }),
      { numRuns: 3_000 },
    );
  });

  test('the key keeps user info, query and fragment; only the connected form drops them', () => {
    // A destination with a query is another text to Argo CD, which finds no cluster Secret
    // by it: it must not be a tenant's cluster by its key either.
    assert.equal(
      normalizeServerUrl('https://U:P@H.example.com/a/?q=1#f'),
      'https://U:P@h.example.com/a?q=1#f',
    );
    assert.equal(connectedServerUrl('https://U:P@H.example.com/a/?q=1#f'), 'https://h.example.com/a');
  });

  test('a normal form reads as itself (the registry normalises the keys it is given again)', () => {
    fc.assert(
      fc.property(server, fc.constantFrom('', '?a=1', '#f'), fc.boolean(), (plain, extras, user) => {
        const spelled = `${user ? plain.replace('://', '://u:p@') : plain}${extras}`;
        const normal = normalizeServerUrl(spelled);
        assert.ok(normal !== undefined);
        assert.equal(normalizeServerUrl(normal), normal);
      }),
      { numRuns: 3_000 },
    );
  });
});

describe('server keys against where client-go sends (test/fixtures/go-server-url-table.json, scripts/go-server-url-table)', () => {
  interface GoRow {
    server: string;
    ok: boolean;
    host?: string;
    path?: string;
  }
  const table = JSON.parse(
    readFileSync(new URL('../fixtures/go-server-url-table.json', import.meta.url), 'utf8'),
  ) as { goVersion: string; rows: GoRow[] };
  const rows = table.rows.filter((r) => r.ok);

  test('two spellings have one key exactly when client-go sends both to one host and path', () => {
    assert.ok(rows.length >= 40);
    const disagreements: string[] = [];
    for (const a of rows)
      for (const b of rows) {
        if (a.server >= b.server) continue;
        const go = `${a.host}${a.path}` === `${b.host}${b.path}`;
        const ours = serverKey(a.server) === serverKey(b.server);
        if (go !== ours)
          disagreements.push(
            `${a.server} ${b.server}: Go ${go ? 'one' : 'two'}, key ${ours ? 'one' : 'two'}`,
          );
      }
    assert.deepEqual(disagreements, []);
  });

  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  test(
    'scripts/go-server-url-table, run by the Go on this machine, gives the committed rows',
    {
      skip: go.status === 0 ? false : 'no `go` on PATH: the committed table is still checked above',
      timeout: 300_000,
    },
    () => {
      const run = spawnSync('go', ['run', '.'], {
        cwd: fileURLToPath(new URL('../../scripts/go-server-url-table/', import.meta.url)),
        encoding: 'utf8',
        env: { ...process.env, GOTOOLCHAIN: 'local', GOPROXY: 'off', GOFLAGS: '-mod=mod', GOWORK: 'off' },
      });
      assert.equal(run.status, 0, `go run failed: ${run.stderr}`);
      assert.deepEqual((JSON.parse(run.stdout) as { rows: GoRow[] }).rows, table.rows);
    },
  );
});

describe('loopback servers (found by a red-team review)', () => {
  test('every spelling the URL parser reads as this machine is refused as a Tenant server', () => {
    for (const server of [
      'https://127.0.0.1',
      'https://127.1',
      'https://2130706433',
      'https://0x7f.0.0.1',
      'https://127.255.0.9:6443',
      'https://0.0.0.0',
      'https://[::1]',
      'https://[::]',
      'https://[::ffff:127.0.0.1]',
      'https://LOCALHOST.',
      'https://api.localhost',
    ]) {
      const host = new URL(server).hostname;
      assert.equal(isLoopbackHost(host), true, server);
      assert.match(explainBadServer(server) ?? '', /^is loopback/, server);
    }
  });

  test('remote addresses and names are not loopback', () => {
    for (const server of [
      'https://10.96.0.1',
      'https://128.0.0.1',
      'https://[::ffff:10.0.0.1]',
      'https://[2001:db8::1]',
      'https://localhost.example.com',
      'https://team-a-dev.example.com',
    ]) {
      assert.equal(isLoopbackHost(new URL(server).hostname), false, server);
      assert.equal(explainBadServer(server), undefined, server);
    }
  });
});
