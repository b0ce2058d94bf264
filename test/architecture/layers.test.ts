import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findLayerViolations, importSpecifiers, sourceFiles, type SourceFile } from './layers.js';

describe('layers of src/', () => {
  test('no file imports a layer it must not (policy, tenancy, credential, broker, server, report)', () => {
    const files = sourceFiles();
    assert.ok(files.length > 100, `read ${files.length} files`);
    assert.deepEqual(findLayerViolations(files), []);
  });

  test('the checker finds a planted upward import, of every form', () => {
    const files: SourceFile[] = [
      { path: 'src/policy/bad.ts', text: "import { x } from '../broker/options.js';\n" },
      { path: 'src/policy/bad-type.ts', text: "import type {\n  Y,\n} from '../server/component.js';\n" },
      { path: 'src/tenancy/bad.ts', text: "export { serverKey } from '../policy/destination.js';\n" },
      { path: 'src/credential/bad.ts', text: "const m = await import('../broker/index.js');\n" },
      { path: 'src/broker/bad.ts', text: "import '../cli/io.js';\n" },
      { path: 'src/server/bad.ts', text: "import type { CliIo } from '../cli/io.js';\n" },
      { path: 'src/report/bad.ts', text: "import { Reporter } from '../reporter/reporter.js';\n" },
      // Allowed: policy may use tenancy and the root helpers; a package is no layer.
      {
        path: 'src/policy/good.ts',
        text: "import { serverKey } from '../tenancy/cluster-url.js';\nimport { isRecord } from '../json.js';\nimport { Ajv } from 'ajv';\n",
      },
    ];
    assert.deepEqual(
      findLayerViolations(files).map((v) => `${v.from} -> ${v.to} (${v.file})`),
      [
        'policy -> broker (src/policy/bad.ts)',
        'policy -> server (src/policy/bad-type.ts)',
        'tenancy -> policy (src/tenancy/bad.ts)',
        'credential -> broker (src/credential/bad.ts)',
        'broker -> cli (src/broker/bad.ts)',
        'server -> cli (src/server/bad.ts)',
        'report -> reporter (src/report/bad.ts)',
      ],
    );
  });

  test('reads every import form and ignores the word import in text', () => {
    const text =
      "import a from './a.js';\nimport { b } from \"./b.js\";\nexport * from './c.js';\nimport './d.js';\nvoid import('./e.js');\n/** we import nothing from './f.js' here */\n  // nor from './g.js'\nconst s = 'import x';\n";
    assert.deepEqual(importSpecifiers(text), ['./a.js', './b.js', './c.js', './d.js', './e.js']);
  });
});
