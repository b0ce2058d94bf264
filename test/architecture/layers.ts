/**
 * The import rule of src/: which layer (a folder under src/) may not import which. A layer
 * lower down must not depend on one above it, so the pure policy core never pulls in I/O and
 * the credential plugin (one bundled executable) never ships the broker or the server.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** For each layer, the layers it must not import. */
export const FORBIDDEN_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  policy: ['admission', 'server', 'audit', 'broker', 'cli', 'reporter', 'report'],
  tenancy: ['policy', 'broker'],
  credential: ['broker', 'server', 'cli'],
  broker: ['cli'],
  server: ['cli'],
  report: ['reporter', 'cli', 'server'],
};

/** One source file: its path from the repository root (`src/policy/x.ts`) and its text. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

export interface LayerViolation {
  readonly file: string;
  readonly specifier: string;
  readonly from: string;
  readonly to: string;
}

// Static imports and re-exports (`import … from '…'`, `export … from '…'`, `import '…'`) and
// dynamic `import('…')`. Type-only imports count too: they couple the layers all the same.
const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** The specifiers a file imports. */
export function importSpecifiers(text: string): string[] {
  const out: string[] = [];
  // Comments mention imports in prose; a line comment here starts its line.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  for (const m of code.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec !== undefined) out.push(spec);
  }
  return out;
}

/** The layer of a path under src/ (`src/policy/x.ts` → `policy`; `src/json.ts` → undefined). */
export function layerOf(path: string): string | undefined {
  const parts = posix.normalize(path).split('/');
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : undefined;
}

/** Every import in `files` that crosses a forbidden boundary. */
export function findLayerViolations(
  files: readonly SourceFile[],
  forbidden: Readonly<Record<string, readonly string[]>> = FORBIDDEN_IMPORTS,
): LayerViolation[] {
  const violations: LayerViolation[] = [];
  for (const file of files) {
    const from = layerOf(file.path);
    if (from === undefined) continue;
    const banned = forbidden[from] ?? [];
    for (const specifier of importSpecifiers(file.text)) {
      if (!specifier.startsWith('.')) continue;
      const to = layerOf(posix.join(posix.dirname(file.path), specifier));
      if (to !== undefined && banned.includes(to)) violations.push({ file: file.path, specifier, from, to });
    }
  }
  return violations;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every `.ts` file under `src/` (or `dir`, from the repository root), with its path from the root. */
export function sourceFiles(dir = join(ROOT, 'src')): SourceFile[] {
  const out: SourceFile[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts'))
      out.push({ path: relative(ROOT, path).split('\\').join('/'), text: readFileSync(path, 'utf8') });
  }
  return out;
}
