/**
 * Folders inside a layer (`src/broker/keys/`, `src/broker/callers/`) are parts that the layer's
 * top level wires together: a part imports nothing of its own layer outside itself, neither the
 * wiring above it nor a sibling part. Root helpers (`src/errors.ts`) and other layers are
 * governed by layers.ts, not here.
 */
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { describe, test } from 'node:test';
import { importSpecifiers, sourceFiles, type SourceFile } from './layers.js';

/** `src/broker/keys/x.ts` → `src/broker/keys`; undefined for a file not inside a part. */
function partOf(path: string): string | undefined {
  const parts = posix.normalize(path).split('/');
  return parts[0] === 'src' && parts.length > 3 ? parts.slice(0, 3).join('/') : undefined;
}

/** Every import of a part that reaches into its layer outside the part, as `file -> target`. */
function partViolations(files: readonly SourceFile[]): string[] {
  const out: string[] = [];
  for (const file of files) {
    const part = partOf(file.path);
    if (part === undefined) continue;
    const layer = posix.dirname(part);
    for (const specifier of importSpecifiers(file.text)) {
      if (!specifier.startsWith('.')) continue;
      const target = posix.join(posix.dirname(file.path), specifier);
      if (target.startsWith(`${layer}/`) && !target.startsWith(`${part}/`))
        out.push(`${file.path} -> ${target}`);
    }
  }
  return out;
}

describe('parts of a layer', () => {
  test('src/broker/keys and src/broker/callers import nothing of the broker outside themselves', () => {
    const files = sourceFiles();
    const parts = new Set(files.map((f) => partOf(f.path)).filter((p) => p !== undefined));
    assert.ok(parts.has('src/broker/keys') && parts.has('src/broker/callers'), [...parts].join(', '));
    assert.deepEqual(partViolations(files), []);
  });

  test('the checker finds a part reaching up to its wiring or across to a sibling', () => {
    const files: SourceFile[] = [
      { path: 'src/broker/keys/bad.ts', text: "import type { SigningAlg } from '../options.js';\n" },
      { path: 'src/broker/callers/bad.ts', text: "import { signToken } from '../keys/signer.js';\n" },
      // Allowed: its own part, root helpers, another layer; and the wiring importing a part.
      {
        path: 'src/broker/keys/good.ts',
        text: "import { x } from './key-ring.js';\nimport { y } from '../../errors.js';\nimport { z } from '../../kube/kube-call.js';\n",
      },
      { path: 'src/broker/broker.ts', text: "import { signToken } from './keys/signer.js';\n" },
    ];
    assert.deepEqual(partViolations(files), [
      'src/broker/keys/bad.ts -> src/broker/options.js',
      'src/broker/callers/bad.ts -> src/broker/keys/signer.js',
    ]);
  });
});
