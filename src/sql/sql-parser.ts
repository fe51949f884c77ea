import { ClickHouseDialect, init, parse } from '@guanmingchiu/sqlparser-ts';

/**
 * The real SQL parser (Apache DataFusion's sqlparser, ClickHouse dialect, compiled to WASM), loaded once.
 * It reads most of what ClickHouse reads but not all of it, so callers treat "cannot parse" as "no verdict"
 * unless they explicitly fail closed (blocked clauses do, as altinity-mcp does).
 */

let ready: Promise<void> | undefined;
let dialect: ClickHouseDialect | undefined;

/** Loads the WASM parser once; call at start-up so the first query does not pay for it. */
export function loadSqlParser(): Promise<void> {
  ready ??= init().then(() => {
    dialect = new ClickHouseDialect();
  });
  return ready;
}

/** True once {@link loadSqlParser} has finished. */
export function sqlParserReady(): boolean {
  return dialect !== undefined;
}

export type ParseOutcome = { ok: true; ast: unknown } | { ok: false; reason: string };

/** Parses with the loaded parser (call {@link loadSqlParser} first; before that every parse fails). */
export function parseClickHouseSql(sql: string): ParseOutcome {
  if (!dialect) return { ok: false, reason: 'the SQL parser is not loaded' };
  try {
    return { ok: true, ast: parse(sql, dialect) };
  } catch (err) {
    return { ok: false, reason: String((err as Error).message ?? err).replace(/^sql parser error:\s*/, '') };
  }
}
