import { loadSqlParser, parseClickHouseSql } from './sql-parser.js';

export { loadSqlParser } from './sql-parser.js';

/**
 * `server.blocked_query_clauses`: rejects SQL that uses a configured clause, found in a real parse of the
 * statement (Apache DataFusion's sqlparser, ClickHouse dialect, compiled to WASM) — never by regular
 * expressions, so `SELECT format(...)` or a table called `settings_table` are not mistaken for clauses.
 * Like altinity-mcp, SQL the parser cannot read is refused whenever any clause is blocked (fail closed).
 */

/** Struct fields that stand for a clause when present and non-empty. */
const FIELD_CLAUSES: Record<string, string[]> = {
  settings: ['SETTINGS'],
  format_clause: ['FORMAT'],
  selection: ['WHERE'],
  prewhere: ['PREWHERE'],
  having: ['HAVING'],
  qualify: ['QUALIFY'],
  order_by: ['ORDER BY'],
  limit_clause: ['LIMIT'],
  limit: ['LIMIT'],
  offset: ['OFFSET'],
  fetch: ['FETCH'],
  with: ['WITH'],
  joins: ['JOIN'],
  into: ['INTO'],
  distinct: ['DISTINCT'],
  top: ['TOP'],
  sample: ['SAMPLE'],
};

/** `GroupBy` is always present in the AST; it counts only with expressions. */
function groupByUsed(value: unknown): boolean {
  const g = value as { Expressions?: [unknown[], unknown[]]; All?: unknown } | undefined;
  return Boolean(g && (g.All !== undefined || (g.Expressions && g.Expressions[0].length > 0)));
}

function isPresent(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return false;
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

/** `CreateTable` → ['CREATE TABLE', 'CREATETABLE']; `Set` → ['SET']. */
function variantNames(variant: string): string[] {
  const spaced = variant.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toUpperCase();
  return spaced.includes(' ') ? [spaced, spaced.replace(/ /g, '')] : [spaced];
}

/** The configured name in the forms altinity-mcp accepts: `WHERE`, `WHERECLAUSE`, `INTO OUTFILE`, `SELECTQUERY`. */
function normalise(name: string): string[] {
  const upper = name.trim().toUpperCase().replace(/\s+/g, ' ');
  const forms = new Set([upper, upper.replace(/ /g, '')]);
  for (const suffix of ['CLAUSE', 'STMT', 'QUERY']) {
    if (upper.endsWith(suffix) && upper.length > suffix.length) forms.add(upper.slice(0, -suffix.length).trim());
  }
  if (upper === 'SELECT' || upper === 'SELECTQUERY') forms.add('QUERY');
  return [...forms];
}

/** `clause` names the configured clause that matched (absent when the SQL could not be parsed). */
export type BlockedClauseCheck = { ok: true } | { ok: false; message: string; clause?: string };

/**
 * Returns the altinity-mcp error text for the first blocked clause the SQL uses, or for SQL that does not
 * parse; `ok` otherwise. `blocked` is the configured list (empty: nothing is checked, nothing is parsed).
 */
export async function checkBlockedClauses(sql: string, blocked: readonly string[]): Promise<BlockedClauseCheck> {
  if (blocked.length === 0) return { ok: true };
  await loadSqlParser();
  const parsed = parseClickHouseSql(sql);
  if (!parsed.ok) return { ok: false, message: `Query rejected: SQL could not be parsed for blocked-clause validation: ${parsed.reason}` };
  const ast = parsed.ast;
  const wanted = blocked.map((name) => ({ name: name.trim(), forms: new Set(normalise(name)) }));
  const hit = (names: string[]): string | undefined => {
    for (const w of wanted) if (names.some((n) => w.forms.has(n) || w.forms.has(n.replace(/ /g, '')))) return w.name;
    return undefined;
  };
  const stack: unknown[] = [ast];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push(node[i]);
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    const entries = Object.entries(node as Record<string, unknown>);
    for (const [key, value] of entries) {
      if (key === 'span' || key === 'token' || key === 'select_token') continue;
      let names: string[] | undefined;
      if (/^[A-Z]/.test(key)) names = variantNames(key);
      else if (key === 'group_by') names = groupByUsed(value) ? ['GROUP BY'] : undefined;
      else if (FIELD_CLAUSES[key] && isPresent(value)) names = FIELD_CLAUSES[key];
      const found = names && hit(names);
      if (found) return { ok: false, message: `Query rejected: ${found.toUpperCase()} clause is not allowed`, clause: found.toUpperCase() };
    }
    for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i]![1]);
  }
  return { ok: true };
}
