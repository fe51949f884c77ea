import { describe, expect, it } from 'vitest';
import {
  MAX_NESTING_DEPTH,
  checkNestingDepth,
  checkQueryLength,
  checkUnknownArguments,
  extractQuery,
  extractToolInputSettings,
  normalizeArguments,
  validateQueryToolCall,
} from './arguments.js';

const opts = { toolInputSettings: [] as string[], maxQueryLength: 10 * 1024 * 1024 };
const err = (message: string) => ({ ok: false, message });

describe('query argument (vector 18)', () => {
  it("uses altinity-mcp's texts", async () => {
    expect(await validateQueryToolCall('execute_query', {}, opts)).toEqual(err('query parameter is required'));
    expect(await validateQueryToolCall('execute_query', undefined, opts)).toEqual(err('query parameter is required'));
    expect(await validateQueryToolCall('execute_query', null, opts)).toEqual(err('query parameter is required'));
    expect(await validateQueryToolCall('execute_query', { query: '' }, opts)).toEqual(err('query parameter must be a non-empty string'));
    expect(await validateQueryToolCall('execute_query', { query: 5 }, opts)).toEqual(err('query parameter must be a non-empty string'));
    expect(await validateQueryToolCall('write_query', { query: null }, opts)).toEqual(err('query parameter must be a non-empty string'));
    expect(extractQuery({ query: 'SELECT 1' })).toEqual({ ok: true, value: 'SELECT 1' });
  });

  it('reports non-object arguments as Go does', async () => {
    expect(normalizeArguments([1])).toEqual(
      err('failed to parse tool arguments: json: cannot unmarshal array into Go value of type map[string]interface {}'),
    );
    expect(normalizeArguments('x')).toEqual(
      err('failed to parse tool arguments: json: cannot unmarshal string into Go value of type map[string]interface {}'),
    );
    expect(normalizeArguments(true)).toEqual(
      err('failed to parse tool arguments: json: cannot unmarshal bool into Go value of type map[string]interface {}'),
    );
  });
});

describe('read-only guard (vector 19)', () => {
  it('rejects writes in execute_query, accepts them in write_query', async () => {
    const text =
      'execute_query only accepts read-only statements (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN). Use write_query for write operations.';
    expect(await validateQueryToolCall('execute_query', { query: 'INSERT INTO t VALUES (1)' }, opts)).toEqual(err(text));
    expect(await validateQueryToolCall('execute_query', { query: 'SELECT 1; DROP TABLE t' }, opts)).toEqual(err(text));
    expect(await validateQueryToolCall('execute_query', { query: '-- c\nSELECT 1' }, opts)).toEqual({ ok: true, value: { query: '-- c\nSELECT 1' } });
    expect((await validateQueryToolCall('execute_query', { query: '/* c */ WITH 1 AS a SELECT a' }, opts)).ok).toBe(true);
    expect(await validateQueryToolCall('write_query', { query: 'INSERT INTO t VALUES (1)' }, opts)).toEqual({
      ok: true,
      value: { query: 'INSERT INTO t VALUES (1)' },
    });
  });
});

describe('unknown arguments (schema enforced)', () => {
  it('names the argument and the allowed ones', async () => {
    expect(await validateQueryToolCall('execute_query', { query: 'SELECT 1', limit: 5 }, opts)).toEqual(
      err('argument "limit" is not allowed; allowed arguments: query'),
    );
    expect(await validateQueryToolCall('execute_query', { sql: 'SELECT 1' }, opts)).toEqual(err('argument "sql" is not allowed; allowed arguments: query'));
    expect(await validateQueryToolCall('write_query', { querry: 'x' }, { ...opts, toolInputSettings: ['custom_a'] })).toEqual(
      err('argument "querry" is not allowed; allowed arguments: query, limit, settings (did you mean "query"?)'),
    );
    // settings is unknown when no tool_input_settings are configured
    expect(await validateQueryToolCall('execute_query', { query: 'SELECT 1', settings: {} }, opts)).toEqual(
      err('argument "settings" is not allowed; allowed arguments: query'),
    );
    expect(checkUnknownArguments({ a: 1 }, [])).toBe('argument "a" is not allowed; this tool takes no arguments');
    expect(checkUnknownArguments({ ['a"\n']: 1 }, ['b'])).toBe('argument "a\\"\\n" is not allowed; allowed arguments: b');
  });

  it('write_query accepts a numeric limit (ignored) and rejects other types', async () => {
    expect(await validateQueryToolCall('write_query', { query: 'SELECT 1', limit: 10 }, opts)).toEqual({ ok: true, value: { query: 'SELECT 1' } });
    expect(await validateQueryToolCall('write_query', { query: 'SELECT 1', limit: '10' }, opts)).toEqual(err('limit parameter must be a number'));
  });
});

