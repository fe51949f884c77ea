import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chQuery } from '../setup/clickhouse-server.js';
import { connectClient, firstJson, startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';
import { errorText, okJson } from './mcp-e2e-helpers.js';

/**
 * Schema discovery tools (`--schema-tools`, `server.schema_tools`): `list_databases`, `list_tables`,
 * `describe_table` and `search_schema`, end to end through the MCP client on both engines:
 *  - ClickHouse 18.16, whose system tables lack `system.tables.comment`/`total_rows`, `system.databases.comment`
 *    and `system.columns.position`, so every tool runs its legacy query;
 *  - chDB 26.x (`--clickhouse-protocol embedded`), whose seeded `demo` database carries table comments.
 */

const DB = 'schematools_e2e';
const SCHEMA_TOOLS = ['list_databases', 'list_tables', 'describe_table', 'search_schema'];
const READ_ONLY = { readOnlyHint: true, destructiveHint: false, openWorldHint: false };

const call = (c: Client, name: string, args: Record<string, unknown> = {}) => c.callTool({ name, arguments: args });

interface TableEntry {
  name: string;
  engine: string;
  total_rows?: unknown;
  comment?: string;
}
interface TablePage {
  database: string;
  tables: TableEntry[];
  next_page_token?: string;
}
interface Match {
  kind: 'table' | 'column';
  database: string;
  table: string;
  column?: string;
  type?: string;
  engine?: string;
  comment?: string;
}

describe('schema tools registration', () => {
  let plain: TestGateway;
  let withTools: TestGateway;
  let plainClient: Client;
  let toolsClient: Client;

  beforeAll(async () => {
    plain = await startGateway([...TEST_CLICKHOUSE_FLAGS]);
    plainClient = await connectClient(plain.url);
    withTools = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--schema-tools']);
    toolsClient = await connectClient(withTools.url);
  });

  afterAll(async () => {
    await plainClient?.close().catch(() => undefined);
    await toolsClient?.close().catch(() => undefined);
    await plain?.close();
    await withTools?.close();
  });

  it('are absent without --schema-tools, and calling one is an unknown tool', async () => {
    const names = (await plainClient.listTools()).tools.map((t) => t.name);
    for (const name of SCHEMA_TOOLS) expect(names).not.toContain(name);
    expect(names).toEqual(['execute_query', 'write_query']);
    const refused = await call(plainClient, 'list_databases').catch((e: Error) => e);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toContain('unknown tool "list_databases"');
  });

  it('are listed with --schema-tools: read-only annotations and strict input schemas', async () => {
    const { tools } = await toolsClient.listTools();
    expect(tools.map((t) => t.name)).toEqual(['execute_query', 'write_query', ...SCHEMA_TOOLS]);
    for (const name of SCHEMA_TOOLS) {
      const tool = tools.find((t) => t.name === name)!;
      expect(tool.annotations, name).toEqual(READ_ONLY);
      expect(tool.annotations!.readOnlyHint, name).toBe(true);
      expect(tool.inputSchema.type, name).toBe('object');
      expect(tool.inputSchema.additionalProperties, name).toBe(false);
      expect(tool.title, name).toBeTruthy();
      expect(tool.description, name).toBeTruthy();
    }
    const schema = (name: string) => tools.find((t) => t.name === name)!.inputSchema;
    expect(schema('list_databases').properties).toEqual({});
    expect(Object.keys(schema('list_tables').properties!)).toEqual(['database', 'like', 'page_size', 'page_token']);
    expect(schema('list_tables').properties!.page_size).toMatchObject({ type: 'integer', minimum: 1, maximum: 500 });
    expect(schema('list_tables').required ?? []).toEqual([]);
    expect(schema('describe_table').required).toEqual(['table']);
    expect(schema('search_schema').required).toEqual(['query']);
  });
});

describe('schema tools on ClickHouse 18.16 (no table comments, row counts or column positions)', () => {
  let gw: TestGateway;
  let client: Client;

  beforeAll(async () => {
    await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
    await chQuery(`CREATE DATABASE ${DB}`);
    await chQuery(
      `CREATE TABLE ${DB}.alpha_events (
        id UInt64 COMMENT 'Unique event id',
        ts DateTime COMMENT 'Moment the Purchase happened',
        amount Float64 DEFAULT 0,
        user String
      ) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (id, ts)`,
    );
    await chQuery(`CREATE TABLE ${DB}.beta_users (uid UInt32, email String) ENGINE = Memory`);
    await chQuery(`CREATE TABLE ${DB}.gamma_log (line String) ENGINE = TinyLog`);
    gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--schema-tools']);
    client = await connectClient(gw.url);
  });

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await gw?.close();
    await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
  });

  it('list_databases includes the new database (18.16 has no database comments)', async () => {
    const { databases } = okJson(await call(client, 'list_databases')) as { databases: Array<{ name: string; engine: string; comment?: string }> };
    const ours = databases.find((d) => d.name === DB);
    expect(ours).toEqual({ name: DB, engine: 'Ordinary' });
    expect(databases.map((d) => d.name)).toEqual(expect.arrayContaining(['default', 'system', DB]));
  });

  it('list_tables pages through the tables with next_page_token', async () => {
    const first = okJson(await call(client, 'list_tables', { database: DB, page_size: 2 })) as TablePage;
    expect(first.database).toBe(DB);
    expect(first.tables).toEqual([
      { name: 'alpha_events', engine: 'MergeTree' },
      { name: 'beta_users', engine: 'Memory' },
    ]);
    expect(typeof first.next_page_token).toBe('string');
    expect(first.next_page_token).not.toBe('');

    const second = okJson(await call(client, 'list_tables', { database: DB, page_size: 2, page_token: first.next_page_token })) as TablePage;
    expect(second.tables).toEqual([{ name: 'gamma_log', engine: 'TinyLog' }]);
    expect(second).not.toHaveProperty('next_page_token');

    // One page that holds everything has no token either.
    const all = okJson(await call(client, 'list_tables', { database: DB })) as TablePage;
    expect(all.tables.map((t) => t.name)).toEqual(['alpha_events', 'beta_users', 'gamma_log']);
    expect(all).not.toHaveProperty('next_page_token');
  });

  it('list_tables refuses a page token from another listing, and garbage tokens', async () => {
    const first = okJson(await call(client, 'list_tables', { database: DB, page_size: 2 })) as TablePage;
    const token = first.next_page_token!;
    const otherDb = errorText(await call(client, 'list_tables', { database: 'system', page_size: 2, page_token: token }));
    expect(otherDb).toMatch(/^Invalid arguments: page_token is not valid for this listing/);
    expect(otherDb).toContain('same database and like');
    const otherLike = errorText(await call(client, 'list_tables', { database: DB, like: '%a%', page_size: 2, page_token: token }));
    expect(otherLike).toMatch(/^Invalid arguments: page_token is not valid for this listing/);
    for (const bad of ['not-a-token', 'e30', Buffer.from(JSON.stringify({ o: -1, d: DB, l: '' })).toString('base64url')]) {
      expect(errorText(await call(client, 'list_tables', { database: DB, page_token: bad })), bad).toMatch(
        /^Invalid arguments: page_token is not valid for this listing/,
      );
    }
  });

  it('list_tables filters with like; quotes in the pattern are data, not SQL', async () => {
    const betaOnly = okJson(await call(client, 'list_tables', { database: DB, like: 'beta%' })) as TablePage;
    expect(betaOnly.tables.map((t) => t.name)).toEqual(['beta_users']);
    const withA = okJson(await call(client, 'list_tables', { database: DB, like: '%a_%' })) as TablePage;
    expect(withA.tables.map((t) => t.name)).toEqual(['alpha_events', 'beta_users', 'gamma_log']);
    const none = okJson(await call(client, 'list_tables', { database: DB, like: "x' OR '1'='1" })) as TablePage;
    expect(none.tables).toEqual([]);
    // like pages carry their pattern in the token.
    const p1 = okJson(await call(client, 'list_tables', { database: DB, like: '%a%', page_size: 1 })) as TablePage;
    expect(p1.tables.map((t) => t.name)).toEqual(['alpha_events']);
    const p2 = okJson(await call(client, 'list_tables', { database: DB, like: '%a%', page_size: 1, page_token: p1.next_page_token })) as TablePage;
    expect(p2.tables.map((t) => t.name)).toEqual(['beta_users']);
    expect(p2.next_page_token).toBeDefined();
  });

  it('list_tables without database lists the configured default database', async () => {
    const page = okJson(await call(client, 'list_tables')) as TablePage;
    expect(page.database).toBe('default');
    expect(Array.isArray(page.tables)).toBe(true);
  });

  it('describe_table shows the columns in order with types, defaults, the column comment and the keys', async () => {
    const described = okJson(await call(client, 'describe_table', { database: DB, table: 'alpha_events' }));
    expect(described).toEqual({
      database: DB,
      table: 'alpha_events',
      engine: 'MergeTree',
      sorting_key: 'id, ts',
      primary_key: 'id, ts',
      partition_key: 'toYYYYMM(ts)',
      columns: [
        { name: 'id', type: 'UInt64', comment: 'Unique event id' },
        { name: 'ts', type: 'DateTime', comment: 'Moment the Purchase happened' },
        { name: 'amount', type: 'Float64', default_kind: 'DEFAULT', default_expression: expect.stringMatching(/^(CAST\()?0/) },
        { name: 'user', type: 'String' },
      ],
    });
    const memory = okJson(await call(client, 'describe_table', { database: DB, table: 'beta_users' }));
    expect(memory).toMatchObject({ engine: 'Memory', columns: [{ name: 'uid', type: 'UInt32' }, { name: 'email', type: 'String' }] });
  });

  it('describe_table of a missing table, or without a table, is a clear isError result', async () => {
    const missing = errorText(await call(client, 'describe_table', { database: DB, table: 'no_such_table' }));
    expect(missing).toContain(`${DB}.no_such_table does not exist`);
    expect(missing).not.toMatch(/Code: \d+|DB::Exception/);
    expect(errorText(await call(client, 'describe_table', { table: 'alpha_events' }))).toContain('default.alpha_events does not exist');
    expect(errorText(await call(client, 'describe_table', { database: DB }))).toBe('Invalid arguments: table is required and must be a non-empty string');
    expect(errorText(await call(client, 'describe_table', { database: DB, table: '  ' }))).toBe('Invalid arguments: table is required and must be a non-empty string');
  });

  it('search_schema finds a table by part of its name and a column by its comment, case-insensitively', async () => {
    const byName = okJson(await call(client, 'search_schema', { query: 'ALPHA_EV' })) as { query: string; matches: Match[]; truncated: boolean };
    expect(byName.query).toBe('ALPHA_EV');
    expect(byName.matches).toContainEqual({ kind: 'table', database: DB, table: 'alpha_events', engine: 'MergeTree' });
    expect(byName.truncated).toBe(false);

    const byComment = okJson(await call(client, 'search_schema', { query: 'purchase' })) as { matches: Match[] };
    expect(byComment.matches).toContainEqual({
      kind: 'column',
      database: DB,
      table: 'alpha_events',
      column: 'ts',
      type: 'DateTime',
      comment: 'Moment the Purchase happened',
    });

    const byColumnName = okJson(await call(client, 'search_schema', { query: 'EMAIL' })) as { matches: Match[] };
    expect(byColumnName.matches).toContainEqual({ kind: 'column', database: DB, table: 'beta_users', column: 'email', type: 'String' });

    // System databases are never searched.
    const system = okJson(await call(client, 'search_schema', { query: 'metadata_path' })) as { matches: Match[] };
    expect(system.matches.filter((m) => m.database === 'system')).toEqual([]);

    // limit cuts the matches and says so, also when all the matches are of one kind (three tables, no column).
    const limited = okJson(await call(client, 'search_schema', { query: '_', limit: 1 })) as { matches: Match[]; truncated: boolean };
    expect(limited.matches).toHaveLength(1);
    expect(limited.truncated).toBe(true);
    const exact = okJson(await call(client, 'search_schema', { query: 'gamma_lo', limit: 1 })) as { matches: Match[]; truncated: boolean };
    expect(exact).toMatchObject({ matches: [{ kind: 'table', database: DB, table: 'gamma_log' }], truncated: false });

    const nothing = okJson(await call(client, 'search_schema', { query: "zz'no such thing" })) as { matches: Match[]; truncated: boolean };
    expect(nothing).toMatchObject({ matches: [], truncated: false });
  });

  it('refuses unknown arguments and wrong argument types with clean isError texts', async () => {
    expect(errorText(await call(client, 'list_tables', { database: DB, pagesize: 2 }))).toBe(
      'argument "pagesize" is not allowed; allowed arguments: database, like, page_size, page_token (did you mean "page_size"?)',
    );
    expect(errorText(await call(client, 'list_databases', { database: DB }))).toBe('argument "database" is not allowed; this tool takes no arguments');
    expect(errorText(await call(client, 'list_tables', { database: DB, page_size: '2' }))).toBe('Invalid arguments: page_size must be an integer from 1 to 500');
    expect(errorText(await call(client, 'list_tables', { database: DB, page_size: 0 }))).toBe('Invalid arguments: page_size must be an integer from 1 to 500');
    expect(errorText(await call(client, 'list_tables', { database: DB, page_size: 1.5 }))).toBe('Invalid arguments: page_size must be an integer from 1 to 500');
    expect(errorText(await call(client, 'list_tables', { database: DB, page_size: 501 }))).toBe('Invalid arguments: page_size must be an integer from 1 to 500');
    expect(errorText(await call(client, 'list_tables', { database: 42 }))).toBe('Invalid arguments: database must be a string');
    expect(errorText(await call(client, 'list_tables', { database: DB, like: ['%'] }))).toBe('Invalid arguments: like must be a string');
    expect(errorText(await call(client, 'describe_table', { table: 7 }))).toBe('Invalid arguments: table must be a string');
    expect(errorText(await call(client, 'search_schema', {}))).toBe('Invalid arguments: query is required and must be a non-empty string');
    expect(errorText(await call(client, 'search_schema', { query: 'x', limit: 0 }))).toBe('Invalid arguments: limit must be an integer from 1 to 200');
    expect(errorText(await call(client, 'search_schema', { query: 'x', limt: 3 }))).toMatch(/^argument "limt" is not allowed; allowed arguments: query, limit/);
  });

  it('a tool result is one JSON text block (firstJson reads it)', async () => {
    const result = await call(client, 'list_tables', { database: DB, like: 'gamma%' });
    expect(result.isError).toBeFalsy();
    expect(firstJson(result)).toEqual({ database: DB, tables: [{ name: 'gamma_log', engine: 'TinyLog' }] });
  });
});

