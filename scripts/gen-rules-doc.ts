/**
 * Writes docs/rules.md from the rule catalogue (src/policy/rule-catalogue.ts):
 * `npm run gen:rules`. test/policy/rule-catalogue.test.ts fails when the file drifts.
 */
import { writeFileSync } from 'node:fs';
import { renderRulesDoc } from '../src/policy/rules-doc.js';

writeFileSync(new URL('../docs/rules.md', import.meta.url), renderRulesDoc());
