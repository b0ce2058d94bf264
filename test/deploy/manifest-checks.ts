/**
 * Checks of the built install that no schema expresses: required fields (not in the client
 * models), references between objects, the pod hardening the install promises, and the CRD
 * schema made strict the way `kubectl apply` (strict field validation) treats unknown fields.
 */

import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CLOSE_GRACE_MS, DEFAULT_DRAIN_SECONDS } from '../../src/server/shutdown.js';

/** A parsed manifest. Loose on purpose: these are our own files, and the checks say what is missing. */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
} & Record<string, any>;

/**
 * An overlay of one's own, built: `kustomization` (its text) in `overlays/mine` of a copy of
 * `root`'s webhook-config, as a platform team adds one next to ours.
 */
export function buildOwnOverlay(root: string, kustomization: string): KubeObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'tg-overlay-'));
  try {
    cpSync(join(root, 'webhook-config'), join(dir, 'webhook-config'), { recursive: true });
    const mine = join(dir, 'webhook-config', 'overlays', 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'kustomization.yaml'), kustomization);
    return kustomizeBuild(mine);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `kubectl kustomize DIR`, parsed. The deploy tests need kubectl 1.27+ (kustomize v5) on PATH.
 */
export function kustomizeBuild(dir: string): KubeObject[] {
  let text: string;
  try {
    text = execFileSync('kubectl', ['kustomize', dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT')
      throw new Error(
        'kubectl is not on PATH: the deploy tests run the real `kubectl kustomize` (kubectl 1.27 or later)',
      );
    throw err;
  }
  return parseAllDocuments(text).map((d) => d.toJS() as KubeObject);
}

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'PriorityClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'Tenant',
]);

/** `path` is dotted, with `[]` for every item of a list: `spec.template.spec.containers[].image`. */
function missing(object: unknown, path: string, where: string): string[] {
  const [head, ...rest] = path.split('.');
  if (head === undefined) return [];
  const each = head.endsWith('[]');
  const key = each ? head.slice(0, -2) : head;
  const value =
    typeof object === 'object' && object !== null ? (object as Record<string, unknown>)[key] : undefined;
  if (value === undefined || value === null || value === '') return [`${where}.${key}: is required`];
  if (rest.length === 0 && !each) return [];
  if (each) {
    if (!Array.isArray(value) || value.length === 0)
      return [`${where}.${key}: is required (a non-empty list)`];
    return rest.length === 0
      ? []
      : value.flatMap((item, i) => missing(item, rest.join('.'), `${where}.${key}[${i}]`));
  }
  return missing(value, rest.join('.'), `${where}.${key}`);
}

/** What the API server requires of both kinds of webhook configuration. */
const WEBHOOK_FIELDS = [
  'webhooks[].name',
  'webhooks[].clientConfig.service.name',
  'webhooks[].clientConfig.service.namespace',
  'webhooks[].sideEffects',
  'webhooks[].admissionReviewVersions',
  'webhooks[].rules[].operations',
  'webhooks[].rules[].apiGroups',
  'webhooks[].rules[].apiVersions',
  'webhooks[].rules[].resources',
];

const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  Deployment: [
    'spec.selector.matchLabels',
    'spec.template.metadata.labels',
    'spec.template.spec.containers[].name',
    'spec.template.spec.containers[].image',
  ],
  Service: ['spec.selector', 'spec.ports[].port'],
  PodDisruptionBudget: ['spec.selector.matchLabels'],
  NetworkPolicy: ['spec.podSelector'],
  ClusterRole: ['rules[].verbs'], // and resources or non-resource URLs: checkRules
  Role: ['rules[].apiGroups', 'rules[].resources', 'rules[].verbs'],
  ClusterRoleBinding: [
    'roleRef.apiGroup',
    'roleRef.kind',
    'roleRef.name',
    'subjects[].kind',
    'subjects[].name',
    'subjects[].namespace',
  ],
  RoleBinding: [
    'roleRef.apiGroup',
    'roleRef.kind',
    'roleRef.name',
    'subjects[].kind',
    'subjects[].name',
    'subjects[].namespace',
  ],
  MutatingWebhookConfiguration: WEBHOOK_FIELDS,
  ValidatingWebhookConfiguration: WEBHOOK_FIELDS,
  CustomResourceDefinition: [
    'spec.group',
    'spec.scope',
    'spec.names.plural',
    'spec.names.kind',
    'spec.versions[].name',
    'spec.versions[].schema.openAPIV3Schema',
  ],
  Tenant: ['spec'],
};

