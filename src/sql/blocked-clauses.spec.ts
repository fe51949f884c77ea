import { describe, expect, it } from 'vitest';
import { checkBlockedClauses } from './blocked-clauses.js';

const BLOCKED = ['SETTINGS', 'FORMAT', 'SET', 'INTO OUTFILE', 'EXPLAIN'];

describe('blocked_query_clauses (core.md vector 28)', () => {
  it.each([
    'SELECT * FROM events',
    'SELECT * FROM events LIMIT 10',
    "SELECT * FROM events WHERE tenant_id = 'a'",
    'SHOW TABLES',
    'DESCRIBE events',
    'SELECT * FROM settings_table',
    'SELECT format FROM t',
    "SELECT format('hello {0}', name) FROM t",
    'SELECT settings FROM t',
    'SELECT * FROM t LIMIT 10 OFFSET 5',
  ])('passes %s', async (sql) => {
    expect(await checkBlockedClauses(sql, BLOCKED)).toEqual({ ok: true });
  });

  it.each([
    ["SELECT * FROM events SETTINGS custom_tenant_id='evil'", 'Query rejected: SETTINGS clause is not allowed'],
    ['SELECT * FROM events FORMAT JSON', 'Query rejected: FORMAT clause is not allowed'],
    ['SET max_threads = 1', 'Query rejected: SET clause is not allowed'],
    ['SELECT 1; SET max_threads=1', 'Query rejected: SET clause is not allowed'],
    ['EXPLAIN SELECT * FROM events', 'Query rejected: EXPLAIN clause is not allowed'],
  ])('rejects %s', async (sql, message) => {
    expect(await checkBlockedClauses(sql, BLOCKED)).toEqual({ ok: false, message, clause: /^Query rejected: (.*) clause is not allowed$/.exec(message)![1] });
  });

  it.each([
    'EXPLAIN AST SELECT * FROM events',
    'EXPLAIN SYNTAX SELECT 1',
    "SHOW DATABASES INTO OUTFILE '/tmp/databases.txt'",
    "SELECT * FROM events INTO OUTFILE '/tmp/data.csv'",
    'SELECT 1 Settings max_threads=2',
  ])('fails closed on SQL the parser cannot read: %s', async (sql) => {
    const result = await checkBlockedClauses(sql, BLOCKED);
    expect(result.ok).toBe(false);
    expect((result as { message: string }).message).toMatch(/^Query rejected: SQL could not be parsed for blocked-clause validation: /);
  });

  it('matches WHERE, WHERECLAUSE and PREWHERE entries, reporting the configured name', async () => {
    expect(await checkBlockedClauses('SELECT a FROM t WHERE b = 1', ['WHERE'])).toEqual({ ok: false, message: 'Query rejected: WHERE clause is not allowed', clause: 'WHERE' });
    expect(await checkBlockedClauses('SELECT a FROM t WHERE b = 1', ['whereclause'])).toEqual({ ok: false, message: 'Query rejected: WHERECLAUSE clause is not allowed', clause: 'WHERECLAUSE' });
    expect(await checkBlockedClauses('SELECT a FROM t PREWHERE b = 1', ['PREWHERE'])).toEqual({ ok: false, message: 'Query rejected: PREWHERE clause is not allowed', clause: 'PREWHERE' });
    expect(await checkBlockedClauses('SELECT a FROM t', ['WHERE', 'PREWHERE'])).toEqual({ ok: true });
  });

  it('checks nothing (and parses nothing) when no clause is blocked', async () => {
    expect(await checkBlockedClauses('this is not SQL', [])).toEqual({ ok: true });
  });

  it('finds clauses inside subqueries and joins', async () => {
    expect(await checkBlockedClauses('SELECT * FROM (SELECT * FROM t FORMAT JSON)', ['FORMAT']).then((r) => r.ok)).toBe(false);
    expect(await checkBlockedClauses('SELECT * FROM a JOIN b ON a.id = b.id', ['JOIN'])).toEqual({ ok: false, message: 'Query rejected: JOIN clause is not allowed', clause: 'JOIN' });
    expect(await checkBlockedClauses('SELECT x FROM (SELECT x FROM t WHERE y > 1)', ['WHERE'])).toEqual({ ok: false, message: 'Query rejected: WHERE clause is not allowed', clause: 'WHERE' });
  });
});
