import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chQuery } from '../setup/clickhouse-server.js';
import { connectClient, startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';
import { errorText, okJson, rawToolCall, rpc, texts } from './mcp-e2e-helpers.js';

/**
 * The MCP surface over stateless streamable HTTP with the SDK client, against the real ClickHouse 18.16:
 * handshake, tool list and schemas, every static tool with good and bad input (altinity-mcp's exact texts,
 * core.md §8.2 vectors 14–29), result caps, read-only refusals, resources (38–39) and prompts.
 */

const T = 'mcpe2e_http_rows'; // ≥ 2 rows, created in beforeAll
const READ_ONLY_REJECTION =
  'execute_query only accepts read-only statements (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN). Use write_query for write operations.';
const ROWS_NOTICE = (l: number) =>
  `⚠️ Result truncated at the server-configured cap of ${l} rows (the underlying query returns more). This is a hard cap set by the operator, not a SQL LIMIT. To get a complete answer: narrow your WHERE clause, aggregate server-side, or paginate by a key range. Adding LIMIT N (N ≤ ${l}) to your SQL acknowledges the truncation but does not raise the cap.`;

let gw: TestGateway; // defaults
let client: Client;
const extra: TestGateway[] = [];
const clients: Client[] = [];

async function gateway(flags: string[]): Promise<{ gw: TestGateway; client: Client }> {
  const g = await startGateway([...TEST_CLICKHOUSE_FLAGS, ...flags]);
  extra.push(g);
  const c = await connectClient(g.url);
  clients.push(c);
  return { gw: g, client: c };
}

const call = (c: Client, name: string, args?: Record<string, unknown>) => c.callTool({ name, arguments: args });

beforeAll(async () => {
  await chQuery(`DROP TABLE IF EXISTS default.${T}`);
  await chQuery(`CREATE TABLE default.${T} (id UInt32, name String, note Nullable(String)) ENGINE = MergeTree ORDER BY id`);
  await chQuery(`INSERT INTO default.${T} VALUES (1, 'alpha', NULL), (2, 'beta', 'b'), (3, 'gamma', 'c')`);
  gw = await startGateway(TEST_CLICKHOUSE_FLAGS);
  client = await connectClient(gw.url);
});

afterAll(async () => {
  for (const c of [client, ...clients]) await c?.close().catch(() => undefined);
  for (const g of [gw, ...extra]) await g?.close();
  await chQuery(`DROP TABLE IF EXISTS default.${T}`);
});

describe('initialize', () => {
  it('answers with the server identity, the capabilities and the client protocol version, without a session', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(gw.url));
    const c = new Client({ name: 'handshake', version: '1.0.0' });
    await c.connect(transport);
    expect(c.getServerVersion()).toMatchObject({ name: 'Altinity ClickHouse MCP Server' });
    expect(c.getServerCapabilities()).toEqual({
      logging: {},
      tools: { listChanged: true },
      resources: { listChanged: true },
      prompts: { listChanged: true },
    });
    expect(c.getInstructions()).toBe(
      'Altinity ClickHouse MCP Server - A Model Context Protocol server for interacting with ClickHouse databases',
    );
    expect(transport.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
    expect(transport.sessionId).toBeUndefined();
    await c.close();
  });

  it.each(['2025-06-18', '2025-03-26', '2024-11-05'])('negotiates %s to the same version (vector 14)', async (version) => {
    const res = await rpc(gw.url, 'initialize', {
      protocolVersion: version,
      capabilities: {},
      clientInfo: { name: 'raw', version: '1' },
    });
    expect(res.status).toBe(200);
    expect(res.headers['mcp-session-id']).toBeUndefined();
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.message.result.protocolVersion).toBe(version);
    expect(res.message.result.serverInfo.name).toBe('Altinity ClickHouse MCP Server');
  });

  it('answers an unknown future version with its latest one', async () => {
    const res = await rpc(gw.url, 'initialize', { protocolVersion: '2099-01-01', capabilities: {}, clientInfo: { name: 'raw', version: '1' } });
    expect(res.message.result.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
  });

  it('serves requests without a prior initialize (stateless)', async () => {
    const res = await rpc(gw.url, 'tools/list', {});
    expect(res.message.result.tools.map((t: { name: string }) => t.name)).toEqual(['execute_query', 'write_query']);
    const ping = await rpc(gw.url, 'ping');
    expect(ping.message.result).toEqual({});
  });
});

