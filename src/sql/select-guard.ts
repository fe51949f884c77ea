/**
 * Which SQL counts as read-only.
 *
 * - `isSelectQuery` is altinity-mcp's `IsSelectQuery`, reproduced exactly: a comment-stripping prefix test.
 *   It decides things that must stay Go-compatible (for example whether result caps are pushed to
 *   ClickHouse) but it is weak as a guard: `SELECT 1; DROP TABLE t` passes, `SELECTX` passes,
 *   `(SELECT 1)` fails, and `/* /* *\/ SELECT 1 *\/ DROP TABLE t` passes although current ClickHouse (nested
 *   comments) reads it as a DROP.
 * - `isReadOnlyStatement` is the guard the `execute_query` tool uses. It tokenises the query under both the
 *   old and the current ClickHouse lexer rules and requires, under both, that the first word (after any
 *   opening parentheses) is exactly SELECT, WITH, SHOW, DESC, DESCRIBE, EXISTS or EXPLAIN, and that no
 *   second statement follows a `;`. It is not the only wall: read-only queries are also sent with
 *   ClickHouse's `readonly` setting, so the server itself refuses writes whatever this check concludes.
 */
import { goTrimLeftSpace, goUpperRune } from '../common/go-compat.js';
import { scanSql } from './sql-scan.js';

/** The error text execute_query returns for anything but a read-only statement. */
export const READ_ONLY_REJECTION =
  'execute_query only accepts read-only statements (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN). Use write_query for write operations.';

const MULTI_LINE_COMMENT = /\/\*[\s\S]*?\*\//g;
/** Go's `(?m)--.*$`: Go's `.` stops only at `\n` (JavaScript's also stops at \r, U+2028, U+2029). */
const SINGLE_LINE_COMMENT = /--[^\n]*/g;
const GO_PREFIXES = ['SELECT', 'WITH', 'SHOW', 'DESC', 'EXISTS', 'EXPLAIN'];

/**
 * altinity-mcp `IsSelectQuery` (pkg/clickhouse/client.go): remove `/* *\/` comments (non-greedy, across
 * lines), then `--` comments to the end of the line, trim Go whitespace, upper-case, and test for the
 * prefixes SELECT, WITH, SHOW, DESC, EXISTS, EXPLAIN. A pure prefix test.
 */
export function isSelectQuery(sql: string): boolean {
  const stripped = goTrimLeftSpace(sql.replace(MULTI_LINE_COMMENT, '').replace(SINGLE_LINE_COMMENT, ''));
  // Upper-case only the first few code points, one at a time as Go's simple case mapping does
  // (JavaScript's full mapping turns e.g. U+FB06 "ﬆ" into "ST"; Go leaves it).
  let head = '';
  let count = 0;
  for (const ch of stripped) {
    head += goUpperRune(ch);
    if (++count === 7) break;
  }
  return GO_PREFIXES.some((p) => head.startsWith(p));
}

const READ_ONLY_WORDS: ReadonlySet<string> = new Set(['SELECT', 'WITH', 'SHOW', 'DESC', 'DESCRIBE', 'EXISTS', 'EXPLAIN']);

/**
 * The strict guard used by execute_query: one statement, starting (after optional opening parentheses and
 * comments) with the whole word SELECT, WITH, SHOW, DESC, DESCRIBE, EXISTS or EXPLAIN — under both the old
 * and the current ClickHouse lexer, so no comment or quoting trick can make the two disagree in the
 * attacker's favour. A trailing `;` followed only by whitespace or comments is allowed.
 */
export function isReadOnlyStatement(sql: string): boolean {
  for (const rules of ['classic', 'modern'] as const) {
    const scan = scanSql(sql, rules);
    if (scan.hasSecondStatement || scan.firstWord === undefined || !READ_ONLY_WORDS.has(scan.firstWord)) return false;
  }
  return true;
}
