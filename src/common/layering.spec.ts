import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports, statically or dynamically (type-only imports included). */
export function importedSpecifiers(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) found.push(m[1]!);
  for (const m of source.matchAll(/(?:^|[\s;])import\s*['"]([^'"]+)['"]/g)) found.push(m[1]!);
  for (const m of source.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  return found;
}

/** `src/`-relative paths under `layer` that import something under `forbidden`. */
function violations(layer: string, forbidden: string): string[] {
  const bad: string[] = [];
  const self = fileURLToPath(import.meta.url);
  for (const file of sourceFiles(join(SRC, layer))) {
    if (file === self) continue; // its own fixtures name the forbidden paths
    for (const spec of importedSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = relative(SRC, resolve(dirname(file), spec));
      if (target === forbidden || target.startsWith(`${forbidden}/`)) bad.push(`${relative(SRC, file)} → ${spec}`);
    }
  }
  return bad;
}

describe('arrows point one way', () => {
  it('finds static, type-only, re-exported and dynamic imports', () => {
    const text = [
      "import { A } from '../clickhouse/a.js';",
      "import type { B } from '../clickhouse/b.js';",
      "export { C } from '../clickhouse/c.js';",
      "import '../clickhouse/side-effect.js';",
      "const d = await import('../clickhouse/d.js');",
      'import {\n  E,\n  F,\n} from "../clickhouse/e.js";',
    ].join('\n');
    expect(importedSpecifiers(text)).toEqual(
      expect.arrayContaining(['../clickhouse/a.js', '../clickhouse/b.js', '../clickhouse/c.js', '../clickhouse/side-effect.js', '../clickhouse/d.js', '../clickhouse/e.js']),
    );
  });

  it.each(['common', 'metrics'])('src/%s does not import the data layer (src/clickhouse)', (layer) => {
    expect(violations(layer, 'clickhouse')).toEqual([]);
  });
});
