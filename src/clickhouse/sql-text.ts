/**
 * Small helpers for SQL text the data layer sends: statement trimming and the inline `SETTINGS` clause used
 * by the embedded engine. The SELECT test and the string escaper live in `src/sql/` (one home each).
 */

import { sqlString } from '../sql/sql-literals.js';

const BLOCK_COMMENT = /\/\*[\s\S]*?\*\//g;
const LINE_COMMENT = /--.*$/gm;

/** SQL with `/* … *\/` and `-- …` comments removed (altinity-mcp strips exactly these two kinds). */
export function stripComments(sql: string): string {
  return sql.replace(BLOCK_COMMENT, '').replace(LINE_COMMENT, '');
}

/** True for statements that accept a trailing `SETTINGS` clause on the embedded engine (SELECT and WITH … SELECT). */
export function acceptsSettingsClause(sql: string): boolean {
  const head = stripComments(sql).trim().slice(0, 6).toUpperCase();
  return head.startsWith('SELECT') || head.startsWith('WITH');
}

/** Removes trailing whitespace and semicolons (`SELECT 1;  ` → `SELECT 1`). */
export function trimStatement(sql: string): string {
  return sql.replace(/[\s;]+$/, '');
}

const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Formats one setting value for a SETTINGS clause: numbers stay bare, everything else is a string literal. */
function settingLiteral(value: string): string {
  return /^-?\d+(\.\d+)?$/.test(value) ? value : sqlString(value);
}

/**
 * Appends `SETTINGS k=v, …` to a statement. A newline goes first so that a trailing `-- comment` cannot
 * swallow the clause. Setting names are validated (they are identifiers, never quoted).
 */
export function appendSettingsClause(sql: string, settings: Record<string, string>): string {
  const entries = Object.entries(settings);
  if (entries.length === 0) return sql;
  const parts = entries.map(([k, v]) => {
    if (!SETTING_NAME.test(k)) throw new Error(`invalid setting name ${JSON.stringify(k)}`);
    return `${k} = ${settingLiteral(v)}`;
  });
  return `${trimStatement(sql)}\nSETTINGS ${parts.join(', ')}`;
}

/**
 * True when the word OUTFILE occurs anywhere in the text (a string or comment included). Deliberately blunt:
 * `INTO OUTFILE` makes the embedded engine write a file, and a lexer that disagreed with ClickHouse's about a
 * quote or a nested comment would let it through; a false refusal of a column named `outfile` is the price.
 */
export function mentionsIntoOutfile(sql: string): boolean {
  return /(?<![A-Za-z0-9_])OUTFILE(?![A-Za-z0-9_])/i.test(sql);
}
