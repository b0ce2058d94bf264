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
import { loadTenants } from '../support/policy-fixtures.js';

/** normalizeServerUrl as first written: URL parsing decides. */
function referenceNormalize(raw: string): string | undefined {
  const trimmed = raw.trim();
  if (!URL.canParse(trimmed)) return undefined;
  const url = new URL(trimmed);
  const protocol = url.protocol.toLowerCase();
  let host = url.hostname.toLowerCase();
  while (host.endsWith('.')) host = host.slice(0, -1);
  const port =
    url.port === '' || url.port === { 'https:': '443', 'http:': '80' }[protocol] ? '' : `:${url.port}`;
  let path = url.pathname;
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
