import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { kustomizeBuild, type KubeObject } from './manifest-checks.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function field(o: unknown, ...path: Array<string | number>): unknown {
  let v: unknown = o;
  for (const k of path)
    v = typeof v === 'object' && v !== null ? (v as Record<string | number, unknown>)[k] : undefined;
  return v;
}

test('the hpa overlay scales the webhook and the broker on CPU, and leaves replicas to the autoscaler', () => {
  const objects: KubeObject[] = kustomizeBuild(join(root, 'webhook-config/overlays/hpa'));
  const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler');
  assert.deepEqual(hpas.map((h) => field(h, 'spec', 'scaleTargetRef', 'name')).sort(), [
    'tenant-guard-broker',
    'tenant-guard-webhook',
  ]);
  for (const h of hpas) {
    assert.equal(h.apiVersion, 'autoscaling/v2');
    assert.ok(Number(field(h, 'spec', 'minReplicas')) >= 2, 'failurePolicy Fail: never fewer than 2');
    assert.equal(field(h, 'spec', 'metrics', 0, 'resource', 'name'), 'cpu');
    const target = String(field(h, 'spec', 'scaleTargetRef', 'name'));
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === target);
    assert.ok(deployment !== undefined, `${target} exists`);
    assert.equal(field(deployment, 'metadata', 'namespace'), field(h, 'metadata', 'namespace'));
    assert.equal(
      field(deployment, 'spec', 'replicas'),
      undefined,
      `${target}: replicas left to the autoscaler`,
    );
    assert.equal(
      field(deployment, 'spec', 'template', 'spec', 'containers', 0, 'resources', 'requests', 'cpu'),
      '500m',
    );
  }
  // The reporter is not autoscaled (it is a single writer), nor in this overlay (it is opt-in).
  assert.ok(!objects.some((o) => o.metadata.name === 'tenant-guard-reporter'));
  assert.ok(
    !objects.some(
      (o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef?.name === 'tenant-guard-reporter',
    ),
  );
});