describe('tools/list (vectors 15, 16)', () => {
  it('lists exactly execute_query and write_query with altinity-mcp schemas and annotations', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['execute_query', 'write_query']);
    const [exec, write] = tools;
    expect(exec!.title).toBe('Execute SQL Query');
    expect(exec!.annotations).toEqual({ readOnlyHint: true, destructiveHint: false, openWorldHint: false });
    expect(exec!.inputSchema).toMatchObject({ type: 'object', required: ['query'], additionalProperties: false });
    expect(Object.keys(exec!.inputSchema.properties!)).toEqual(['query']);
    expect(exec!.inputSchema.properties!.query).toMatchObject({ type: 'string' });
    expect(write!.title).toBe('Execute Write Query');
    expect(write!.annotations).toEqual({ readOnlyHint: false, destructiveHint: true, openWorldHint: false });
    expect(write!.inputSchema).toMatchObject({ type: 'object', required: ['query'], additionalProperties: false });
    expect(Object.keys(write!.inputSchema.properties!).sort()).toEqual(['limit', 'query']);
    expect(write!.inputSchema.properties!.limit).toMatchObject({ type: 'number' });
  });

  it('with --read-only lists only execute_query', async () => {
    const ro = await gateway(['--read-only']);
    const { tools } = await ro.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['execute_query']);
  });
});

