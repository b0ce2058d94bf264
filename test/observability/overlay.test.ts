/**
 * The prometheus-operator overlay: `kubectl kustomize` builds it; its ServiceMonitors select
 * the Services of the base by their labels and port, over HTTPS with the CA; the
 * NetworkPolicies let a labelled monitoring namespace reach both components' metrics port.
 */
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { buildOwnOverlay, kustomizeBuild, type KubeObject } from '../deploy/manifest-checks.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Selector {
  matchLabels?: Record<string, string>;
}
const matches = (selector: Selector | undefined, labels: Record<string, string> | undefined): boolean =>
  Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels?.[k] === v);

/**
 * The overlay with the reporter component, as docs/observability.md says to combine them,
 * built from a copy of webhook-config (an overlay of one's own).
 */
function withReporter(): KubeObject[] {
  return buildOwnOverlay(
    root,
    'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../prometheus-operator]\ncomponents: [../../components/reporter]\n',
  );
}

describe('webhook-config/overlays/prometheus-operator', () => {
  // Built with the reporter (opt-in): every ServiceMonitor then has its Service.
  const objects: KubeObject[] = withReporter();
  const services = objects.filter((o) => o.kind === 'Service');
  const monitors = objects.filter((o) => o.kind === 'ServiceMonitor');
  const certificateNames = ['tenant-guard-webhook.tenant-guard.svc', 'tenant-guard-broker.tenant-guard.svc'];

  test('adds a ServiceMonitor per component and the PrometheusRule to the base', () => {
    const alone = kustomizeBuild(join(root, 'webhook-config/overlays/prometheus-operator'));
    assert.deepEqual(
      alone
        .filter((o) => o.kind === 'ServiceMonitor')
        .map((m) => m.metadata.name)
        .sort(),
      ['tenant-guard-broker', 'tenant-guard-reporter', 'tenant-guard-webhook'],
    );
    assert.ok(
      !alone.some((o) => o.kind === 'Deployment' && o.metadata.name === 'tenant-guard-reporter'),
      'the reporter stays opt-in',
    );
    assert.deepEqual(monitors.map((m) => m.metadata.name).sort(), [
      'tenant-guard-broker',
      'tenant-guard-reporter',
      'tenant-guard-webhook',
    ]);
    assert.equal(objects.filter((o) => o.kind === 'PrometheusRule').length, 1);
    assert.ok(
      objects.some((o) => o.kind === 'Deployment' && o.metadata.name === 'tenant-guard-webhook'),
      'the base is included',
    );
  });

  test('each ServiceMonitor selects exactly its Service, by a port the Service has, over HTTPS with the CA', () => {
    for (const monitor of monitors) {
      const spec = (
        monitor as unknown as {
          spec: {
            selector: Selector;
            endpoints: {
              port: string;
              scheme: string;
              path: string;
              tlsConfig: { serverName: string; ca: { secret: { name: string; key: string } } };
            }[];
          };
        }
      ).spec;
      const selected = services.filter((s) =>
        matches(spec.selector, s.metadata.labels as Record<string, string> | undefined),
      );
      assert.deepEqual(
        selected.map((s) => s.metadata.name),
        [monitor.metadata.name],
      );
      const ports = (selected[0] as unknown as { spec: { ports: { name: string }[] } }).spec.ports.map(
        (p) => p.name,
      );
      for (const endpoint of spec.endpoints) {
        assert.ok(
          ports.includes(endpoint.port),
          `${monitor.metadata.name}: port ${endpoint.port} on the Service`,
        );
        assert.equal(endpoint.scheme, 'https');
        assert.equal(endpoint.path, '/metrics');
        // A name the serving certificate (tenant-guard certs, or cert-manager's) carries: its
        // own Service's, but the reporter's, whose Service the certificate does not name.
        assert.ok(certificateNames.includes(endpoint.tlsConfig.serverName), endpoint.tlsConfig.serverName);
        if (monitor.metadata.name !== 'tenant-guard-reporter')
          assert.equal(endpoint.tlsConfig.serverName, `${monitor.metadata.name}.tenant-guard.svc`);
        assert.deepEqual(endpoint.tlsConfig.ca.secret, { name: 'tenant-guard-tls', key: 'ca.crt' });
      }
    }
  });

  test('a NetworkPolicy admits the labelled monitoring namespace to both components on 8443', () => {
    const policy = objects.find(
      (o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'tenant-guard-metrics',
    ) as unknown as
      | {
          spec: {
            podSelector: Selector;
            ingress: { from: { namespaceSelector: Selector }[]; ports: { port: number }[] }[];
          };
        }
      | undefined;
    assert.ok(policy !== undefined);
    for (const component of ['webhook', 'broker', 'reporter']) {
      const deployment = objects.find(
        (o) => o.kind === 'Deployment' && o.metadata.name === `tenant-guard-${component}`,
      ) as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } };
      assert.ok(
        matches(policy.spec.podSelector, deployment.spec.template.metadata.labels),
        `${component} pods are selected`,
      );
    }
    assert.deepEqual(policy.spec.ingress[0]?.from[0]?.namespaceSelector.matchLabels, {
      'tenantguard.dev/monitoring': 'true',
    });
    assert.deepEqual(
      policy.spec.ingress[0]?.ports.map((p) => p.port),
      [8443],
    );
  });
});