describe('max_query_length (vector 25)', () => {
  it('counts UTF-8 bytes and uses the Go text', async () => {
    const q101 = `SELECT '${'x'.repeat(92)}'`;
    expect(Buffer.byteLength(q101)).toBe(101);
    expect(await validateQueryToolCall('execute_query', { query: q101 }, { ...opts, maxQueryLength: 100 })).toEqual(
      err('query exceeds max length (101 bytes, limit 100)'),
    );
    expect((await validateQueryToolCall('execute_query', { query: q101 }, { ...opts, maxQueryLength: undefined })).ok).toBe(true);
    expect(checkQueryLength('é'.repeat(50), 100)).toBeUndefined();
    expect(checkQueryLength('é'.repeat(51), 100)).toBe('query exceeds max length (102 bytes, limit 100)');
  });

  it('runs after the read-only guard, as in Go', async () => {
    expect((await validateQueryToolCall('execute_query', { query: `DROP TABLE ${'x'.repeat(200)}` }, { ...opts, maxQueryLength: 100 })).ok).toBe(false);
    expect(
      (await validateQueryToolCall('execute_query', { query: `DROP TABLE ${'x'.repeat(200)}` }, { ...opts, maxQueryLength: 100 }) as { message: string })
        .message,
    ).toMatch(/^execute_query only accepts/);
  });
});

describe('nesting guard', () => {
  it('refuses deeply nested SQL before ClickHouse parses it', async () => {
    const deep = `SELECT ${'('.repeat(1000)}1${')'.repeat(1000)}`;
    expect(await validateQueryToolCall('execute_query', { query: deep }, opts)).toEqual(
      err(`query nesting too deep: 1000 levels of nested brackets, CASE expressions or prefix operators (limit ${MAX_NESTING_DEPTH}); simplify the query`),
    );
    expect(checkNestingDepth(`SELECT ${'['.repeat(200)}1${']'.repeat(200)}`)).toBeUndefined();
    expect(checkNestingDepth(`SELECT ${'['.repeat(201)}1${']'.repeat(201)}`)).toMatch(/^query nesting too deep: 201 levels/);
    // brackets inside literals and comments do not count; many flat brackets are fine
    expect(checkNestingDepth(`SELECT '${'('.repeat(1000)}'`)).toBeUndefined();
    expect(checkNestingDepth(`SELECT ${'(1)+'.repeat(1000)}1`)).toBeUndefined();
  });

  it('counts nesting without brackets: CASE … END and runs of prefix operators', async () => {
    expect(checkNestingDepth(`SELECT ${'CASE WHEN 1 THEN '.repeat(300)}1${' END'.repeat(300)}`)).toMatch(/^query nesting too deep: 300 levels/);
    expect(checkNestingDepth(`SELECT ${'INTERVAL '.repeat(300)}1 DAY`)).toMatch(/^query nesting too deep: 301 levels|^query nesting too deep: 300 levels/);
    expect(checkNestingDepth(`SELECT ${'NOT '.repeat(300)}1`)).toMatch(/^query nesting too deep/);
    expect(checkNestingDepth(`SELECT ${'- '.repeat(300)}1`)).toMatch(/^query nesting too deep/);
    // Many sequential CASE expressions, NOTs and minus signs are flat, not deep.
    expect(checkNestingDepth(`SELECT ${'CASE WHEN x THEN 1 END + '.repeat(500)}1`)).toBeUndefined();
    expect(checkNestingDepth(`SELECT ${'NOT a AND '.repeat(500)}b, ${'x - '.repeat(500)}1`)).toBeUndefined();
  });
});