describe('execute_query and write_query', () => {
  it('returns the pretty-printed result JSON (vector 17)', async () => {
    const result = await call(client, 'execute_query', { query: 'SELECT 1 AS x' });
    expect(result.isError).toBeFalsy();
    const [text] = texts(result);
    const expected = { columns: ['x'], types: ['UInt8'], rows: [[1]], count: 1 };
    expect(JSON.parse(text!)).toEqual(expected);
    expect(text).toBe(JSON.stringify(expected, null, 2));
    expect(result.structuredContent).toBeUndefined();
  });

  it('reads a table with nulls, and an empty result has rows: null', async () => {
    const all = okJson(await call(client, 'execute_query', { query: `SELECT id, name, note FROM default.${T} ORDER BY id` }));
    expect(all).toEqual({
      columns: ['id', 'name', 'note'],
      types: ['UInt32', 'String', 'Nullable(String)'],
      rows: [
        [1, 'alpha', null],
        [2, 'beta', 'b'],
        [3, 'gamma', 'c'],
      ],
      count: 3,
    });
    const none = okJson(await call(client, 'execute_query', { query: `SELECT id FROM default.${T} WHERE id > 100` }));
    expect(none).toEqual({ columns: ['id'], types: ['UInt32'], rows: null, count: 0 });
  });

  it('keeps 64-bit integers exact in the text', async () => {
    const result = await call(client, 'execute_query', { query: 'SELECT toUInt64(18446744073709551615) AS big, toInt64(-9223372036854775808) AS small' });
    const [text] = texts(result);
    expect(text).toContain('18446744073709551615');
    expect(text).toContain('-9223372036854775808');
    expect(text).not.toContain('18446744073709552000');
  });

  it('refuses a missing or empty query (vector 18)', async () => {
    expect(errorText(await call(client, 'execute_query', {}))).toBe('query parameter is required');
    expect(errorText(await call(client, 'execute_query', { query: '' }))).toBe('query parameter must be a non-empty string');
    expect(errorText(await call(client, 'execute_query', { query: 5 }))).toBe('query parameter must be a non-empty string');
    expect(errorText(await call(client, 'write_query', {}))).toBe('query parameter is required');
    expect(errorText(await call(client, 'write_query', { query: ['SELECT 1'] }))).toBe('query parameter must be a non-empty string');
  });

  it('refuses arguments the schema does not declare, and a non-number limit', async () => {
    expect(errorText(await call(client, 'execute_query', { query: 'SELECT 1', limit: 5 }))).toMatch(/^argument "limit" is not allowed/);
    expect(errorText(await call(client, 'write_query', { query: 'SELECT 1', limit: 'ten' }))).toBe('limit parameter must be a number');
    // write_query's limit is accepted and ignored, as in altinity-mcp.
    expect(okJson(await call(client, 'write_query', { query: 'SELECT 7 AS x', limit: 1 })).rows).toEqual([[7]]);
  });

  it('answers arguments that are not an object with altinity-mcp\'s tool error', async () => {
    const res = await rawToolCall(gw.url, 'execute_query', 'SELECT 1');
    expect(res.status).toBe(200);
    expect(res.message.error).toBeUndefined();
    expect(errorText(res.message.result)).toBe(
      'failed to parse tool arguments: json: cannot unmarshal string into Go value of type map[string]interface {}',
    );
    const arr = await rawToolCall(gw.url, 'execute_query', ['SELECT 1']);
    expect(errorText(arr.message.result)).toMatch(/cannot unmarshal array/);
  });

  it('guards execute_query to read-only statements (vector 19)', async () => {
    expect(errorText(await call(client, 'execute_query', { query: 'INSERT INTO t VALUES (1)' }))).toBe(READ_ONLY_REJECTION);
    expect(errorText(await call(client, 'execute_query', { query: `DROP TABLE default.${T}` }))).toBe(READ_ONLY_REJECTION);
    expect(errorText(await call(client, 'execute_query', { query: `SELECT 1; DROP TABLE default.${T}` }))).toBe(READ_ONLY_REJECTION);
    expect(okJson(await call(client, 'execute_query', { query: '-- c\nSELECT 1' })).rows).toEqual([[1]]);
    expect(okJson(await call(client, 'execute_query', { query: '/* c */ WITH 1 AS a SELECT a' })).rows).toEqual([[1]]);
    expect(Number((await chQuery(`SELECT count() FROM default.${T}`)).trim())).toBe(3);
  });

  it('runs DESCRIBE, DESC, SHOW CREATE TABLE, EXISTS under tight caps (vector 20; EXPLAIN needs a newer server, see the chDB spec)', async () => {
    const tight = await gateway(['--clickhouse-max-result-rows', '5', '--clickhouse-max-result-bytes', '1000']);
    for (const query of [`DESCRIBE default.${T}`, `DESC default.${T}`, `SHOW CREATE TABLE default.${T}`, `EXISTS TABLE default.${T}`]) {
      const result = await call(tight.client, 'execute_query', { query });
      expect(result.isError, `${query}: ${texts(result).join()}`).toBeFalsy();
      expect(okJson(result).count).toBeGreaterThan(0);
    }
    const described = okJson(await call(tight.client, 'execute_query', { query: `DESCRIBE default.${T}` }));
    expect(described.rows.map((r: unknown[]) => r[0])).toEqual(['id', 'name', 'note']);
  });

  it('reports ClickHouse failures as tool errors (vector 21)', async () => {
    const invalid = errorText(await call(client, 'write_query', { query: 'INVALID SQL' }));
    expect(invalid.startsWith('Query execution failed: failed to execute query: ')).toBe(true);
    expect(invalid).toContain('62');
    const unknown = errorText(await call(client, 'execute_query', { query: 'SELECT * FROM mcpe2e_no_such_table' }));
    expect(unknown.startsWith('Query execution failed: failed to execute query: ')).toBe(true);
    expect(unknown).toContain('UNKNOWN_TABLE');
    expect(unknown).toContain('mcpe2e_no_such_table');
  });

  it('creates a table through write_query with the status row (vector 27), and the write lands', async () => {
    const name = `mcpe2e_created_${process.pid}`;
    try {
      const result = await call(client, 'write_query', { query: `CREATE TABLE default.${name} (x UInt8) ENGINE = Memory` });
      expect(result.isError).toBeFalsy();
      expect(texts(result)).toEqual([JSON.stringify({ columns: ['status'], types: ['String'], rows: [['OK']], count: 1 }, null, 2)]);
      okJson(await call(client, 'write_query', { query: `INSERT INTO default.${name} VALUES (1), (2)` }));
      expect((await chQuery(`SELECT sum(x) FROM default.${name}`)).trim()).toBe('3');
    } finally {
      await chQuery(`DROP TABLE IF EXISTS default.${name}`);
    }
  });

  it('lets a read query carry its own SETTINGS clause while ClickHouse still refuses writes', async () => {
    const result = okJson(
      await call(client, 'execute_query', {
        query: "SELECT name, value FROM system.settings WHERE name IN ('max_block_size', 'readonly') ORDER BY name SETTINGS max_block_size = 3",
      }),
    );
    expect(result.rows[0]).toEqual(['max_block_size', '3']);
    expect(result.rows[1][0]).toBe('readonly');
    expect(result.rows[1][1]).not.toBe('0');
  });

  it('pushes the default caps to ClickHouse and cuts a million rows at 500, quickly', async () => {
    const settings = okJson(
      await call(client, 'execute_query', {
        query: "SELECT name, value FROM system.settings WHERE name IN ('max_result_rows', 'result_overflow_mode') ORDER BY name",
      }),
    );
    expect(settings.rows).toEqual([
      ['max_result_rows', '500'],
      ['result_overflow_mode', 'break'],
    ]);
    const started = performance.now();
    const result = await call(client, 'execute_query', { query: 'SELECT number, toString(number) FROM system.numbers LIMIT 1000000' });
    const elapsed = performance.now() - started;
    const blocks = texts(result);
    expect(blocks).toHaveLength(2);
    const body = JSON.parse(blocks[0]!);
    expect(body.count).toBe(500);
    expect(body.rows).toHaveLength(500);
    expect(body.rows[499]).toEqual([499, '499']);
    expect(body.truncated).toMatchObject({ reason: 'max_result_rows', limit: 500, returned_rows: 500 });
    expect(blocks[1]).toBe(ROWS_NOTICE(500));
    expect(elapsed).toBeLessThan(5_000);
  });
});