/** A ClusterRole's rules: each names resources (API groups and resources) or non-resource URLs, not both. */
function checkRules(o: KubeObject, where: string): string[] {
  const rules: unknown[] = o.kind === 'ClusterRole' && Array.isArray(o.rules) ? o.rules : [];
  return rules.flatMap((rule, i) => {
    const at = `${where}.rules[${i}]`;
    const r = (typeof rule === 'object' && rule !== null ? rule : {}) as Record<string, unknown>;
    if (r.nonResourceURLs === undefined)
      return [...missing(r, 'apiGroups', at), ...missing(r, 'resources', at)];
    const both = r.apiGroups !== undefined || r.resources !== undefined;
    return [
      ...missing(r, 'nonResourceURLs[]', at),
      ...(both ? [`${at}: non-resource URLs with resources`] : []),
    ];
  });
}

/** Required fields, and a namespace exactly where the kind is namespaced. */
export function checkRequiredFields(o: KubeObject): string[] {
  const where = `${o.kind}/${o.metadata?.name ?? '?'}`;
  const problems = [
    ...missing(o, 'apiVersion', where),
    ...missing(o, 'kind', where),
    ...missing(o, 'metadata.name', where),
    ...checkRules(o, where),
  ];
  for (const path of REQUIRED[o.kind] ?? []) problems.push(...missing(o, path, where));
  const namespaced = !CLUSTER_SCOPED.has(o.kind);
  // The reporter reads cluster Secrets where Argo CD keeps them, through a Role there.
  const inArgocd =
    (o.kind === 'Role' || o.kind === 'RoleBinding') &&
    o.metadata?.name === 'tenant-guard-reporter-cluster-secrets' &&
    o.metadata?.namespace === 'argocd';
  // The webhook records Events on Tenants, which (cluster-scoped) keep them in namespace default.
  const inDefault =
    (o.kind === 'Role' || o.kind === 'RoleBinding') &&
    o.metadata?.name === 'tenant-guard-webhook-events' &&
    o.metadata?.namespace === 'default';
  if (namespaced && o.metadata?.namespace !== 'tenant-guard' && !inArgocd && !inDefault)
    problems.push(`${where}: namespaced, but not in namespace tenant-guard`);
  if (!namespaced && o.metadata?.namespace !== undefined)
    problems.push(`${where}: cluster-scoped, but has a namespace`);
  if (
    o.kind === 'PodDisruptionBudget' &&
    (o.spec?.minAvailable === undefined) === (o.spec?.maxUnavailable === undefined)
  )
    problems.push(`${where}: exactly one of minAvailable and maxUnavailable`);
  return problems;
}

function find(
  objects: readonly KubeObject[],
  kind: string,
  name: string,
  namespace?: string,
): KubeObject | undefined {
  return objects.find(
    (o) =>
      o.kind === kind &&
      o.metadata.name === name &&
      (namespace === undefined || o.metadata.namespace === namespace),
  );
}

function selects(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  return (
    selector !== undefined &&
    Object.keys(selector).length > 0 &&
    Object.entries(selector).every(([k, v]) => labels?.[k] === v)
  );
}