describe('settings argument (vector 29)', () => {
  const allow = ['custom_tenant_id', 'custom_b'];
  const withSettings = { ...opts, toolInputSettings: allow };

  it("validates with Go's texts", async () => {
    expect(await validateQueryToolCall('execute_query', { query: 'SELECT 1', settings: 'x' }, withSettings)).toEqual(
      err('Invalid settings: settings must be an object'),
    );
    expect(await validateQueryToolCall('execute_query', { query: 'SELECT 1', settings: null }, withSettings)).toEqual(
      err('Invalid settings: settings must be an object'),
    );
    expect(await validateQueryToolCall('execute_query', { query: 'SELECT 1', settings: ['a'] }, withSettings)).toEqual(
      err('Invalid settings: settings must be an object'),
    );
    expect(await validateQueryToolCall('execute_query', { query: 'SELECT 1', settings: { custom_unknown: '1' } }, withSettings)).toEqual(
      err('Invalid settings: setting "custom_unknown" is not allowed; allowed settings: custom_tenant_id, custom_b'),
    );
    expect(await validateQueryToolCall('execute_query', { query: 'SELECT 1', settings: { custom_tenant_id: 1 } }, withSettings)).toEqual(
      err('Invalid settings: setting "custom_tenant_id" value must be a string'),
    );
    // the allowlist is case-sensitive
    expect(extractToolInputSettings({ settings: { CUSTOM_B: 'x' } }, allow)).toEqual(
      err('Invalid settings: setting "CUSTOM_B" is not allowed; allowed settings: custom_tenant_id, custom_b'),
    );
    // blocked names are refused even if an allowlist (wrongly) lists them
    expect(extractToolInputSettings({ settings: { Readonly: '0' } }, ['Readonly'])).toEqual(err('Invalid settings: setting "Readonly" is blocked'));
  });

  it('returns accepted settings; {} and absent mean none', async () => {
    expect(await validateQueryToolCall('execute_query', { query: 'SELECT 1', settings: { custom_tenant_id: 'a' } }, withSettings)).toEqual({
      ok: true,
      value: { query: 'SELECT 1', settings: { custom_tenant_id: 'a' } },
    });
    expect(await validateQueryToolCall('execute_query', { query: 'SELECT 1', settings: {} }, withSettings)).toEqual({ ok: true, value: { query: 'SELECT 1' } });
    expect(extractToolInputSettings({}, allow)).toEqual({ ok: true, value: undefined });
  });

  it('runs the blocked clauses between the length check and the settings', async () => {
    expect(
      await validateQueryToolCall('execute_query', { query: 'SELECT a FROM t SETTINGS max_block_size = 1', settings: 'bad' }, { ...withSettings, blockedClauses: ['SETTINGS'] }),
    ).toEqual(err('Query rejected: SETTINGS clause is not allowed'));
  });

  it('runs the SQL policy after the blocked clauses, before the settings', async () => {
    expect(
      await validateQueryToolCall('execute_query', { query: "SELECT * FROM url('http://127.0.0.1:1/x', CSV)", settings: 'bad' }, { ...withSettings, blockedClauses: ['WHERE'] }),
    ).toEqual(err('Query rejected: table function url() is not allowed (it reaches the network or files); an operator can allow it with server.allowed_table_functions'));
    expect(
      await validateQueryToolCall('write_query', { query: "INSERT INTO t SELECT * FROM remote('127.0.0.1:1', system.one)" }, { ...opts, policy: { allowedTableFunctions: ['remote'], embedded: false } }),
    ).toEqual({ ok: true, value: { query: "INSERT INTO t SELECT * FROM remote('127.0.0.1:1', system.one)" } });
    expect((await validateQueryToolCall('execute_query', { query: 'SELECT 1 SETTINGS max_execution_time = 0' }, opts)) as { message: string }).toMatchObject({
      ok: false,
      message: expect.stringContaining('setting "max_execution_time" is blocked'),
    });
  });

  it('blocks protected settings in the settings argument too', () => {
    expect(extractToolInputSettings({ settings: { max_threads: '64' } }, ['max_threads'])).toEqual(err('Invalid settings: setting "max_threads" is blocked'));
    expect(extractToolInputSettings({ settings: { max_threads: '64' } }, ['max_threads'], [])).toEqual({ ok: true, value: { max_threads: '64' } });
  });
});
