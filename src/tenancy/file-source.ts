import { readFileSync } from 'node:fs';
import { Composer, Parser, parseAllDocuments } from 'yaml';
import { errnoCode, TenantGuardError } from '../errors.js';
import { buildStrictRegistry, type TenantRegistry } from './registry.js';
import { parseTenant, type Tenant } from './tenant.js';

/**
 * Parses a multi-document YAML text of Tenants. Empty documents are skipped; a YAML error
 * or an invalid Tenant names its document number (1-based) and field.
 * @throws TenantGuardError ERR_TENANTS_FILE (YAML) or ERR_TENANT_INVALID / ERR_TENANT_CONFLICT.
 */
export function parseTenantsYaml(text: string, sourceName: string, argocdNamespace: string): TenantRegistry {
  // One document at a time: each YAML Document (several times the size of its text) is
  // garbage once its Tenant is read. All at once, 10,000 Tenants peaked at ~150 MB of heap,
  // which stayed as resident memory; streamed, the peak is one document. A YAML error takes
  // the all-at-once path, whose messages carry line and column.
  const tenants: Tenant[] = [];
  const problems: string[] = [];
  let index = 0;
  for (const doc of new Composer().compose(new Parser().parse(text))) {
    index++;
    if (doc.errors.length > 0) return parseTenantsYamlAtOnce(text, sourceName, argocdNamespace);
    const value: unknown = detachStrings(doc.toJS());
    if (value === null || value === undefined) continue;
    try {
      tenants.push(parseTenant(value, { source: `${sourceName} document ${index}`, argocdNamespace }));
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

function parseTenantsYamlAtOnce(text: string, sourceName: string, argocdNamespace: string): TenantRegistry {
  const docs = parseAllDocuments(text);
  const tenants: Tenant[] = [];
  const problems: string[] = [];
  docs.forEach((doc, index) => {
    const label = `${sourceName} document ${index + 1}`;
    if (doc.errors.length > 0) {
      problems.push(`${label}: YAML error: ${doc.errors[0]?.message.split('\n')[0] ?? 'unreadable'}`);
      return;
    }
    const value: unknown = detachStrings(doc.toJS());
    if (value === null || value === undefined) return;
    try {
      tenants.push(parseTenant(value, { source: label, argocdNamespace }));
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  });
  if (problems.length > 0) throw new TenantGuardError('ERR_TENANT_INVALID', problems.join('\n'));
  return buildStrictRegistry(tenants, sourceName);
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
