/**
 * A strict offline schema check of built-in Kubernetes objects, driven by the typed models of
 * @kubernetes/client-node (generated from the Kubernetes OpenAPI): every field must be one the
 * model knows (an unknown field is what `kubectl apply`'s strict field validation refuses),
 * with the model's primitive type. `required` is not in those models: the callers check the
 * fields that matter themselves.
 */
import * as k8s from '@kubernetes/client-node';

interface Attribute {
  baseName: string;
  type: string;
  format: string;
}

const models = new Map<string, () => readonly Attribute[]>();
for (const [name, value] of Object.entries(k8s)) {
  if (typeof value !== 'function' || !('getAttributeTypeMap' in value)) continue;
  const getMap: unknown = value.getAttributeTypeMap;
  if (typeof getMap !== 'function') continue;
  models.set(name, () => {
    const map: unknown = getMap.call(value);
    if (!Array.isArray(map)) throw new Error(`${name}.getAttributeTypeMap() is not an array`);
    return map.filter(
      (a): a is Attribute =>
        typeof a === 'object' && a !== null && typeof a.baseName === 'string' && typeof a.type === 'string',
    );
  });
}

/** apiVersion each built-in kind must use (the GA versions of Kubernetes 1.30+). */
export const BUILT_IN_KINDS: Readonly<Record<string, string>> = {
  Namespace: 'v1',
  ServiceAccount: 'v1',
  Secret: 'v1',
  Service: 'v1',
  ConfigMap: 'v1',
  Deployment: 'apps/v1',
  PodDisruptionBudget: 'policy/v1',
  PriorityClass: 'scheduling.k8s.io/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  ClusterRole: 'rbac.authorization.k8s.io/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
  Role: 'rbac.authorization.k8s.io/v1',
  RoleBinding: 'rbac.authorization.k8s.io/v1',
  CustomResourceDefinition: 'apiextensions.k8s.io/v1',
  MutatingWebhookConfiguration: 'admissionregistration.k8s.io/v1',
  ValidatingWebhookConfiguration: 'admissionregistration.k8s.io/v1',
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The model class name of a built-in kind, e.g. `V1Deployment`. */
export function modelName(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop() ?? '';
  return `V${version.slice(1)}${kind}`;
}

/** Walks `value` against `type`; pushes one line per problem, with its path. */
export function checkAgainstModel(value: unknown, type: string, path: string, problems: string[]): void {
  const bad = (what: string): void => void problems.push(`${path}: ${what}`);
  if (type === 'any' || type === 'object') return;
  if (type === 'string')
    return typeof value === 'string' ? undefined : bad(`${JSON.stringify(value)} is not a string`);
  if (type === 'boolean')
    return typeof value === 'boolean' ? undefined : bad(`${JSON.stringify(value)} is not a boolean`);
  if (type === 'number')
    return typeof value === 'number' ? undefined : bad(`${JSON.stringify(value)} is not a number`);
  if (type === 'Date')
    return typeof value === 'string' && !Number.isNaN(Date.parse(value))
      ? undefined
      : bad(`${JSON.stringify(value)} is not a date-time`);
  if (type === 'IntOrString')
    return typeof value === 'string' || Number.isInteger(value)
      ? undefined
      : bad(`${JSON.stringify(value)} is neither an integer nor a string`);
  const array = /^Array<(.+)>$/.exec(type);
  if (array !== null) {
    if (!Array.isArray(value)) return bad('is not a list');
    value.forEach((item, i) => checkAgainstModel(item, array[1] ?? 'any', `${path}[${i}]`, problems));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map !== null) {
    if (!isPlainObject(value)) return bad('is not a mapping');
    for (const [k, v] of Object.entries(value))
      checkAgainstModel(v, map[1] ?? 'any', `${path}.${k}`, problems);
    return;
  }
  const attributes = models.get(type);
  if (attributes === undefined) return bad(`no model named ${type}`);
  if (!isPlainObject(value)) return bad(`is not a mapping (${type})`);
  const byName = new Map(attributes().map((a) => [a.baseName, a]));
  for (const [k, v] of Object.entries(value)) {
    const attribute = byName.get(k);
    if (attribute === undefined) {
      bad(`unknown field "${k}" in ${type}`);
      continue;
    }
    if (
      attribute.type === 'number' &&
      (attribute.format === 'int32' || attribute.format === 'int64') &&
      typeof v === 'number' &&
      !Number.isInteger(v)
    ) {
      problems.push(`${path}.${k}: ${v} is not an integer`);
      continue;
    }
    checkAgainstModel(v, attribute.type, `${path}.${k}`, problems);
  }
}

/** Checks one built-in object: its apiVersion, then every field against its model. */
export function checkBuiltIn(object: Record<string, unknown>): string[] {
  const kind = String(object.kind);
  const name = isPlainObject(object.metadata) ? String(object.metadata.name) : '?';
  const where = `${kind}/${name}`;
  const expected = BUILT_IN_KINDS[kind];
  if (expected === undefined) return [`${where}: not a built-in kind this check knows`];
  if (object.apiVersion !== expected)
    return [`${where}: apiVersion ${String(object.apiVersion)} is not ${expected}`];
  const problems: string[] = [];
  checkAgainstModel(object, modelName(expected, kind), where, problems);
  return problems;
}
