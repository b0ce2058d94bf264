import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { parseTenantsYaml } from '../../src/tenancy/file-source.js';
import { certificateSchema, issuerSchema } from './cert-manager-schema.js';
import { checkBuiltIn } from './model-check.js';
import {
  buildOwnOverlay,
  checkHardening,
  checkReferences,
  checkRequiredFields,
  kustomizeBuild,
  strictCrdSchema,
  type KubeObject,
} from './manifest-checks.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const build = (dir: string): KubeObject[] => kustomizeBuild(join(root, dir));

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = { Certificate: ajv.compile(certificateSchema), Issuer: ajv.compile(issuerSchema) };

/** Every problem of every object, against the schema of its kind. */
function schemaProblems(objects: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  const crd = objects.find((o) => o.kind === 'CustomResourceDefinition');
  const tenantValidator = crd === undefined ? undefined : ajv.compile(strictCrdSchema(crd));
  for (const o of objects) {
    const where = `${o.kind}/${o.metadata.name}`;
    const certManager =
      o.apiVersion === 'cert-manager.io/v1'
        ? o.kind === 'Certificate'
          ? validators.Certificate
          : o.kind === 'Issuer'
            ? validators.Issuer
            : undefined
        : undefined;
    if (certManager !== undefined) {
      if (!certManager(o))
        problems.push(
          ...(certManager.errors ?? []).map((e) => `${where}${e.instancePath}: ${e.message ?? ''}`),
        );
    } else if (o.apiVersion === 'tenantguard.dev/v1alpha1' && o.kind === 'Tenant') {
      if (tenantValidator === undefined) problems.push(`${where}: no CRD in the build`);
      else if (!tenantValidator(o))
        problems.push(
          ...(tenantValidator.errors ?? []).map((e) => `${where}${e.instancePath}: ${e.message ?? ''}`),
        );
    } else {
      problems.push(...checkBuiltIn(o));
    }
    problems.push(...checkRequiredFields(o));
  }
  return problems;
}

