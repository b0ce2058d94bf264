/**
 * docs/rules.md as text, from the rule catalogue: every rule id with what it protects, an
 * allowed and a denied example, how to fix a denial, and the module that checks it. Each
 * entry's anchor is its lower-cased id (`docs/rules.md#tg-app-02`), which denial lines and
 * Policy Report messages link to.
 */
import { RULE_CATALOGUE } from './rule-catalogue.js';
import { RELAXABLE_RULES, EVERY_REQUESTER_RULES } from './types.js';

/** What the table says of a relaxable rule some of whose findings no mode relaxes. */
const PARTLY_RELAXED: Partial<Record<string, string>> = {
  'TG-AS-01': "yes, but not a literal project that is not the tenant's",
  'TG-AS-02': 'yes, but only beside `matchLabels` pinned to the tenant',
};

export function renderRulesDoc(): string {
  const out: string[] = [
    '# Rule reference',
    '',
    '<!-- Generated from src/policy/rule-catalogue.ts by `npm run gen:rules`; do not edit by hand. -->',
    '',
    'Every rule tenant-guard applies, in the order a denial lists them (SPEC section 5). A',
    'denial line reads `[RULE] path value found; what is allowed`; its rule links here.',
    '',
    '| rule | title | SPEC | relaxed by warn/audit | binds platform admins |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const r of RULE_CATALOGUE) {
    out.push(
      `| [${r.id}](#${r.id.toLowerCase()}) | ${r.title} | ${r.section} | ${RELAXABLE_RULES.has(r.id) ? (PARTLY_RELAXED[r.id] ?? 'yes') : 'no'} | ${EVERY_REQUESTER_RULES.has(r.id) ? 'yes' : 'no'} |`,
    );
  }
  for (const r of RULE_CATALOGUE) {
    out.push(
      '',
      `## ${r.id}`,
      '',
      `**${r.title}** (SPEC section ${r.section}; checked in [\`${r.module}\`](../${r.module}))`,
      '',
      r.protects,
      '',
      'Allowed:',
      '',
      '```yaml',
      r.allowed,
      '```',
      '',
      'Denied:',
      '',
      '```yaml',
      r.denied,
      '```',
      '',
      `How to fix: ${r.fix}`,
    );
  }
  return `${out.join('\n')}\n`;
}
