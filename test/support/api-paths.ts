/**
 * Request info of the test API server: which resource, namespace, name and verb a path
 * and method mean, as the API server's request-info resolver reads them.
 */
import type { RecordedRequest, Verb } from './api-faults.js';
import { JWKS_PATHS } from './api-jwks.js';
import type { ResourceType } from './api-store.js';

export interface ParsedPath {
  verb: Verb;
  type: ResourceType | undefined;
  info: Pick<RecordedRequest, 'group' | 'resource' | 'subresource' | 'namespace' | 'name'> & {
    path?: string;
  };
  query: Record<string, string>;
}

function verbOf(method: string, name: string | undefined, query: Record<string, string>): Verb {
  switch (method) {
    case 'GET':
      if (name !== undefined) return 'get';
      return query.watch === 'true' || query.watch === '1' ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return 'get';
  }
}

/** Resolves a request; `lookup` finds a registered type by group and plural. */
export function parseRequestPath(
  method: string,
  pathname: string,
  query: Record<string, string>,
  lookup: (group: string, plural: string) => ResourceType | undefined,
): ParsedPath {
  const parts = pathname
    .split('/')
    .filter((s) => s !== '')
    .map(decodeURIComponent);
  const discovery: ParsedPath = { verb: 'discovery', type: undefined, info: { path: pathname }, query };
  if (method === 'GET' && JWKS_PATHS.includes(pathname))
    return { verb: 'jwks', type: undefined, info: { path: pathname }, query };
  let group: string;
  let rest: string[];
  if (parts[0] === 'api') {
    if (parts.length <= 2) return discovery;
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    if (parts.length <= 3) return discovery;
    group = parts[1] ?? '';
    rest = parts.slice(3);
  } else return discovery;
  if (group === 'authentication.k8s.io' && rest[0] === 'tokenreviews' && method === 'POST') {
    return { verb: 'tokenreview', type: undefined, info: { group, resource: 'tokenreviews' }, query };
  }
  let namespace: string | undefined;
  const namespacedPath =
    rest[0] === 'namespaces' &&
    rest.length >= 3 &&
    !(group === '' && (rest[2] === 'status' || rest[2] === 'finalize'));
  if (namespacedPath) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource = '', name, subresource] = rest;
  const type = lookup(group, resource);
  const info: ParsedPath['info'] = { group, resource };
  if (namespace !== undefined) info.namespace = namespace;
  if (name !== undefined) info.name = name;
  if (subresource !== undefined) info.subresource = subresource;
  return { verb: verbOf(method, name, query), type, info, query };
}
