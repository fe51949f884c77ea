/**
 * The one SQL string-literal escaper and the one identifier quoter of the gateway's MCP side. Every piece of
 * SQL the gateway builds around a value it did not write (catalog names, tool arguments, search text) goes
 * through these two.
 */

const STRING_SPECIALS = /[\\'\u0000]/g;
const IDENT_SPECIALS = /[\\`\u0000]/g;
const escapeSpecial = (m: string): string => (m === '\u0000' ? '\\0' : `\\${m}`);

/**
 * A ClickHouse string literal: `\` → `\\`, `'` → `\'` (as altinity-mcp), and NUL → `\0`. Inside single
 * quotes ClickHouse's lexer (old and new) only reacts to `'` and `\`, so nothing else (U+2019, `"`,
 * backquotes, newlines) can end the literal.
 */
export function sqlString(s: string): string {
  return `'${s.replace(STRING_SPECIALS, escapeSpecial)}'`;
}

/** A backquoted ClickHouse identifier, with `` ` `` and `\` escaped (altinity-mcp does not quote at all). */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(IDENT_SPECIALS, escapeSpecial)}\``;
}
