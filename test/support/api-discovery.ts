/**
 * Discovery documents of the test API server (`/version`, `/api`, `/api/v1`, `/apis`,
 * `/apis/G/V`), enough for client-node's KubernetesObjectApi to find resources.
 */
import type { ResourceType } from './api-store.js';

function resourceList(groupVersion: string, types: ResourceType[]): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: types.map((t) => ({
      name: t.plural,
      singularName: t.kind.toLowerCase(),
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    })),
  };
}

/** The discovery document for `path`, or a 404-like empty document. */
export function discoveryDocument(path: string, types: ResourceType[]): Record<string, unknown> {
  const parts = path.split('/').filter((s) => s !== '');
  if (parts[0] === 'version')
    return { major: '1', minor: '33', gitVersion: 'v1.33.0-tenant-guard-test', platform: 'linux/amd64' };
  if (parts[0] === 'api' && parts.length === 1)
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  if (parts[0] === 'api')
    return resourceList(
      'v1',
      types.filter((t) => t.group === ''),
    );
  const groups = new Map<string, Set<string>>();
  for (const t of types)
    if (t.group !== '') groups.set(t.group, (groups.get(t.group) ?? new Set()).add(t.version));
  if (parts.length <= 1) {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups.entries()].map(([name, versions]) => ({
        name,
        versions: [...versions].map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
        preferredVersion: {
          groupVersion: `${name}/${[...versions][0] ?? ''}`,
          version: [...versions][0] ?? '',
        },
      })),
    };
  }
  const [, group = '', version] = parts;
  if (version === undefined) {
    const versions = [...(groups.get(group) ?? [])];
    return {
      kind: 'APIGroup',
      apiVersion: 'v1',
      name: group,
      versions: versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v })),
    };
  }
  return resourceList(
    `${group}/${version}`,
    types.filter((t) => t.group === group && t.version === version),
  );
}