/** Every name one object gives of another resolves in the build (or is listed as made outside it). */
export function checkReferences(
  objects: readonly KubeObject[],
  options: { externalSecrets: readonly string[] },
): string[] {
  const problems: string[] = [];
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  const certificateSecrets = objects
    .filter((o) => o.kind === 'Certificate')
    .map((o) => String(o.spec.secretName));
  for (const d of deployments) {
    const where = `Deployment/${d.metadata.name}`;
    const pod = d.spec.template.spec;
    if (!selects(d.spec.selector.matchLabels, d.spec.template.metadata.labels))
      problems.push(`${where}: selector does not match the pod labels`);
    if (find(objects, 'ServiceAccount', pod.serviceAccountName, d.metadata.namespace) === undefined)
      problems.push(`${where}: no ServiceAccount ${pod.serviceAccountName}`);
    for (const v of pod.volumes ?? []) {
      const secret = v.secret?.secretName;
      if (
        secret !== undefined &&
        find(objects, 'Secret', secret) === undefined &&
        !certificateSecrets.includes(secret) &&
        !options.externalSecrets.includes(secret)
      )
        problems.push(`${where}: volume ${v.name}: no Secret ${secret}`);
    }
    for (const c of pod.containers)
      for (const m of c.volumeMounts ?? [])
        if (!(pod.volumes ?? []).some((v: { name: string }) => v.name === m.name))
          problems.push(`${where}: mount ${m.name} has no volume`);
  }
  for (const kind of ['Service', 'PodDisruptionBudget', 'NetworkPolicy']) {
    for (const o of objects.filter((x) => x.kind === kind && x.metadata.name !== 'default-deny')) {
      const selector =
        kind === 'Service'
          ? o.spec.selector
          : kind === 'NetworkPolicy'
            ? o.spec.podSelector.matchLabels
            : o.spec.selector.matchLabels;
      if (!deployments.some((d) => selects(selector, d.spec.template.metadata.labels)))
        problems.push(`${kind}/${o.metadata.name}: selects no Deployment's pods`);
    }
  }
  for (const b of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const role = find(
      objects,
      b.roleRef.kind,
      b.roleRef.name,
      b.roleRef.kind === 'Role' ? b.metadata.namespace : undefined,
    );
    if (role === undefined)
      problems.push(`${b.kind}/${b.metadata.name}: no ${b.roleRef.kind} ${b.roleRef.name}`);
    for (const s of b.subjects)
      if (s.kind === 'ServiceAccount' && find(objects, 'ServiceAccount', s.name, s.namespace) === undefined)
        problems.push(`${b.kind}/${b.metadata.name}: no ServiceAccount ${s.namespace}/${s.name}`);
  }
  for (const c of objects.filter(
    (o) => o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration',
  )) {
    for (const w of c.webhooks) {
      const ref = w.clientConfig.service;
      const service = find(objects, 'Service', ref.name, ref.namespace);
      if (
        service === undefined ||
        !service.spec.ports.some((p: { port: number }) => p.port === (ref.port ?? 443))
      )
        problems.push(
          `${c.kind}/${w.name}: no Service ${ref.namespace}/${ref.name} on port ${ref.port ?? 443}`,
        );
    }
    const inject = c.metadata.annotations?.['cert-manager.io/inject-ca-from'];
    if (inject !== undefined) {
      const [ns, name] = String(inject).split('/');
      if (find(objects, 'Certificate', name ?? '', ns) === undefined)
        problems.push(`${c.kind}/${c.metadata.name}: inject-ca-from names no Certificate ${inject}`);
    }
  }
  for (const cert of objects.filter((o) => o.kind === 'Certificate')) {
    if (
      find(
        objects,
        cert.spec.issuerRef.kind ?? 'Issuer',
        cert.spec.issuerRef.name,
        cert.metadata.namespace,
      ) === undefined
    )
      problems.push(`Certificate/${cert.metadata.name}: no issuer ${cert.spec.issuerRef.name}`);
  }
  for (const issuer of objects.filter((o) => o.kind === 'Issuer' && o.spec.ca !== undefined)) {
    if (!certificateSecrets.includes(issuer.spec.ca.secretName))
      problems.push(`Issuer/${issuer.metadata.name}: no Certificate writes ${issuer.spec.ca.secretName}`);
  }
  return problems;
}