describe('webhook-config: the kustomize base and the cert-manager overlay', () => {
  let base: KubeObject[];
  let webhooks: KubeObject[];
  let overlay: KubeObject[];
  let overlayWebhooks: KubeObject[];
  let gitops: KubeObject[];
  let reporter: KubeObject[];

  before(() => {
    reporter = build('webhook-config/overlays/reporter');
    base = build('webhook-config');
    webhooks = build('webhook-config/webhooks');
    overlay = build('webhook-config/overlays/cert-manager');
    overlayWebhooks = build('webhook-config/overlays/cert-manager/webhooks');
    gitops = build('webhook-config/overlays/gitops');
  });

  test('`kubectl kustomize` builds both, with the objects expected', () => {
    const kinds = (objects: readonly KubeObject[]): string[] =>
      objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(kinds(base), [
      'ClusterRole/tenant-guard-broker',
      'ClusterRole/tenant-guard-webhook',
      'ClusterRoleBinding/tenant-guard-broker',
      'ClusterRoleBinding/tenant-guard-webhook',
      'CustomResourceDefinition/tenants.tenantguard.dev',
      'Deployment/tenant-guard-broker',
      'Deployment/tenant-guard-webhook',
      'Namespace/tenant-guard',
      'NetworkPolicy/default-deny',
      'NetworkPolicy/tenant-guard-broker',
      'NetworkPolicy/tenant-guard-metrics',
      'NetworkPolicy/tenant-guard-webhook',
      'PodDisruptionBudget/tenant-guard-broker',
      'PodDisruptionBudget/tenant-guard-webhook',
      'PriorityClass/tenant-guard-critical',
      'Role/tenant-guard-broker-keys',
      'Role/tenant-guard-webhook-events',
      'RoleBinding/tenant-guard-broker-keys',
      'RoleBinding/tenant-guard-webhook-events',
      'Secret/tenant-guard-broker-keys',
      'Service/tenant-guard-broker',
      'Service/tenant-guard-webhook',
      'ServiceAccount/tenant-guard-broker',
      'ServiceAccount/tenant-guard-webhook',
    ]);
    assert.deepEqual(kinds(webhooks), [
      'MutatingWebhookConfiguration/tenant-guard',
      'ValidatingWebhookConfiguration/tenant-guard',
    ]);
    assert.deepEqual(kinds(overlayWebhooks), kinds(webhooks));
    assert.deepEqual(kinds(gitops), [...kinds(base), ...kinds(webhooks)].sort());
    // The reporter is opt-in (review s12d F-D): its overlay adds it, and only it.
    assert.deepEqual(
      kinds(reporter).filter((k) => !kinds(base).includes(k)),
      [
        'ClusterRole/tenant-guard-reporter',
        'ClusterRoleBinding/tenant-guard-reporter',
        'Deployment/tenant-guard-reporter',
        'NetworkPolicy/tenant-guard-reporter',
        'Role/tenant-guard-reporter-cluster-secrets',
        'RoleBinding/tenant-guard-reporter-cluster-secrets',
        'Service/tenant-guard-reporter',
        'ServiceAccount/tenant-guard-reporter',
      ],
    );
    assert.deepEqual(
      kinds(base).filter((k) => !kinds(reporter).includes(k)),
      [],
    );
    const added = kinds(overlay).filter((k) => !kinds(base).includes(k));
    assert.deepEqual(added, [
      'Certificate/tenant-guard-ca',
      'Certificate/tenant-guard-serving',
      'Issuer/tenant-guard-ca',
      'Issuer/tenant-guard-selfsigned',
    ]);
  });

  test('the reporter component runs the image the webhook runs, whichever overlay sets it', () => {
    const images = (objects: readonly KubeObject[]) =>
      objects
        .filter((o) => o.kind === 'Deployment')
        .map((d) => `${d.metadata.name}=${d.spec.template.spec.containers[0].image}`)
        .sort();
    assert.deepEqual(images(reporter), [
      'tenant-guard-broker=registry.example.com/tenant-guard:0.1.0',
      'tenant-guard-reporter=registry.example.com/tenant-guard:0.1.0',
      'tenant-guard-webhook=registry.example.com/tenant-guard:0.1.0',
    ]);
    // An overlay of one's own: cert-manager with the component, the image set there.
    const mine = buildOwnOverlay(
      root,
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'resources: [../cert-manager]',
        'components: [../../components/reporter]',
        'images: [{ name: registry.example.com/tenant-guard, newName: mine.example/tg, newTag: "9.9" }]',
        '',
      ].join('\n'),
    );
    assert.deepEqual(images(mine), [
      'tenant-guard-broker=mine.example/tg:9.9',
      'tenant-guard-reporter=mine.example/tg:9.9',
      'tenant-guard-webhook=mine.example/tg:9.9',
    ]);
  });

  test("every object passes its schema: Kubernetes models for built-in kinds, cert-manager's for its own", () => {
    assert.deepEqual(schemaProblems(base), []);
    assert.deepEqual(schemaProblems(webhooks), []);
    assert.deepEqual(schemaProblems(overlay), []);
    assert.deepEqual(schemaProblems(overlayWebhooks), []);
    assert.deepEqual(schemaProblems(reporter), []);
  });

  test('the schema check fails on what the API server would refuse', () => {
    const deployment = structuredClone(base.find((o) => o.kind === 'Deployment'));
    assert.ok(deployment !== undefined);
    deployment.spec.replicas = '2';
    deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    delete deployment.spec.template.spec.containers[0].image;
    const problems = schemaProblems([deployment]);
    assert.ok(
      problems.some((p) => /spec\.replicas: "2" is not a number/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /unknown field "readOnlyRootFileSystem"/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /containers\[0\]\.image: is required/.test(p)),
      problems.join('\n'),
    );
    const certificate = structuredClone(overlay.find((o) => o.kind === 'Certificate'));
    assert.ok(certificate !== undefined);
    certificate.spec.dnsName = ['x'];
    assert.ok(schemaProblems([certificate]).some((p) => /must NOT have additional properties/.test(p)));
  });

  test('references resolve: service accounts, roles, Services of the webhooks, the TLS Secret in the overlay, cert-manager injection', () => {
    assert.deepEqual(checkReferences([...base, ...webhooks], { externalSecrets: ['tenant-guard-tls'] }), []);
    assert.deepEqual(checkReferences([...overlay, ...overlayWebhooks], { externalSecrets: [] }), []);
    assert.deepEqual(
      checkReferences([...reporter, ...webhooks], { externalSecrets: ['tenant-guard-tls'] }),
      [],
    );
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const o = overlayWebhooks.find((x) => x.kind === kind);
      assert.equal(
        o?.metadata.annotations?.['cert-manager.io/inject-ca-from'],
        'tenant-guard/tenant-guard-serving',
      );
    }
  });

  test('install order: the first kustomization registers no webhook; the webhooks come in a sync wave after every Deployment', () => {
    const isWebhook = (o: KubeObject): boolean =>
      o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration';
    for (const first of [base, overlay, reporter])
      assert.deepEqual(
        first.filter(isWebhook),
        [],
        'applied before the pods are ready, a Fail webhook would block every write',
      );
    const wave = (o: KubeObject): number =>
      Number(o.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? '0');
    for (const o of [...webhooks, ...overlayWebhooks]) assert.equal(wave(o), 1, `${o.kind}: sync wave`);
    const latest = Math.max(...gitops.filter((o) => !isWebhook(o)).map(wave));
    const earliest = Math.min(...gitops.filter(isWebhook).map(wave));
    assert.ok(
      earliest > latest,
      `webhook configurations (wave ${earliest}) after everything else (wave ${latest})`,
    );
    assert.equal(gitops.filter(isWebhook).length, 2);
  });

  test('hardened pods: two replicas, anti-affinity, PDB, probes, resources, read-only root, non-root, no escalation, seccomp, shutdown, priority', () => {
    assert.deepEqual(checkHardening(base), []);
    assert.deepEqual(checkHardening(reporter), []);
  });

  test('the shutdown check fails when preStop, drain window and close grace outgrow the grace period, or the priority is a system one', () => {
    const objects = structuredClone(base);
    const deployment = objects.find((o) => o.kind === 'Deployment');
    assert.ok(deployment !== undefined);
    deployment.spec.template.spec.terminationGracePeriodSeconds = 20;
    deployment.spec.template.spec.priorityClassName = 'system-cluster-critical';
    const problems = checkHardening(objects);
    assert.ok(
      problems.some((p) =>
        /preStop 5 s \+ drain 10 s \+ close grace 10 s exceed terminationGracePeriodSeconds 20/.test(p),
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) =>
        /no priorityClassName naming a PriorityClass of the install \(system-cluster-critical\)/.test(p),
      ),
      problems.join('\n'),
    );
  });

  test('Tenants: the CRD schema is structural, and the example Tenants and those in docs/ pass it', () => {
    const crd = base.find((o) => o.kind === 'CustomResourceDefinition');
    assert.ok(crd !== undefined);
    const validate = ajv.compile(strictCrdSchema(crd));
    const examples = readFileSync(join(root, 'webhook-config', 'examples', 'tenants.yaml'), 'utf8');
    const docs = existsSync(join(root, 'docs'))
      ? readdirSync(join(root, 'docs'))
          .filter((f) => f.endsWith('.md'))
          .map((f) => readFileSync(join(root, 'docs', f), 'utf8'))
      : [];
    const fromDocs = docs
      .flatMap((md) => [...md.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? ''))
      .filter((y) => /^kind: Tenant$/m.test(y));
    const tenants = [examples, ...fromDocs]
      .flatMap((text) => parseAllDocuments(text).map((d) => d.toJS() as KubeObject))
      .filter((o) => o?.kind === 'Tenant');
    assert.ok(tenants.length >= 3, `found ${tenants.length} example Tenants`);
    for (const t of tenants)
      assert.ok(validate(t), `Tenant ${t.metadata.name}: ${ajv.errorsText(validate.errors)}`);
    parseTenantsYaml(examples, 'examples/tenants.yaml', 'argocd'); // and the registry takes them together
    const misspelt = structuredClone(tenants[0]);
    assert.ok(misspelt !== undefined);
    misspelt.spec.cluster = misspelt.spec.clusters;
    assert.equal(validate(misspelt), false, 'an unknown field is refused, as strict field validation does');
  });
});
