/**
 * The server URL helpers and the registry's cluster lookups on the values a list generator
 * holds: the answers are those of the plain definitions (URL parsing, lower-casing, a map
 * read) for any text, and the long values of a 2,500-element list generator are neither
 * URL-parsed nor copied one by one (issue 10: they held the event loop).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  explainBadServer,
  isControlPlaneTarget,
  isLoopbackHost,
  normalizeServerUrl,
  serverKey,
} from '../../src/tenancy/cluster-url.js';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { loadTenants } from '../support/policy-fixtures.js';

/**
 * RFC 3986 section 6.2.2 on a path, written out plainly: each `%XY` decoded when it is an
 * unreserved character, otherwise kept with its hex digits upper-cased.
 */
function referencePercent(path: string): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const hex = path.slice(i + 1, i + 3);
    if (path[i] === '%' && /^[0-9a-f]{2}$/i.test(hex)) {
      const code = parseInt(hex, 16);
      const char = String.fromCharCode(code);
      const unreserved = /[a-z0-9]/i.test(char) || '-._~'.includes(char);
      out += unreserved && code < 128 ? char : `%${hex.toUpperCase()}`;
      i += 2;
    } else out += path[i];
  }
  return out;
}

/** normalizeServerUrl as first written (URL parsing decides), with the path's percent-encoding normalised. */
function referenceNormalize(raw: string): string | undefined {
  const trimmed = raw.trim();
  if (!URL.canParse(trimmed)) return undefined;
  const url = new URL(trimmed);
  const protocol = url.protocol.toLowerCase();
  let host = url.hostname.toLowerCase();
  while (host.endsWith('.')) host = host.slice(0, -1);
  const port =
    url.port === '' || url.port === { 'https:': '443', 'http:': '80' }[protocol] ? '' : `:${url.port}`;
  let path = referencePercent(url.pathname);
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

describe('percent-encoded paths (found by a red-team review)', () => {
  test('one path in two spellings is one server: encoded unreserved characters decoded, the rest upper-cased', () => {
    assert.equal(
      normalizeServerUrl('https://shared.example.com/clusters/%61%2D%64ev'),
      'https://shared.example.com/clusters/a-dev',
    );
    assert.equal(normalizeServerUrl('https://h.example/a%7eb%2fc%c3%a9'), 'https://h.example/a~b%2Fc%C3%A9');
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

  test('an encoded slash or backslash in a Tenant server path is refused', () => {
    for (const server of [
      'https://h.example/clusters%2Fa',
      'https://h.example/c%5cd',
      'https://h.example/%2f',
    ])
      assert.match(explainBadServer(server) ?? '', /encoded slash/, server);
    assert.equal(explainBadServer('https://h.example/clusters/%61'), undefined);
  });
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