describe('schema tools on chDB (embedded engine, table comments)', () => {
  let gw: TestGateway;
  let client: Client;

  beforeAll(async () => {
    // The only embedded engine of this file (one per process), seeded with the demo data set on start.
    gw = await startGateway(['--clickhouse-protocol', 'embedded', '--schema-tools']);
    client = await connectClient(gw.url);
  }, 60_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await gw?.close();
  });

  it('list_databases shows the demo database with its comment', async () => {
    const { databases } = okJson(await call(client, 'list_databases')) as { databases: Array<{ name: string; engine: string; comment?: string }> };
    expect(databases.find((d) => d.name === 'demo')).toMatchObject({ name: 'demo', comment: expect.stringContaining('synthetic taxi trips') });
  });

  it('list_tables of demo shows table comments and row counts', async () => {
    const page = okJson(await call(client, 'list_tables', { database: 'demo' })) as TablePage;
    expect(page.tables.map((t) => t.name)).toEqual(['cities', 'daily_revenue', 'trips', 'trips_between', 'trips_by_city']);
    const byName = new Map(page.tables.map((t) => [t.name, t]));
    expect(byName.get('trips')).toMatchObject({ engine: 'MergeTree', comment: 'Synthetic taxi trips in January 2024' });
    expect(byName.get('cities')).toMatchObject({ engine: 'MergeTree', comment: 'Cities served by the demo taxi company' });
    expect(byName.get('daily_revenue')).toMatchObject({ engine: 'View', comment: 'Trips and revenue (fare plus tip) per day' });
    // MergeTree reports its row count; views do not.
    expect(Number(byName.get('trips')!.total_rows)).toBe(1000);
    expect(Number(byName.get('cities')!.total_rows)).toBe(8);
    expect(byName.get('daily_revenue')).not.toHaveProperty('total_rows');
    expect(page).not.toHaveProperty('next_page_token');
  });

  it('describe_table on chDB keeps the column order and the comments', async () => {
    const described = okJson(await call(client, 'describe_table', { database: 'demo', table: 'cities' }));
    expect(described).toMatchObject({
      database: 'demo',
      table: 'cities',
      engine: 'MergeTree',
      sorting_key: 'city',
      comment: 'Cities served by the demo taxi company',
      columns: [
        { name: 'city', type: 'LowCardinality(String)', comment: 'City name' },
        { name: 'country', type: 'LowCardinality(String)', comment: 'Country the city is in' },
        { name: 'population', type: 'UInt32', comment: 'Approximate number of inhabitants' },
      ],
    });
  });

  it('search_schema finds a table by a word of its COMMENT', async () => {
    const found = okJson(await call(client, 'search_schema', { query: 'SYNTHETIC' })) as { matches: Match[] };
    expect(found.matches).toContainEqual({
      kind: 'table',
      database: 'demo',
      table: 'trips',
      engine: 'MergeTree',
      comment: 'Synthetic taxi trips in January 2024',
    });
    const tips = okJson(await call(client, 'search_schema', { query: 'tip' })) as { matches: Match[] };
    expect(tips.matches).toContainEqual(expect.objectContaining({ kind: 'column', database: 'demo', table: 'trips', column: 'tip_amount' }));
  });
});
