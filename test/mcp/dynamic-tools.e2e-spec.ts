import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chQuery } from '../setup/clickhouse-server.js';
import { connectClient, startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';
import { errorText, okJson, tempConfig, texts } from './mcp-e2e-helpers.js';

/**
 * Dynamic tools from `server.tools` rules (core.md §3.3–3.4, vectors 30–36), on both engines:
 *  - ClickHouse 18.16 (no table COMMENT, no `system.tables.comment`, no `{x:Type}` view parameters): a view
 *    becomes a read tool through the catalog's fallback query, tables become insert tools whose INSERTs land;
 *  - chDB (`protocol: embedded`, modern SQL): parameterized views with JSON COMMENTs, and argument binding
 *    checked against hostile values by the rows ClickHouse returns.
 */

const DB = 'mcpe2e_dyn';
const ANNOTATIONS_READ = { readOnlyHint: true, destructiveHint: false, openWorldHint: false };
const ANNOTATIONS_WRITE = { readOnlyHint: false, destructiveHint: true, openWorldHint: false };

const toolsByName = (tools: Tool[]) => new Map(tools.map((t) => [t.name, t]));
const call = (c: Client, name: string, args: Record<string, unknown> = {}) => c.callTool({ name, arguments: args });

describe('dynamic tools on ClickHouse 18.16', () => {
  let gw: TestGateway;
  let roGw: TestGateway;
  let client: Client;
  let roClient: Client;
  let cfg: ReturnType<typeof tempConfig>;

  beforeAll(async () => {
    await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
    await chQuery(`CREATE DATABASE ${DB}`);
    await chQuery(`CREATE TABLE ${DB}.base (id UInt64, name String) ENGINE = MergeTree ORDER BY id`);
    await chQuery(`INSERT INTO ${DB}.base VALUES (1, 'one'), (2, 'two')`);
    await chQuery(`CREATE VIEW ${DB}.v_orders AS SELECT id, name FROM ${DB}.base ORDER BY id`);
    await chQuery(`CREATE VIEW ${DB}.v_both AS SELECT 1 AS x`);
    await chQuery(
      `CREATE TABLE ${DB}.users (id UInt64, name String, note Nullable(String), created DateTime DEFAULT now(), m UInt64 MATERIALIZED id, tags Array(String)) ENGINE = MergeTree ORDER BY id`,
    );
    await chQuery(`CREATE TABLE ${DB}.opt (a Nullable(String), b UInt8 DEFAULT 7) ENGINE = Memory`);
    cfg = tempConfig(`
server:
  tools:
    - {type: read, name: execute_query}
    - {type: write, name: write_query}
    - {type: read, view_regexp: "${DB}\\\\.v_"}
    - {type: read, view_regexp: "${DB}\\\\.v_both"}
    - {type: write, table_regexp: "${DB}\\\\.users$", mode: insert}
    - {type: write, table_regexp: "${DB}\\\\.opt$", mode: insert}
    - {type: write, table_regexp: "${DB}\\\\.base$", mode: update}
    - {type: write, table_regexp: "${DB}\\\\.base$"}
    - {type: read, table_regexp: "${DB}\\\\.base$"}
    - {type: write, view_regexp: "${DB}\\\\.base$", mode: insert}
`);
    gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--config', cfg.path]);
    client = await connectClient(gw.url);
    roGw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--config', cfg.path, '--read-only']);
    roClient = await connectClient(roGw.url);
  });

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await roClient?.close().catch(() => undefined);
    await gw?.close();
    await roGw?.close();
    cfg?.cleanup();
    await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
  });

  it('lists the valid rules only: a view tool, two insert tools; overlaps and invalid rules are skipped (vectors 33, 35)', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['execute_query', 'write_query', `${DB}_opt`, `${DB}_users`, `${DB}_v_orders`]);
    expect(gw.logs.join('\n')).toContain('overlap between read rules');
  });

  it('a view without COMMENT support becomes a read tool with the fallback texts (vector 31)', async () => {
    const tool = toolsByName((await client.listTools()).tools).get(`${DB}_v_orders`)!;
    expect(tool.title).toBe('Mcpe2e Dyn V Orders');
    expect(tool.description).toBe(`Read-only tool to query data from ${DB}.v_orders`);
    expect(tool.annotations).toEqual(ANNOTATIONS_READ);
    expect(tool.inputSchema).toEqual({ type: 'object', properties: {}, required: [], additionalProperties: false });
    const result = okJson(await call(client, `${DB}_v_orders`));
    expect(result).toEqual({ columns: ['id', 'name'], types: ['UInt64', 'String'], rows: [[1, 'one'], [2, 'two']], count: 2 });
    expect(errorText(await call(client, `${DB}_v_orders`, { id: 1 }))).toMatch(/^argument "id" is not allowed; this tool takes no arguments/);
  });

  it('a write rule on a table gives an insert tool with the column parameters (vector 34)', async () => {
    const tool = toolsByName((await client.listTools()).tools).get(`${DB}_users`)!;
    expect(tool.title).toBe('Mcpe2e Dyn Users');
    expect(tool.description).toBe(`Insert data in ${DB}.users`);
    expect(tool.annotations).toEqual(ANNOTATIONS_WRITE);
    expect(tool.inputSchema).toEqual({
      type: 'object',
      additionalProperties: false,
      properties: {
        created: { type: 'string', format: 'date-time', description: 'created (DateTime)' },
        id: { type: 'integer', format: 'int64', description: 'id (UInt64)' },
        name: { type: 'string', description: 'name (String)' },
        note: { type: 'string', description: 'note (Nullable(String))' },
      },
      required: ['id', 'name'],
    });
  });

  it('insert tool calls: missing column, quotes, injection, wrong types, and the rows really land (vector 34)', async () => {
    const name = `${DB}_users`;
    expect(errorText(await call(client, name, { id: 42 }))).toBe('Failed to build query: required parameter missing: name');
    expect(errorText(await call(client, name, { id: '42', name: 'x' }))).toBe('Failed to build query: invalid parameter id: expected integer, got string');
    expect(errorText(await call(client, name, { id: 42, name: 'x', m: 1 }))).toMatch(/^argument "m" is not allowed/);
    const ok = await call(client, name, { id: 42, name: "it's" });
    expect(ok.isError).toBeFalsy();
    expect(texts(ok)).toEqual([`Successfully executed ${name}`]);
    const injected = await call(client, name, { id: 43, name: "x'), (44, 'pwned') --", note: 'back\\slash \u2019quote\u2019' });
    expect(texts(injected)).toEqual([`Successfully executed ${name}`]);
    const rows = await chQuery(`SELECT id, name, note, m, created > now() - 600 FROM ${DB}.users ORDER BY id FORMAT JSONCompact`);
    expect(JSON.parse(rows).data).toEqual([
      ['42', "it's", null, '42', 1],
      ['43', "x'), (44, 'pwned') --", 'back\\slash \u2019quote\u2019', '43', 1],
    ]);
  });

  it('an insert tool over optional columns only: {} → no columns; a partial row gets the defaults', async () => {
    expect(errorText(await call(client, `${DB}_opt`, {}))).toBe('Failed to build query: no columns provided');
    expect(texts(await call(client, `${DB}_opt`, { a: 'x' }))).toEqual([`Successfully executed ${DB}_opt`]);
    expect((await chQuery(`SELECT a, b FROM ${DB}.opt FORMAT TabSeparated`)).trim()).toBe('x\t7');
  });

  it('a read-only gateway offers the view tool but no write tools', async () => {
    const { tools } = await roClient.listTools();
    expect(tools.map((t) => t.name)).toEqual(['execute_query', `${DB}_v_orders`]);
    const refused = await roClient.callTool({ name: `${DB}_users`, arguments: { id: 1, name: 'x' } }).catch((e: Error) => e);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toContain(`unknown tool "${DB}_users"`);
  });
});

