import { describe, expect, it } from 'vitest';
import { READ_ONLY_REJECTION, isReadOnlyStatement, isSelectQuery } from './select-guard.js';
import { scanSql } from './sql-scan.js';

describe('isSelectQuery (altinity-mcp IsSelectQuery, exact)', () => {
  it('accepts the six prefixes, any case, after comments and whitespace (vector 19)', () => {
    for (const sql of [
      'SELECT 1',
      'select 1',
      'WITH 1 AS a SELECT a',
      'SHOW TABLES',
      'DESC t',
      'DESCRIBE t',
      'EXISTS TABLE t',
      'EXPLAIN SELECT 1',
      '-- c\nSELECT 1',
      '/* c */ WITH 1 AS a SELECT a',
      '/* multi\nline */\n  -- x\n\tselect 1',
      '\u00a0SELECT 1', // Go's TrimSpace trims NBSP
      '\u0085SELECT 1',
    ]) {
      expect(isSelectQuery(sql), sql).toBe(true);
    }
  });

  it("keeps Go's weaknesses: a pure prefix test", () => {
    expect(isSelectQuery('SELECTX')).toBe(true);
    expect(isSelectQuery('SELECT 1; DROP TABLE t')).toBe(true);
    expect(isSelectQuery('(SELECT 1)')).toBe(false);
    expect(isSelectQuery('# c\nSELECT 1')).toBe(false); // # comments are not stripped
    expect(isSelectQuery('/* /* */ SELECT 1 */ DROP TABLE t')).toBe(true);
  });

  it('rejects writes and comment tricks the Go regexps see through', () => {
    for (const sql of ['INSERT INTO t VALUES (1)', 'DROP TABLE t', '', '   ', '-- SELECT\nDROP TABLE t', '/* SELECT */ DROP TABLE t', '\ufeffSELECT 1']) {
      expect(isSelectQuery(sql), sql).toBe(false);
    }
    // Go strips /* */ first: the -- inside the block comment does not hide the newline.
    expect(isSelectQuery('/* -- */SELECT 1')).toBe(true);
    expect(isSelectQuery('-- /* \n SELECT */ DROP')).toBe(false);
  });

  it("upper-cases like Go's simple case mapping", () => {
    expect(isSelectQuery('ſelect 1')).toBe(true); // U+017F upper-cases to S in Go too
    expect(isSelectQuery('EXIﬆS t')).toBe(false); // JavaScript's full mapping would give "EXISTS"
  });
});

describe('isReadOnlyStatement (the strict guard execute_query uses)', () => {
  it('accepts single read-only statements', () => {
    for (const sql of [
      'SELECT 1',
      'select 1;',
      'SELECT 1;  -- done\n',
      'SELECT 1; /* trailing */ ',
      '(SELECT 1)',
      '( ( select 1 ) ) UNION ALL (SELECT 2)',
      '-- c\nSELECT 1',
      '/* c */ WITH 1 AS a SELECT a',
      'DESCRIBE default.test',
      'DESC default.test',
      'SHOW CREATE TABLE default.test',
      'EXISTS TABLE default.test',
      'EXPLAIN SELECT * FROM default.test',
      "SELECT 'a;b', \"c;d\", `e;f` FROM t",
      "SELECT 'it''s; DROP' FROM t",
      "SELECT 'x\\'; DROP TABLE t; --' FROM t",
      'SELECT 1 -- ; DROP TABLE t',
      'SELECT 1 /* ; DROP TABLE t */',
    ]) {
      expect(isReadOnlyStatement(sql), sql).toBe(true);
    }
  });

  it('rejects writes, multiple statements and prefix tricks', () => {
    for (const sql of [
      'INSERT INTO t VALUES (1)',
      'SELECT 1; DROP TABLE t',
      'SELECT 1;DROP TABLE t',
      'SELECT 1; SELECT 2',
      'SELECT 1 ;\n-- c\nDROP TABLE t',
      'SELECTX',
      'SELECT1',
      '',
      '  ',
      '-- only a comment',
      '# c\nSELECT 1',
      '(DROP TABLE t)',
      "SELECT 'unterminated; DROP TABLE t",
    ]) {
      expect(isReadOnlyStatement(sql), sql).toBe(sql === "SELECT 'unterminated; DROP TABLE t");
    }
  });

  it('refuses queries that old and new ClickHouse lexers read differently', () => {
    // Nested comments (current ClickHouse): the comment runs to the second */ and the statement is a DROP.
    expect(isReadOnlyStatement('/* /* */ SELECT 1 */ DROP TABLE t')).toBe(false);
    // Unicode quotes: ‘it's’ is one string for current ClickHouse, so the ; after it separates statements.
    expect(isReadOnlyStatement("SELECT ‘it's’; DROP TABLE t; '")).toBe(false);
    // Heredoc: $$'$$ is a string for current ClickHouse.
    expect(isReadOnlyStatement("SELECT $$'$$; DROP TABLE t; '")).toBe(false);
    // "# " and "//" start comments for current ClickHouse.
    expect(isReadOnlyStatement("SELECT 1 # '\n; DROP TABLE t; '")).toBe(false);
    expect(isReadOnlyStatement("SELECT 1 // '\n; DROP TABLE t; '")).toBe(false);
  });

  it('exports the exact rejection text', () => {
    expect(READ_ONLY_REJECTION).toBe(
      'execute_query only accepts read-only statements (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN). Use write_query for write operations.',
    );
  });
});

describe('scanSql', () => {
  it('measures bracket nesting outside literals and comments', () => {
    expect(scanSql('SELECT ((1)), [[2]]', 'classic').maxDepth).toBe(2);
    expect(scanSql("SELECT '((((' , `[[[` -- ((((\n", 'classic').maxDepth).toBe(0);
    expect(scanSql('SELECT ' + '('.repeat(300) + '1' + ')'.repeat(300), 'modern').maxDepth).toBe(300);
    expect(scanSql('SELECT )))(', 'modern').maxDepth).toBe(1);
  });
});
