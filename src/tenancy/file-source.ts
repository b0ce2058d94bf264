import { readFileSync } from 'node:fs';
import { errnoCode, TenantGuardError } from '../errors.js';
import { documentsWithin } from '../yaml-depth.js';
import { buildStrictRegistry, type TenantRegistry } from './registry.js';
import { parseTenant, type Tenant } from './tenant.js';

/**
 * Deepest a document of a Tenants file may nest: a Tenant nests 5 levels. yaml's composer
 * recurses once a level, and deeper text ran it out of stack.
 */
export const MAX_TENANT_DOCUMENT_DEPTH = 32;

/**
 * Parses a multi-document YAML text of Tenants. Empty documents are skipped; a YAML error
 * or an invalid Tenant names its document number (1-based) and field, with the line and
 * column of a YAML error. A document nested deeper than MAX_TENANT_DOCUMENT_DEPTH is
 * refused unread (and reading stops there).
 * @throws TenantGuardError ERR_TENANT_INVALID (YAML, nesting or Tenant) or ERR_TENANT_CONFLICT.
 */
export function parseTenantsYaml(text: string, sourceName: string, argocdNamespace: string): TenantRegistry {
  // One document at a time: each YAML Document (several times the size of its text) is
  // garbage once its Tenant is read. All at once, 10,000 Tenants peaked at ~150 MB of heap,
  // which stayed as resident memory; streamed, the peak is one document.
  const tenants: Tenant[] = [];
  const problems: string[] = [];
  let index = 0;
  for (const read of documentsWithin(text, MAX_TENANT_DOCUMENT_DEPTH)) {
    const label = `${sourceName} document ${++index}`;
    if (!read.ok) {
      problems.push(
        `${label}: nests ${Number.isFinite(read.depth) ? read.depth : 'thousands of'} levels deep, past the ${MAX_TENANT_DOCUMENT_DEPTH} a Tenants file is read to (a Tenant nests 5); documents after it are not read`,
      );
      break;
    }
    const { doc } = read;
    if (doc.errors.length > 0) {
      problems.push(`${label}: YAML error: ${doc.errors[0]?.message.split('\n')[0] ?? 'unreadable'}`);
      continue;
    }
    const value: unknown = detachStrings(doc.toJS());
    if (value === null || value === undefined) continue;
    try {
      tenants.push(parseTenant(value, { source: label, argocdNamespace }));
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (problems.length > 0) throw new TenantGuardError('ERR_TENANT_INVALID', problems.join('\n'));
  return buildStrictRegistry(tenants, sourceName);
}

/** Deeper than this, a document is left as it is (it only costs memory; parseTenant judges it). */
const DETACH_MAX_DEPTH = 64;

/**
 * A copy of a parsed document whose strings are fresh, flat strings. The YAML parser hands
 * out slices of the file's text, so a registry of 10,000 Tenants kept the whole text (and
 * 100,000 slice headers) alive for as long as it served; a copy keeps just the values.
 */
export function detachStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string')
    return value.length === 0 ? value : (JSON.parse(JSON.stringify(value)) as string);
  if (depth >= DETACH_MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item: unknown) => detachStrings(item, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
    return value;
  const copy: Record<string, unknown> = {};
  // defineProperty: a key `__proto__` stays an own data key, as the parser gave it.
  for (const [key, item] of Object.entries(value))
    Object.defineProperty(copy, detachStrings(key) as string, {
      value: detachStrings(item, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return copy;
}

/** Reads and parses a tenants file. @throws TenantGuardError ERR_TENANTS_FILE when unreadable. */
export function loadTenantsFile(path: string, argocdNamespace: string): TenantRegistry {
  return parseTenantsYaml(readTenantsText(path), path, argocdNamespace);
}

/** The text of a tenants file. @throws TenantGuardError ERR_TENANTS_FILE when unreadable. */
export function readTenantsText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TenantGuardError(
      'ERR_TENANTS_FILE',
      `cannot read tenants file ${path}: ${errnoCode(err) ?? 'error'}`,
      { cause: err },
    );
  }
}