describe('dynamic tools on chDB (parameterized views with COMMENT metadata)', () => {
  let gw: TestGateway;
  let client: Client;
  let cfg: ReturnType<typeof tempConfig>;
  let tools: Map<string, Tool>;

  const sql = async (query: string) => {
    const result = await call(client, 'write_query', { query });
    if (result.isError) throw new Error(`${query}: ${texts(result).join()}`);
  };

  beforeAll(async () => {
    cfg = tempConfig(`
clickhouse:
  protocol: embedded
  max_result_rows: 5
  max_result_bytes: 1000
server:
  tools:
    - {type: read, name: execute_query}
    - {type: write, name: write_query}
    - {type: read, view_regexp: "^(demo|mcpe2e)\\\\."}
    - {type: write, table_regexp: "^mcpe2e\\\\.types$", mode: insert}
    - {type: read, view_regexp: "^mcpe2e_named\\\\.my "}
    - {type: read, name: helloWorld, view_regexp: "^mcpe2e_named\\\\.v2$"}
    - {type: read, name: "--hello--", prefix: "A B  C ", view_regexp: "^mcpe2e_named\\\\.v3$"}
`);
    gw = await startGateway(['--config', cfg.path]);
    client = await connectClient(gw.url);
    // Created before the first tools/list, which runs the discovery.
    await sql('CREATE DATABASE IF NOT EXISTS mcpe2e');
    await sql(
      `CREATE VIEW mcpe2e.search AS SELECT city FROM demo.cities WHERE city ILIKE '%' || {query: String} || '%' ORDER BY city COMMENT '{"title":"GitHub Search","description":"Returns matching issues.","annotations":{"openWorldHint":true}}'`,
    );
    await sql(`CREATE VIEW mcpe2e.bad_json AS SELECT 1 AS x COMMENT '{"title":"GitHub Search"'`);
    await sql('CREATE VIEW mcpe2e.no_comment AS SELECT 1 AS x');
    await sql('CREATE VIEW mcpe2e.by_id AS SELECT number AS id FROM system.numbers WHERE number = {id:UInt64} LIMIT 1');
    await sql('CREATE TABLE mcpe2e.names (name String) ENGINE = Memory');
    await sql("INSERT INTO mcpe2e.names VALUES ('O\\'Brien'), ('back\\\\slash'), ('it\u2019s'), ('plain')");
    await sql('CREATE VIEW mcpe2e.name_is AS SELECT name FROM mcpe2e.names WHERE name = {name:String}');
    await sql(
      "CREATE TABLE mcpe2e.types (u8 UInt8, d Decimal(18, 2), b Bool, d32 Date32, dt64 DateTime64(3), id UUID, e Enum8('a' = 1), fs FixedString(10), ni Nullable(Int32), lc LowCardinality(String) DEFAULT 'z', al UInt8 ALIAS u8 + 1) ENGINE = Memory",
    );
    await sql('CREATE VIEW mcpe2e.arr AS SELECT number FROM system.numbers WHERE has({ids:Array(UInt64)}, number) LIMIT 3');
    await sql('CREATE DATABASE IF NOT EXISTS mcpe2e_named');
    await sql('CREATE VIEW mcpe2e_named.`my View-Name 123` AS SELECT 1 AS x');
    await sql('CREATE VIEW mcpe2e_named.v2 AS SELECT 2 AS x');
    await sql('CREATE VIEW mcpe2e_named.v3 AS SELECT 3 AS x');
    tools = toolsByName((await client.listTools()).tools);
  }, 60_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await gw?.close();
    cfg?.cleanup();
  });

  it('discovers the demo views and ours', () => {
    expect([...tools.keys()]).toEqual([
      'execute_query',
      'write_query',
      'a_b_c_hello',
      'demo_daily_revenue',
      'demo_trips_between',
      'demo_trips_by_city',
      'helloworld',
      'mcpe2e_arr',
      'mcpe2e_bad_json',
      'mcpe2e_by_id',
      'mcpe2e_name_is',
      'mcpe2e_named_my_view_name_123',
      'mcpe2e_no_comment',
      'mcpe2e_search',
      'mcpe2e_types',
    ]);
  });

  it('names tools in snake_case from the rule name or the object (vector 37)', async () => {
    expect(okJson(await call(client, 'mcpe2e_named_my_view_name_123')).rows).toEqual([[1]]);
    expect(tools.get('mcpe2e_named_my_view_name_123')!.title).toBe('Mcpe2e Named My View Name 123');
    expect(okJson(await call(client, 'helloworld')).rows).toEqual([[2]]);
    expect(tools.get('helloworld')!.title).toBe('Helloworld');
    expect(okJson(await call(client, 'a_b_c_hello')).rows).toEqual([[3]]);
  });

  it('maps ClickHouse types to JSON Schema types (vector 36)', async () => {
    const props = tools.get('mcpe2e_types')!.inputSchema.properties as Record<string, { type: string; format?: string }>;
    const shape = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v.format ? `${v.type}/${v.format}` : v.type]));
    expect(shape).toEqual({
      u8: 'integer/int64',
      d: 'number/double',
      b: 'boolean',
      d32: 'string/date',
      dt64: 'string/date-time',
      id: 'string/uuid',
      e: 'string',
      fs: 'string',
      ni: 'string',
      lc: 'string',
    });
    expect(tools.get('mcpe2e_types')!.inputSchema.required).toEqual(['u8', 'd', 'b', 'd32', 'dt64', 'id', 'e', 'fs']);
    expect(tools.get('mcpe2e_arr')!.inputSchema.properties!.ids).toEqual({ type: 'string', description: 'ids (Array(UInt64))' });
    const row = {
      u8: 200,
      d: 12.25,
      b: true,
      d32: '2024-01-02',
      dt64: '2024-01-02 03:04:05.678',
      id: '00000000-0000-0000-0000-000000000001',
      e: 'a',
      fs: "ab'c",
    };
    expect(texts(await call(client, 'mcpe2e_types', row))).toEqual(['Successfully executed mcpe2e_types']);
    const back = okJson(await call(client, 'execute_query', { query: 'SELECT u8, toString(d), b, toString(d32), toString(dt64), toString(id), e, toStringCutToZero(fs), ni, lc, al FROM mcpe2e.types' }));
    expect(back.rows).toEqual([[200, '12.25', true, '2024-01-02', '2024-01-02 03:04:05.678', '00000000-0000-0000-0000-000000000001', 'a', "ab'c", null, 'z', 201]]);
    expect(errorText(await call(client, 'mcpe2e_types', { ...row, b: 'yes' }))).toBe('Failed to build query: invalid parameter b: expected boolean, got string');
    expect(errorText(await call(client, 'mcpe2e_types', { ...row, d: '1.5' }))).toBe('Failed to build query: invalid parameter d: expected number, got string');
  });

  it('takes title, description, annotations and parameters from the COMMENT JSON (vector 30)', () => {
    const search = tools.get('mcpe2e_search')!;
    expect(search.title).toBe('GitHub Search');
    expect(search.description).toBe('Returns matching issues.');
    expect(search.annotations).toEqual({ readOnlyHint: true, destructiveHint: false, openWorldHint: true });
    expect(search.inputSchema).toEqual({
      type: 'object',
      properties: { query: { type: 'string', description: 'query (String)' } },
      required: ['query'],
      additionalProperties: false,
    });
    const byCity = tools.get('demo_trips_by_city')!;
    expect(byCity.title).toBe('Trips by city');
    expect(byCity.description).toContain('one city');
    expect(byCity.inputSchema.properties!.city).toEqual({ type: 'string', description: 'City name, e.g. Berlin, Paris or London' });
    expect(tools.get('demo_trips_between')!.inputSchema.properties!.from).toMatchObject({ type: 'string', format: 'date' });
    expect(tools.get('mcpe2e_by_id')!.inputSchema.properties!.id).toEqual({ type: 'integer', format: 'int64', description: 'id (UInt64)' });
  });

  it('falls back for an invalid JSON comment and for no comment (vector 31)', () => {
    expect(tools.get('mcpe2e_bad_json')).toMatchObject({ title: 'Mcpe2e Bad Json', description: '{"title":"GitHub Search"' });
    expect(tools.get('mcpe2e_no_comment')).toMatchObject({
      title: 'Mcpe2e No Comment',
      description: 'Read-only tool to query data from mcpe2e.no_comment',
      annotations: ANNOTATIONS_READ,
    });
    expect(tools.get('demo_daily_revenue')!.description).toBe('Trips and revenue (fare plus tip) per day');
  });

  it('runs a view tool with its parameters, under the row cap', async () => {
    expect(okJson(await call(client, 'demo_trips_by_city', { city: 'Berlin' }))).toMatchObject({
      columns: ['city', 'trips', 'avg_distance_km', 'total_fare'],
      rows: [['Berlin', expect.any(Number), expect.any(Number), expect.any(String)]],
      count: 1,
    });
    const between = okJson(await call(client, 'demo_trips_between', { from: '2024-01-01', to: '2024-01-31' }));
    expect(between.count).toBe(5);
    expect(between.truncated).toMatchObject({ reason: 'max_result_rows', limit: 5 });
    expect(errorText(await call(client, 'demo_trips_by_city', {}))).toBe('required parameter missing: city');
    expect(errorText(await call(client, 'demo_trips_by_city', { city: 'Berlin', town: 'x' }))).toMatch(/^argument "town" is not allowed/);
    const badDate = errorText(await call(client, 'demo_trips_between', { from: "2024-01-01') OR (1=1", to: '2024-01-31' }));
    expect(badDate).toMatch(/^Query execution failed: /);
  });

  it('checks integer parameters (vector 32) and refuses huge numbers and arrays', async () => {
    expect(okJson(await call(client, 'mcpe2e_by_id', { id: 7 })).rows).toEqual([[7]]);
    expect(errorText(await call(client, 'mcpe2e_by_id', { id: 1.5 }))).toBe('Invalid argument "id": expected integer, got non-integer number 1.5');
    expect(errorText(await call(client, 'mcpe2e_by_id', { id: '7' }))).toBe('Invalid argument "id": expected integer, got string');
    expect(errorText(await call(client, 'mcpe2e_by_id', { id: true }))).toBe('Invalid argument "id": expected integer, got bool');
    expect(errorText(await call(client, 'mcpe2e_by_id', { id: [7] }))).toBe('Invalid argument "id": expected integer, got []interface {}');
    expect(errorText(await call(client, 'mcpe2e_by_id', { id: { n: 7 } }))).toBe('Invalid argument "id": expected integer, got map[string]interface {}');
    expect(errorText(await call(client, 'mcpe2e_by_id', { id: 1e20 }))).toMatch(/^Invalid argument "id": integer .* out of range for int64$/);
    expect(errorText(await call(client, 'mcpe2e_by_id', { id: '7 OR 1=1' }))).toBe('Invalid argument "id": expected integer, got string');
  });

  it('binds string parameters safely: hostile values match only themselves (injection attempts)', async () => {
    const names = async (name: unknown) => okJson(await call(client, 'mcpe2e_name_is', { name })).rows;
    expect(await names('plain')).toEqual([['plain']]);
    expect(await names("O'Brien")).toEqual([["O'Brien"]]);
    expect(await names('back\\slash')).toEqual([['back\\slash']]);
    expect(await names('it\u2019s')).toEqual([['it\u2019s']]);
    for (const hostile of [
      "' OR 1=1 --",
      "plain' OR '1'='1",
      "plain\\' OR 1=1 --",
      'plain\\',
      "plain\u2019 OR \u20191\u2019=\u20191",
      'plain\u0000',
      "plain'; DROP TABLE mcpe2e.names; --",
      ['plain'],
      { name: 'plain' },
      123456789012345678901234567890,
    ]) {
      expect(await names(hostile), JSON.stringify(hostile)).toBeNull();
    }
    // The table is intact and a LIKE search is not widened by an injection either.
    expect(okJson(await call(client, 'execute_query', { query: 'SELECT count() FROM mcpe2e.names' })).rows).toEqual([[4]]);
    const all = okJson(await call(client, 'mcpe2e_search', { query: '' }));
    expect(all.count).toBe(5); // 8 cities, cut at the cap
    expect(okJson(await call(client, 'mcpe2e_search', { query: "' OR 1=1 --" }))).toMatchObject({ rows: null, count: 0 });
    expect(okJson(await call(client, 'mcpe2e_search', { query: 'ber' })).rows).toEqual([['Berlin']]);
  });

  it('runs DESCRIBE, SHOW CREATE, EXISTS and EXPLAIN under caps of 5 rows / 1000 bytes (vector 20)', async () => {
    for (const query of ['DESCRIBE demo.trips', 'DESC demo.trips', 'SHOW CREATE TABLE demo.trips', 'EXISTS TABLE demo.trips', 'EXPLAIN SELECT * FROM demo.trips']) {
      const result = await call(client, 'execute_query', { query });
      expect(result.isError, `${query}: ${texts(result).join()}`).toBeFalsy();
      expect(okJson(result).count).toBeGreaterThan(0);
    }
  });
});
