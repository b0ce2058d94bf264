// Writes the Tenant CRD manifest from the schema in src/tenancy/tenant-schema.ts.
//
//   npm run gen:crd            write webhook-config/crd/tenants.tenantguard.dev.yaml
//   npm run gen:crd -- --check exit 1 when the checked-in file differs (for CI)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTenantCrdYaml, TENANT_CRD_PATH } from '../src/tenancy/tenant-crd.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, TENANT_CRD_PATH);
const wanted = renderTenantCrdYaml();
const args = process.argv.slice(2);

if (args.some((a) => a !== '--check')) {
  console.error('gen-crd: usage: gen-crd [--check]');
  process.exit(2);
}
if (args.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing: reported below
  }
  if (current !== wanted) {
    console.error(`gen-crd: ${TENANT_CRD_PATH} is out of date; run npm run gen:crd`);
    process.exit(1);
  }
  console.log(`gen-crd: ${TENANT_CRD_PATH} is up to date`);
} else {
  writeFileSync(target, wanted);
  console.log(`gen-crd: wrote ${TENANT_CRD_PATH}`);
}
