import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Module boundaries, checked on the source text: no import circle inside `src/mcp/`, the SQL module a leaf,
 * and the rate limiter independent of MCP. Type-only imports are ignored (they vanish at run time).
 */
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) out.push(path);
  }
  return out;
}

/** Relative runtime imports of every source file, as paths relative to src/ (`mcp/tools/arguments.ts`). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const statement = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    const deps: string[] = [];
    for (const m of text.matchAll(statement)) {
      if (m[2]) continue; // import type / export type
      deps.push(relative(SRC, resolve(dirname(file), m[3]!.replace(/\.js$/, '.ts'))));
    }
    graph.set(relative(SRC, file), deps);
  }
  return graph;
}

/** One cycle among the nodes `inside` selects, as a path of files, or undefined. */
function findCycle(graph: Map<string, string[]>, inside: (file: string) => boolean): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      if (!inside(dep) || !graph.has(dep)) continue;
      if (state.get(dep) === 'open') return [...stack.slice(stack.indexOf(dep)), dep];
      if (!state.has(dep)) {
        const found = visit(dep);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    if (inside(node) && !state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}

describe('module boundaries', () => {
  const graph = importGraph();

  it('finds the imports it checks (the scan works)', () => {
    expect(graph.get('mcp/tools/arguments.ts')).toContain('mcp/tools/sql-checks.ts');
  });

  it('has no import circle inside src/mcp/', () => {
    expect(findCycle(graph, (f) => f.startsWith('mcp/'))).toBeUndefined();
  });

  it('detects a circle when there is one', () => {
    const fake = new Map([
      ['mcp/a.ts', ['mcp/b.ts']],
      ['mcp/b.ts', ['mcp/a.ts']],
    ]);
    expect(findCycle(fake, () => true)).toEqual(['mcp/a.ts', 'mcp/b.ts', 'mcp/a.ts']);
  });

  it('keeps src/sql/ a leaf: no mcp/, clickhouse/ or config/ imports', () => {
    for (const [file, deps] of graph) {
      if (!file.startsWith('sql/')) continue;
      expect(deps.filter((d) => /^(mcp|clickhouse|config)\//.test(d)), file).toEqual([]);
    }
  });

  it('keeps src/rate-limit/ independent of src/mcp/', () => {
    for (const [file, deps] of graph) {
      if (!file.startsWith('rate-limit/')) continue;
      expect(deps.filter((d) => d.startsWith('mcp/')), file).toEqual([]);
    }
  });
});