describe('caps and limits', () => {
  let limited: { gw: TestGateway; client: Client };
  beforeAll(async () => {
    limited = await gateway([
      '--clickhouse-max-result-rows',
      '1',
      '--clickhouse-max-query-length',
      '100',
      '--tool-input-settings',
      'custom_tenant_id',
    ]);
  });

  it('truncates at max_result_rows with the marker and the notice (vector 22)', async () => {
    const result = await call(limited.client, 'execute_query', { query: `SELECT * FROM default.${T} ORDER BY id` });
    expect(result.isError).toBeFalsy();
    const blocks = texts(result);
    expect(blocks).toHaveLength(2);
    const body = JSON.parse(blocks[0]!);
    expect(body.count).toBe(1);
    expect(body.rows).toEqual([[1, 'alpha', null]]);
    expect(body.truncated).toEqual({ reason: 'max_result_rows', limit: 1, returned_rows: 1, returned_bytes_approx: expect.any(Number) });
    expect(Object.keys(body)).toEqual(['columns', 'types', 'rows', 'count', 'truncated']);
    expect(blocks[1]).toContain('truncated');
    expect(blocks[1]).toContain('1 rows');
    expect(blocks[1]).toBe(ROWS_NOTICE(1));
  });

  it('does not mark a result that fits (exactly one row)', async () => {
    const result = await call(limited.client, 'execute_query', { query: 'SELECT 1 AS x' });
    expect(texts(result)).toHaveLength(1);
    expect(okJson(result).truncated).toBeUndefined();
  });

  it('refuses a query over max_query_length (vector 25)', async () => {
    const query = `SELECT 1 AS x ${'-'.repeat(100 - 'SELECT 1 AS x '.length)}`;
    expect(Buffer.byteLength(query)).toBe(100);
    expect(okJson(await call(limited.client, 'execute_query', { query })).rows).toEqual([[1]]);
    const tooLong = `${query}-`;
    const text = errorText(await call(limited.client, 'execute_query', { query: tooLong }));
    expect(text).toBe('query exceeds max length (101 bytes, limit 100)');
    expect(errorText(await call(limited.client, 'write_query', { query: tooLong }))).toContain('exceeds max length');
    // Bytes, not characters: 56 characters, 103 bytes.
    const wide = `SELECT '${'é'.repeat(47)}'`;
    expect(wide.length).toBeLessThanOrEqual(100);
    expect(errorText(await call(limited.client, 'execute_query', { query: wide }))).toContain('limit 100');
  });

  it('advertises and checks the settings argument (vector 29)', async () => {
    const { tools } = await limited.client.listTools();
    for (const tool of tools) {
      const settings = tool.inputSchema.properties!.settings as Record<string, any>;
      expect(settings).toMatchObject({ type: 'object', additionalProperties: false });
      expect(settings.properties.custom_tenant_id).toEqual({ type: 'string' });
      expect(settings.description).toContain('custom_tenant_id');
    }
    expect(errorText(await call(limited.client, 'execute_query', { query: 'SELECT 1', settings: 'x' }))).toBe(
      'Invalid settings: settings must be an object',
    );
    const unknown = errorText(await call(limited.client, 'execute_query', { query: 'SELECT 1', settings: { custom_unknown: '1' } }));
    expect(unknown).toContain('not allowed');
    expect(unknown).toContain('custom_unknown');
    expect(errorText(await call(limited.client, 'execute_query', { query: 'SELECT 1', settings: { custom_tenant_id: 1 } }))).toContain(
      'value must be a string',
    );
    // Without the allowlist the argument itself is unknown.
    expect(errorText(await call(client, 'execute_query', { query: 'SELECT 1', settings: {} }))).toMatch(/^argument "settings" is not allowed/);
    // An allowed setting reaches ClickHouse; 18.16 has no custom_ settings, so it answers with a clean error.
    const sent = await call(limited.client, 'execute_query', { query: 'SELECT 1', settings: { custom_tenant_id: 'acme' } });
    expect(errorText(sent)).toMatch(/^Query execution failed: .*custom_tenant_id/);
  });

  it('truncates at max_result_bytes (vector 23)', async () => {
    const bytes = await gateway(['--clickhouse-max-result-bytes', '300']);
    const pad = 'x'.repeat(60);
    const result = await call(bytes.client, 'execute_query', { query: `SELECT number, '${pad}' AS pad FROM system.numbers LIMIT 50` });
    const blocks = texts(result);
    expect(blocks).toHaveLength(2);
    const body = JSON.parse(blocks[0]!);
    expect(body.truncated.reason).toBe('max_result_bytes');
    expect(body.truncated.limit).toBe(300);
    expect(body.count).toBeGreaterThan(0);
    expect(body.count).toBeLessThan(50);
    expect(body.truncated.returned_rows).toBe(body.count);
    expect(body.truncated.returned_bytes_approx).toBeGreaterThan(300); // the crossing row is kept
    expect(blocks[1]).toContain('bytes');
    expect(blocks[1]).toContain('SELECT *');
    expect(blocks[1]).toContain(`~300 bytes (returned ~${body.truncated.returned_bytes_approx} bytes in ${body.count} rows)`);
  });

  it('disables the caps with -1 and pushes no cap settings (vector 24); -1 query length means no check', async () => {
    const open = await gateway(['--clickhouse-max-result-rows', '-1', '--clickhouse-max-result-bytes', '-1', '--clickhouse-max-query-length', '-1']);
    const result = await call(open.client, 'execute_query', { query: 'SELECT number FROM system.numbers LIMIT 1200' });
    const blocks = texts(result);
    expect(blocks).toHaveLength(1);
    const body = JSON.parse(blocks[0]!);
    expect(body.count).toBe(1200);
    expect(body.truncated).toBeUndefined();
    const settings = okJson(
      await call(open.client, 'execute_query', {
        query: "SELECT name, changed FROM system.settings WHERE name IN ('max_result_rows', 'max_result_bytes', 'result_overflow_mode') ORDER BY name",
      }),
    );
    expect(settings.rows).toEqual([
      ['max_result_bytes', 0],
      ['max_result_rows', 0],
      ['result_overflow_mode', 0],
    ]);
    const long = `SELECT 1 AS x /* ${'y'.repeat(20_000)} */`;
    expect(okJson(await call(open.client, 'execute_query', { query: long })).rows).toEqual([[1]]);
  });
});

