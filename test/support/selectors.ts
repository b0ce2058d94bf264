/**
 * Label and field selectors of list and watch requests, as the API server reads them:
 * `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`; fields
 * `metadata.name` and `metadata.namespace` with `=`, `==` and `!=`.
 */
import { badRequest } from './api-status.js';

export type ObjectPredicate = (object: Record<string, unknown>) => boolean;

function labelsOf(object: Record<string, unknown>): Record<string, unknown> {
  const meta = object.metadata;
  if (typeof meta !== 'object' || meta === null) return {};
  const labels = (meta as Record<string, unknown>).labels;
  return typeof labels === 'object' && labels !== null ? (labels as Record<string, unknown>) : {};
}

function metaString(object: Record<string, unknown>, key: string): string {
  const meta = object.metadata;
  if (typeof meta !== 'object' || meta === null) return '';
  const value = (meta as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : '';
}

/** Splits on commas outside parentheses. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim() !== '') terms.push(current.trim());
  return terms;
}

function labelTerm(term: string): ObjectPredicate {
  const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (set !== null) {
    const [, key = '', op, list = ''] = set;
    const values = list.split(',').map((v) => v.trim());
    return (o) => {
      const v = labelsOf(o)[key];
      const has = typeof v === 'string' && values.includes(v);
      return op === 'in' ? has : !has;
    };
  }
  const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (cmp !== null) {
    const [, key = '', op, value = ''] = cmp;
    return (o) => (op === '!=' ? labelsOf(o)[key] !== value : labelsOf(o)[key] === value);
  }
  if (/^!\S+$/.test(term)) return (o) => !(term.slice(1) in labelsOf(o));
  if (/^\S+$/.test(term)) return (o) => term in labelsOf(o);
  throw badRequest(`unable to parse requirement: ${term}`);
}

function fieldTerm(term: string): ObjectPredicate {
  const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (cmp === null) throw badRequest(`invalid selector: '${term}'; can't understand '${term}'`);
  const [, field = '', op, value = ''] = cmp;
  if (field !== 'metadata.name' && field !== 'metadata.namespace')
    throw badRequest(`field label not supported: ${field}`);
  const key = field.slice('metadata.'.length);
  return (o) => (op === '!=' ? metaString(o, key) !== value : metaString(o, key) === value);
}

/** A predicate for both selectors (absent or empty selects everything). */
export function parseSelectors(labelSelector: string | null, fieldSelector: string | null): ObjectPredicate {
  const preds: ObjectPredicate[] = [];
  for (const t of splitTerms(labelSelector ?? '')) preds.push(labelTerm(t));
  for (const t of splitTerms(fieldSelector ?? '')) preds.push(fieldTerm(t));
  return (o) => preds.every((p) => p(o));
}
