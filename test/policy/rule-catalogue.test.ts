/**
 * The rule catalogue is the one list of rules: docs/rules.md is generated from it (no
 * drift), every id is in the source of the module it names (grep finds the check), and the
 * rule sets the policy core uses hold only catalogue ids.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { RULE_CATALOGUE, RULE_ORDER, ruleReference } from '../../src/policy/rule-catalogue.js';
import { renderRulesDoc } from '../../src/policy/rules-doc.js';
import { EVERY_REQUESTER_RULES, RELAXABLE_RULES, WHO_MAY_RULES } from '../../src/policy/types.js';

const root = new URL('../../', import.meta.url);

describe('the rule catalogue', () => {
  test('docs/rules.md is what `npm run gen:rules` makes of it', () => {
    assert.equal(
      readFileSync(new URL('docs/rules.md', root), 'utf8'),
      renderRulesDoc(),
      'run npm run gen:rules',
    );
  });

  test('every rule id is written in the module that checks it', () => {
    for (const rule of RULE_CATALOGUE) {
      const source = readFileSync(new URL(rule.module, root), 'utf8');
      assert.ok(source.includes(`'${rule.id}'`), `${rule.module} names '${rule.id}'`);
    }
  });

  test('ids are unique, in SPEC order, with an entry (anchor) each in docs/rules.md', () => {
    assert.equal(new Set(RULE_ORDER).size, RULE_ORDER.length);
    const doc = readFileSync(new URL('docs/rules.md', root), 'utf8');
    for (const id of RULE_ORDER) {
      assert.match(doc, new RegExp(`^## ${id}$`, 'm'));
      assert.equal(ruleReference(id), `docs/rules.md#${id.toLowerCase()}`);
    }
    const families = RULE_ORDER.map((id) => id.replace(/-\d+$/, ''));
    assert.deepEqual(
      [...new Set(families)],
      ['TG-REQ', 'TG-OWN', 'TG-AS', 'TG-APP', 'TG-CS', 'TG-PRJ'],
      'families in SPEC order',
    );
  });

  test('the rule sets of the policy core name only catalogue rules', () => {
    for (const set of [RELAXABLE_RULES, EVERY_REQUESTER_RULES, WHO_MAY_RULES]) {
      for (const id of set) assert.ok(RULE_ORDER.includes(id), id);
    }
  });
});