describe('blocked query clauses (vector 28)', () => {
  const E = 'mcpe2e_http_events';
  const S = 'mcpe2e_http_t';
  beforeAll(async () => {
    await chQuery(`CREATE TABLE IF NOT EXISTS default.${E} (tenant_id String, v UInt8) ENGINE = Memory`);
    await chQuery(`CREATE TABLE IF NOT EXISTS default.${S} (name String, format String, settings String) ENGINE = Memory`);
    await chQuery(`INSERT INTO default.${E} VALUES ('a', 1), ('b', 2)`);
    await chQuery(`INSERT INTO default.${S} VALUES ('n', 'f', 's')`);
  });
  afterAll(async () => {
    await chQuery(`DROP TABLE IF EXISTS default.${E}`);
    await chQuery(`DROP TABLE IF EXISTS default.${S}`);
  });

  it('passes plain queries and rejects the blocked clauses with altinity-mcp\'s text', async () => {
    const b = await gateway(['--blocked-query-clauses', 'SETTINGS,FORMAT,SET,INTO OUTFILE,EXPLAIN']);
    for (const query of [
      `SELECT * FROM ${E}`,
      `SELECT * FROM ${E} LIMIT 10`,
      `SELECT * FROM ${E} WHERE tenant_id = 'a'`,
      'SHOW TABLES',
      `DESCRIBE ${E}`,
      `SELECT format FROM ${S}`,
      `SELECT settings FROM ${S}`,
      `SELECT * FROM ${E} LIMIT 1 OFFSET 1`,
    ]) {
      const result = await call(b.client, 'execute_query', { query });
      expect(result.isError, `${query}: ${texts(result).join()}`).toBeFalsy();
    }
    const rejected: Array<[string, string, string]> = [
      ['execute_query', `SELECT * FROM ${E} SETTINGS custom_tenant_id='evil'`, 'Query rejected: SETTINGS clause is not allowed'],
      ['execute_query', `SELECT * FROM ${E} FORMAT JSON`, 'Query rejected: FORMAT clause is not allowed'],
      ['write_query', 'SET max_threads = 1', 'Query rejected: SET clause is not allowed'],
      ['write_query', 'SELECT 1; SET max_threads=1', 'Query rejected: SET clause is not allowed'],
      ['write_query', `INSERT INTO ${E} SELECT * FROM ${E} SETTINGS max_threads = 1`, 'Query rejected: SETTINGS clause is not allowed'],
    ];
    for (const [tool, query, message] of rejected) expect(errorText(await call(b.client, tool, { query })), query).toBe(message);
    // SQL the clause parser cannot read is refused while any clause is blocked (fail closed).
    for (const query of [`SELECT * FROM ${E} INTO OUTFILE '/tmp/mcpe2e.csv'`, "SHOW DATABASES INTO OUTFILE '/tmp/mcpe2e.txt'", 'EXPLAIN SYNTAX SELECT 1']) {
      expect(errorText(await call(b.client, 'execute_query', { query })), query).toMatch(/^Query rejected: /);
    }
    expect(Number((await chQuery(`SELECT count() FROM default.${E}`)).trim())).toBe(2);
  });

  it('reports WHERECLAUSE and PREWHERE entries by their configured names', async () => {
    const b = await gateway(['--blocked-query-clauses', 'whereclause,PREWHERE']);
    expect(errorText(await call(b.client, 'execute_query', { query: `SELECT * FROM ${E} WHERE v = 1` }))).toBe(
      'Query rejected: WHERECLAUSE clause is not allowed',
    );
    expect(errorText(await call(b.client, 'execute_query', { query: `SELECT * FROM ${S} PREWHERE name = 'n'` }))).toBe(
      'Query rejected: PREWHERE clause is not allowed',
    );
    expect(okJson(await call(b.client, 'execute_query', { query: `SELECT count() AS n FROM ${E}` })).rows).toEqual([[2]]);
  });
});