/** What the install promises of each pod (SPEC: issue 5). */
export function checkHardening(objects: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  const names = deployments.map((d) => d.metadata.name).sort();
  // The reporter is opt-in (overlays/reporter); the webhook and the broker are always there.
  if (
    names.join(',') !== 'tenant-guard-broker,tenant-guard-webhook' &&
    names.join(',') !== 'tenant-guard-broker,tenant-guard-reporter,tenant-guard-webhook'
  )
    problems.push(
      `expected the webhook and broker Deployments (and the reporter's), found ${names.join(', ')}`,
    );
  for (const d of deployments) {
    const where = `Deployment/${d.metadata.name}`;
    const bad = (what: string): void => void problems.push(`${where}: ${what}`);
    const pod = d.spec.template.spec;
    // The reporter is on no request path and only writes reports: one replica, no PDB.
    const onRequestPath = d.metadata.name !== 'tenant-guard-reporter';
    if (onRequestPath && d.spec.replicas !== 2) bad('replicas is not 2');
    if (!onRequestPath && d.spec.replicas !== 1)
      bad('replicas is not 1 (a second reporter writes the same reports)');
    const anti =
      pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ??
      pod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    if (
      !Array.isArray(anti) ||
      !anti.some(
        (t: {
          podAffinityTerm?: { labelSelector?: { matchLabels?: Record<string, string> } };
          labelSelector?: { matchLabels?: Record<string, string> };
        }) => selects((t.podAffinityTerm ?? t).labelSelector?.matchLabels, d.spec.template.metadata.labels),
      )
    )
      bad('no podAntiAffinity against its own pods');
    if (
      onRequestPath &&
      !objects.some(
        (o) =>
          o.kind === 'PodDisruptionBudget' &&
          selects(o.spec.selector.matchLabels, d.spec.template.metadata.labels),
      )
    )
      bad('no PodDisruptionBudget');
    if (pod.securityContext?.runAsNonRoot !== true) bad('pod runAsNonRoot is not true');
    if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault')
      bad('pod seccompProfile is not RuntimeDefault');
    if (pod.automountServiceAccountToken !== true)
      bad('automountServiceAccountToken is not stated true (it needs the API)');
    const sa = find(objects, 'ServiceAccount', pod.serviceAccountName);
    if (sa?.automountServiceAccountToken !== false) bad('its ServiceAccount mounts a token by default');
    if (pod.hostNetwork === true || pod.hostPID === true || pod.hostIPC === true)
      bad('shares a host namespace');
    for (const c of pod.containers) {
      const sc = c.securityContext ?? {};
      const at = `container ${c.name}`;
      if (sc.readOnlyRootFilesystem !== true) bad(`${at}: readOnlyRootFilesystem is not true`);
      if (sc.runAsNonRoot !== true) bad(`${at}: runAsNonRoot is not true`);
      if (sc.allowPrivilegeEscalation !== false) bad(`${at}: allowPrivilegeEscalation is not false`);
      if (sc.privileged === true) bad(`${at}: privileged`);
      if (JSON.stringify(sc.capabilities?.drop) !== '["ALL"]' || sc.capabilities?.add !== undefined)
        bad(`${at}: capabilities are not drop [ALL]`);
      if ((sc.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type) !== 'RuntimeDefault')
        bad(`${at}: seccomp is not RuntimeDefault`);
      if (c.readinessProbe?.httpGet?.path !== '/readyz' || c.readinessProbe?.httpGet?.scheme !== 'HTTPS')
        bad(`${at}: readiness probe is not HTTPS /readyz`);
      if (c.livenessProbe?.httpGet?.path !== '/healthz' || c.livenessProbe?.httpGet?.scheme !== 'HTTPS')
        bad(`${at}: liveness probe is not HTTPS /healthz`);
      if (
        c.resources?.requests?.cpu === undefined ||
        c.resources?.requests?.memory === undefined ||
        c.resources?.limits?.memory === undefined
      )
        bad(`${at}: no cpu/memory requests and memory limit`);
      if (/:latest$/.test(c.image) || !/:[\w.-]+$/.test(c.image))
        bad(`${at}: image ${c.image} has no fixed tag`);
      // Shutdown: the preStop sleep, the drain window and the grace for requests in flight fit in the pod's grace period.
      const preStop = c.lifecycle?.preStop;
      if (onRequestPath && preStop?.sleep?.seconds === undefined)
        bad(`${at}: no preStop sleep (the Endpoints change needs time to spread)`);
      const drainText =
        (c.env ?? []).find((e: { name: string }) => e.name === 'TG_DRAIN_SECONDS')?.value ??
        (c.args ?? []).find((a: string) => String(a).startsWith('--drain-seconds='))?.split('=')[1];
      const drain = drainText === undefined ? DEFAULT_DRAIN_SECONDS : Number(drainText);
      const needed = Number(preStop?.sleep?.seconds ?? 0) + drain + CLOSE_GRACE_MS / 1000;
      if (!(Number.isFinite(needed) && needed <= Number(pod.terminationGracePeriodSeconds ?? 30)))
        bad(
          `${at}: preStop ${preStop?.sleep?.seconds ?? 0} s + drain ${drain} s + close grace ${CLOSE_GRACE_MS / 1000} s exceed terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds ?? 30}`,
        );
    }
    const priority = find(objects, 'PriorityClass', pod.priorityClassName ?? '');
    // The reporter is on no request path: it keeps the default priority, and no Service drains it.
    if (!onRequestPath) {
      if (pod.priorityClassName !== undefined) bad('the reporter needs no priority over other workloads');
    } else if (priority === undefined)
      bad(`no priorityClassName naming a PriorityClass of the install (${pod.priorityClassName ?? 'none'})`);
    else if (
      String(pod.priorityClassName).startsWith('system-') ||
      priority.globalDefault === true ||
      !(priority.value > 0 && priority.value <= 1_000_000_000)
    )
      bad(`PriorityClass ${priority.metadata.name}: not a user priority above the default`);
  }
  return problems;
}

