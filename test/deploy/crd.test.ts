import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import {
  renderTenantCrdYaml,
  TENANT_CRD_PATH,
  tenantCrd,
  toStructuralSchema,
} from '../../src/tenancy/tenant-crd.js';
import { tenantSchema, tenantSpecSchema } from '../../src/tenancy/tenant-schema.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const checkedIn = readFileSync(join(root, TENANT_CRD_PATH), 'utf8');

describe('the Tenant CRD manifest', () => {
  test('the checked-in CRD is what `npm run gen:crd` makes from src/tenancy/tenant-schema.ts', () => {
    assert.equal(
      checkedIn,
      renderTenantCrdYaml(),
      `${TENANT_CRD_PATH} drifted from the schema: run npm run gen:crd`,
    );
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'scripts', 'gen-crd.ts'), '--check'],
      { cwd: root, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
  });

  test('a schema change shows as drift', () => {
    const changed = {
      ...tenantSchema,
      properties: { ...tenantSchema.properties, spec: { ...tenantSpecSchema, required: ['owners'] } },
    };
    assert.notEqual(checkedIn, renderTenantCrdYaml(changed));
    assert.match(renderTenantCrdYaml(changed), /required:\n\s+- owners\n\s+properties:/);
    assert.deepEqual(
      toStructuralSchema({
        type: 'object',
        properties: { a: { type: 'string' } },
        additionalProperties: false,
      }),
      { type: 'object', properties: { a: { type: 'string' } } },
      'additionalProperties beside properties is dropped (not structural)',
    );
  });

  test('printer columns (enforcement, accepted, clusters, age), the status subresource, cluster scope', () => {
    const crd = parse(checkedIn);
    assert.deepEqual(parse(checkedIn), tenantCrd());
    const v = crd.spec.versions[0];
    assert.equal(crd.metadata.name, 'tenants.tenantguard.dev');
    assert.equal(crd.spec.scope, 'Cluster');
    assert.equal(v.name, 'v1alpha1');
    assert.deepEqual(v.subresources, { status: {} });
    const columns = Object.fromEntries(
      v.additionalPrinterColumns.map((c: { name: string; jsonPath: string; type: string }) => [
        c.name,
        `${c.type} ${c.jsonPath}`,
      ]),
    );
    assert.deepEqual(columns, {
      Enforcement: 'string .spec.enforcement',
      Accepted: 'boolean .status.accepted',
      Clusters: 'integer .status.clusterCount',
      Reason: 'string .status.reason',
      Age: 'date .metadata.creationTimestamp',
    });
    const status = v.schema.openAPIV3Schema.properties.status.properties;
    for (const field of ['accepted', 'reason', 'message', 'clusterCount', 'observedGeneration', 'conditions'])
      assert.ok(status[field] !== undefined, `status.${field}`);
  });
});