describe('read-only refusals', () => {
  it('--read-only: write_query is an unknown tool (vector 26), reads still work', async () => {
    const ro = await gateway(['--read-only']);
    const raw = await rawToolCall(ro.gw.url, 'write_query', { query: 'SELECT 1' });
    expect(raw.message.result).toBeUndefined();
    expect(raw.message.error).toEqual({ code: -32602, message: 'unknown tool "write_query"' });
    await expect(call(ro.client, 'write_query', { query: 'SELECT 1' })).rejects.toSatisfy(
      (err: unknown) => err instanceof McpError && err.code === -32602 && err.message.includes('unknown tool "write_query"'),
    );
    expect(errorText(await call(ro.client, 'execute_query', { query: `ALTER TABLE default.${T} DELETE WHERE 1` }))).toBe(READ_ONLY_REJECTION);
    expect(okJson(await call(ro.client, 'execute_query', { query: `SELECT count() AS n FROM default.${T}` })).rows).toEqual([[3]]);
  });

  it('a read-only ClickHouse user: the server refuses the write, the tool says so in words', async () => {
    const ro = await gateway(['--clickhouse-username', 'ro', '--clickhouse-password', 'ro']);
    const name = `mcpe2e_ro_${process.pid}`;
    const text = errorText(await call(ro.client, 'write_query', { query: `CREATE TABLE default.${name} (x UInt8) ENGINE = Memory` }));
    expect(text.startsWith('Query execution failed: ')).toBe(true);
    expect(text).toMatch(/read-?only/i);
    expect(text).toContain('164');
    expect(Number((await chQuery(`EXISTS TABLE default.${name} FORMAT TabSeparated`)).trim())).toBe(0);
    const insert = errorText(await call(ro.client, 'write_query', { query: `INSERT INTO default.${T} VALUES (9, 'nine', NULL)` }));
    expect(insert).toMatch(/read-?only/i);
    expect(Number((await chQuery(`SELECT count() FROM default.${T}`)).trim())).toBe(3);
    // Its reads work, caps included (enforced by the gateway when the user may not change settings).
    expect(okJson(await call(ro.client, 'execute_query', { query: `SELECT name FROM default.${T} ORDER BY id` })).rows).toEqual([
      ['alpha'],
      ['beta'],
      ['gamma'],
    ]);
    const capped = texts(await call(ro.client, 'execute_query', { query: 'SELECT number FROM system.numbers LIMIT 100000' }));
    expect(JSON.parse(capped[0]!).count).toBe(500);
    expect(capped[1]).toBe(ROWS_NOTICE(500));
  });
});