/**
 * The CRD's openAPIV3Schema for ajv, with `additionalProperties: false` on every object that
 * lists its properties: the API server prunes unknown fields and `kubectl apply` (strict
 * field validation, its default) refuses them; ajv alone would accept them. Also checks the
 * schema is structural (a type on every node; no additionalProperties beside properties).
 */
export function strictCrdSchema(crd: KubeObject): Record<string, unknown> {
  const version = crd.spec.versions.find((v: { storage: boolean }) => v.storage);
  const schema: unknown = version?.schema?.openAPIV3Schema;
  const walk = (node: unknown, path: string): unknown => {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return node;
    const n = node as Record<string, unknown>;
    if (
      n.type === undefined &&
      n['x-kubernetes-int-or-string'] !== true &&
      n['x-kubernetes-preserve-unknown-fields'] !== true
    )
      throw new Error(`not structural: ${path} has no type`);
    if (n.properties !== undefined && n.additionalProperties !== undefined)
      throw new Error(`not structural: ${path} has additionalProperties beside properties`);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(n)) {
      if (k === 'properties' && typeof v === 'object' && v !== null)
        out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, walk(s, `${path}.${p}`)]));
      else if (k === 'items') out[k] = walk(v, `${path}[]`);
      else out[k] = v;
    }
    if (n.type === 'object' && n.properties !== undefined && path !== '.metadata')
      out.additionalProperties = false;
    return out;
  };
  const strict = walk(schema, '');
  if (typeof strict !== 'object' || strict === null) throw new Error('the CRD has no openAPIV3Schema');
  return { ...(strict as Record<string, unknown>) };
}
