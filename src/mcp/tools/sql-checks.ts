/**
 * The one check sequence every piece of SQL passes before the gateway sends it to ClickHouse — the
 * `execute_query` / `write_query` tools, the view and insert tools (their generated SQL), and the OpenAPI
 * routes. Each route first decodes its own arguments (with its own upstream texts), then calls
 * {@link checkSqlText}, then checks the `settings` argument. The steps, in order:
 *
 *  1. read-only guard, when `readOnlyGuard: 'first'` (MCP `execute_query`: altinity-mcp checks it first);
 *  2. length: `query exceeds max length (N bytes, limit M)` (OpenAPI answers 413);
 *  3. read-only guard, when `readOnlyGuard: 'after-length'` (OpenAPI `execute_query`, upstream §E.1);
 *  4. nesting depth (old ClickHouse parsers crash on deep nesting);
 *  5. blocked clauses (`server.blocked_query_clauses`, real parse; altinity-mcp's texts come first);
 *  6. the SQL policy (src/sql/sql-policy.ts): INTO OUTFILE / FROM INFILE, table functions, protected settings.
 *
 * The first failing step wins; its `step` lets an HTTP route pick the status.
 */
import { utf8Length } from '../../common/go-compat.js';
import type { GatewayConfig } from '../../config/config.types.js';
import { effectiveLimits } from '../../config/effective-limits.js';
import { sqlPolicyFor } from '../../config/sql-policy-config.js';
import { checkBlockedClauses } from '../../sql/blocked-clauses.js';
import { loadSqlParser } from '../../sql/sql-parser.js';
import { READ_ONLY_REJECTION, isReadOnlyStatement } from '../../sql/select-guard.js';
import { findPolicyViolationCached, type SqlPolicy } from '../../sql/sql-policy.js';
import { scanSql } from '../../sql/sql-scan.js';

/**
 * altinity-mcp's `max_query_length` check (bytes of UTF-8): `query exceeds max length (<len> bytes, limit <max>)`.
 * `maxQueryLength` undefined means no cap (a negative config value).
 */
export function checkQueryLength(query: string, maxQueryLength: number | undefined): string | undefined {
  if (maxQueryLength === undefined || maxQueryLength <= 0) return undefined;
  if (query.length * 3 <= maxQueryLength) return undefined; // cannot exceed it
  const bytes = utf8Length(query);
  return bytes > maxQueryLength ? `query exceeds max length (${bytes} bytes, limit ${maxQueryLength})` : undefined;
}

/**
 * Deepest bracket nesting a query may have. ClickHouse's parser recurses per level; old servers (18.16 has
 * no `max_parser_depth`) crash with a stack overflow at around a thousand levels, so far below that the
 * gateway refuses the query itself. Real queries stay well under a few dozen levels.
 */
export const MAX_NESTING_DEPTH = 200;

/**
 * Rejects SQL nested deeper than `limit` levels (outside literals and comments, either lexer): brackets
 * ( [ {, CASE … END, and runs of prefix operators (NOT, INTERVAL, unary - + ~).
 */
export function checkNestingDepth(query: string, limit = MAX_NESTING_DEPTH): string | undefined {
  // Quick exit: every level takes at least one character.
  if (query.length <= limit) return undefined;
  const depth = Math.max(scanSql(query, 'classic').maxDepth, scanSql(query, 'modern').maxDepth);
  return depth > limit
    ? `query nesting too deep: ${depth} levels of nested brackets, CASE expressions or prefix operators (limit ${limit}); simplify the query`
    : undefined;
}

export interface SqlCheckOptions {
  /** Where the read-only statement guard runs, if at all. */
  readOnlyGuard: 'first' | 'after-length' | 'off';
  /** Effective `max_query_length`; undefined = no cap. */
  maxQueryLength?: number;
  /** Defaults to MAX_NESTING_DEPTH. */
  maxNestingDepth?: number;
  /** `server.blocked_query_clauses`; empty or undefined = not checked. */
  blockedClauses?: readonly string[];
  policy: SqlPolicy;
  /** Told the configured clause a refusal matched (metrics); not called for SQL that could not be parsed. */
  onBlockedClause?: (clause: string) => void;
}

export type SqlCheckStep = 'read-only' | 'length' | 'nesting' | 'policy' | 'blocked-clause';

export interface SqlCheckFailure {
  step: SqlCheckStep;
  /** The complete error text for the caller. */
  message: string;
}

/** Runs the steps above; undefined when the SQL may be sent. */
export async function checkSqlText(sql: string, opts: SqlCheckOptions): Promise<SqlCheckFailure | undefined> {
  if (opts.readOnlyGuard === 'first' && !isReadOnlyStatement(sql)) return { step: 'read-only', message: READ_ONLY_REJECTION };
  const tooLong = checkQueryLength(sql, opts.maxQueryLength);
  if (tooLong) return { step: 'length', message: tooLong };
  if (opts.readOnlyGuard === 'after-length' && !isReadOnlyStatement(sql)) return { step: 'read-only', message: READ_ONLY_REJECTION };
  const tooDeep = checkNestingDepth(sql, opts.maxNestingDepth);
  if (tooDeep) return { step: 'nesting', message: tooDeep };
  if (opts.blockedClauses && opts.blockedClauses.length > 0) {
    const blocked = await checkBlockedClauses(sql, opts.blockedClauses);
    if (!blocked.ok) {
      if (blocked.clause) opts.onBlockedClause?.(blocked.clause);
      return { step: 'blocked-clause', message: blocked.message };
    }
  }
  await loadSqlParser(); // once; the policy then also reads the real parse
  const violation = findPolicyViolationCached(sql, opts.policy);
  if (violation) return { step: 'policy', message: violation };
  return undefined;
}

/** The SQL policy a configuration asks for. */
export function sqlPolicyFromConfig(cfg: GatewayConfig): SqlPolicy {
  return sqlPolicyFor(cfg.server, cfg.clickhouse.protocol);
}

/** Check options from a configuration, for SQL a caller wrote (length cap, blocked clauses, policy). */
export function sqlCheckOptions(cfg: GatewayConfig, readOnlyGuard: SqlCheckOptions['readOnlyGuard']): SqlCheckOptions {
  return {
    readOnlyGuard,
    maxQueryLength: effectiveLimits(cfg.clickhouse).maxQueryLength,
    blockedClauses: cfg.server.blocked_query_clauses,
    policy: sqlPolicyFromConfig(cfg),
  };
}