describe('unknown tools and methods', () => {
  it('an unknown tool is JSON-RPC -32602 with the tool name', async () => {
    const raw = await rawToolCall(gw.url, 'no_such_tool', {});
    expect(raw.message.error).toEqual({ code: -32602, message: 'unknown tool "no_such_tool"' });
  });
});

describe('resources (vectors 38, 39)', () => {
  it('lists the schema resource and the table template', async () => {
    const { resources } = await client.listResources();
    expect(resources).toEqual([
      {
        uri: 'clickhouse://schema',
        name: 'Database Catalog',
        description: 'Inventory of visible ClickHouse tables and views with database and engine information',
        mimeType: 'application/json',
      },
    ]);
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates).toHaveLength(1);
    expect(resourceTemplates[0]).toMatchObject({ uriTemplate: 'clickhouse://table/{database}/{table_name}', name: 'Table Structure', mimeType: 'application/json' });
  });

  it('reads the catalog', async () => {
    const { contents } = await client.readResource({ uri: 'clickhouse://schema' });
    expect(contents).toHaveLength(1);
    expect(contents[0]).toMatchObject({ uri: 'clickhouse://schema', mimeType: 'application/json' });
    const catalog = JSON.parse((contents[0] as { text: string }).text);
    expect(Object.keys(catalog)).toEqual(['tables', 'count']);
    expect(catalog.count).toBe(catalog.tables.length);
    expect(catalog.tables).toContainEqual({ name: T, database: 'default', engine: 'MergeTree' });
    expect(catalog.tables).toContainEqual({ name: 'numbers', database: 'system', engine: 'SystemNumbers' });
  });

  it('reads a table structure', async () => {
    const uri = `clickhouse://table/default/${T}`;
    const { contents } = await client.readResource({ uri });
    expect(contents).toHaveLength(1);
    expect(contents[0]).toMatchObject({ uri, mimeType: 'application/json' });
    const columns = JSON.parse((contents[0] as { text: string }).text);
    expect(columns.map((c: { name: string }) => c.name)).toEqual(['id', 'name', 'note']);
    expect(Object.keys(columns[0])).toEqual([
      'name',
      'type',
      'default_kind',
      'default_expression',
      'comment',
      'is_in_partition_key',
      'is_in_sorting_key',
      'is_in_primary_key',
      'is_in_sampling_key',
    ]);
    expect(columns[0]).toMatchObject({ name: 'id', type: 'UInt32', is_in_sorting_key: 1, is_in_primary_key: 1 });
    expect(columns[2]).toMatchObject({ name: 'note', type: 'Nullable(String)', is_in_sorting_key: 0 });
  });

  it('answers bad table URIs with JSON-RPC errors', async () => {
    const bad = await rpc(gw.url, 'resources/read', { uri: 'clickhouse://table/default/' });
    expect(bad.message.error?.message).toContain('invalid table URI format');
    const missing = await rpc(gw.url, 'resources/read', { uri: 'clickhouse://table/default/mcpe2e_nonexistent' });
    expect(missing.message.error?.message).toContain('failed to get table structure');
    const other = await rpc(gw.url, 'resources/read', { uri: 'file:///etc/passwd' });
    expect(other.message.error?.code).toBe(-32602);
    const notString = await rpc(gw.url, 'resources/read', { uri: 5 });
    expect(notString.message.error?.code).toBe(-32602);
    await expect(client.readResource({ uri: 'clickhouse://table/default/' })).rejects.toThrow(/invalid table URI format/);
  });
});

describe('prompts', () => {
  it('lists explore_database and renders it with and without arguments', async () => {
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['explore_database']);
    expect(prompts[0]!.arguments?.map((a) => a.name)).toEqual(['database', 'question']);
    const plain = await client.getPrompt({ name: 'explore_database' });
    expect(plain.messages).toHaveLength(1);
    expect(plain.messages[0]!.role).toBe('user');
    const text = (plain.messages[0]!.content as { text: string }).text;
    expect(text).toContain('clickhouse://schema');
    const withArgs = await client.getPrompt({ name: 'explore_database', arguments: { database: 'default', question: 'How many rows?' } });
    const text2 = (withArgs.messages[0]!.content as { text: string }).text;
    expect(text2).toContain('default');
    expect(text2).toContain('How many rows?');
  });

  it('an unknown prompt is a JSON-RPC error', async () => {
    const res = await rpc(gw.url, 'prompts/get', { name: 'nope' });
    expect(res.message.error).toEqual({ code: -32602, message: 'unknown prompt "nope"' });
  });
});
