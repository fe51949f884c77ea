import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_READ_ONLY_REJECTION } from '../../src/mcp/openapi/openapi.service.js';
import { MCP_POST_HEADERS, rawHttp, type RawResponse, rpc, tempConfig } from '../mcp/mcp-e2e-helpers.js';
import { chQuery } from '../setup/clickhouse-server.js';
import { startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';

/**
 * OpenAPI mode (`--openapi http|https`) against the real ClickHouse 18.16 test server: spec §4 and vector 40,
 * plus the gateway's read-only default on `GET /openapi/execute_query`.
 */
const DB = 'openapi_e2e';

const TOOLS_YAML = `
server:
  tools:
    - { type: read, name: execute_query }
    - { type: write, name: write_query }
    - { type: read, view_regexp: '${DB}\\.v' }
    - { type: write, table_regexp: '${DB}\\.w', mode: insert }
`;

const get = (gw: TestGateway, path: string, headers: Record<string, string> = {}): Promise<RawResponse> =>
  rawHttp(gw.url, { method: 'GET', path, headers });
const post = (gw: TestGateway, path: string, body?: string, headers: Record<string, string> = { 'Content-Type': 'application/json' }): Promise<RawResponse> =>
  rawHttp(gw.url, { method: 'POST', path, headers, body });
const q = (sql: string): string => `/openapi/execute_query?query=${encodeURIComponent(sql)}`;

/** Asserts a Go `http.Error` answer. */
function expectGoError(res: RawResponse, status: number, text: string): void {
  expect({ status: res.status, body: res.body }).toEqual({ status, body: `${text}\n` });
  expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
}

beforeAll(async () => {
  await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
  await chQuery(`CREATE DATABASE ${DB}`);
  await chQuery(`CREATE TABLE ${DB}.t (id UInt64, name String) ENGINE = Memory`);
  await chQuery(`INSERT INTO ${DB}.t VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
  await chQuery(`CREATE VIEW ${DB}.v AS SELECT id, name FROM ${DB}.t ORDER BY id`);
  await chQuery(`CREATE TABLE ${DB}.w (id UInt64, note Nullable(String)) ENGINE = Memory`);
});

afterAll(async () => {
  await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
});

describe('OpenAPI mode (--openapi http)', () => {
  let gw: TestGateway;
  let cfg: ReturnType<typeof tempConfig>;
  beforeAll(async () => {
    cfg = tempConfig(TOOLS_YAML);
    gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--openapi', 'http', '--config', cfg.path, '--blocked-query-clauses', 'FORMAT']);
  });
  afterAll(async () => {
    await gw?.close();
    cfg?.cleanup();
  });

  it('GET /openapi serves the schema document (vector 40)', async () => {
    const res = await get(gw, '/openapi');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body.endsWith('}\n')).toBe(true);
    const doc = JSON.parse(res.body);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('ClickHouse SQL Interface');
    expect(doc.paths['/openapi/execute_query'].get.operationId).toBe('execute_query');
    expect(doc.servers[0].url).toBe(gw.url.replace(/\/$/, ''));
    // Dynamic tools of this caller, read and write.
    expect(doc.paths[`/openapi/${DB}_v`].post.summary).toBe(`Read-only tool to query data from ${DB}.v`);
    const insert = doc.paths[`/openapi/${DB}_w`].post.requestBody.content['application/json'].schema;
    expect(insert).toEqual({ type: 'object', properties: { id: { type: 'integer', format: 'int64' }, note: { type: 'string' } }, required: ['id'] });
  });

  it('serves the schema for /openapi/, list_tables and describe_table (GET), and any other path below /openapi', async () => {
    for (const path of ['/openapi/', '/openapi/list_tables', '/openapi/describe_table', '/openapi/anything/else']) {
      const res = await get(gw, path);
      expect(res.status, path).toBe(200);
      expect(JSON.parse(res.body).info.title, path).toBe('ClickHouse SQL Interface');
    }
    // A POST to /openapi itself is the schema too (Go routes by path first).
    expect(JSON.parse((await post(gw, '/openapi', '')).body).openapi).toBe('3.1.0');
  });

  it('GET /openapi/execute_query returns the compact QueryResult plus a newline', async () => {
    const res = await get(gw, q('SELECT 1 AS x'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toBe('{"columns":["x"],"types":["UInt8"],"rows":[[1]],"count":1}\n');
    expect(res.headers['x-mcp-truncated']).toBeUndefined();
    const trailing = await get(gw, `${q(`SELECT name FROM ${DB}.t ORDER BY id`)}`.replace('?', '/?'));
    expect(trailing.body).toBe('{"columns":["name"],"types":["String"],"rows":[["a"],["b"],["c"]],"count":3}\n');
  });

  it('keeps Go statuses and texts for bad requests', async () => {
    expectGoError(await get(gw, '/openapi/execute_query'), 400, 'Query parameter is required');
    expectGoError(await get(gw, '/openapi/execute_query?query='), 400, 'Query parameter is required');
    expectGoError(await post(gw, '/openapi/execute_query', ''), 405, 'Method not allowed');
    expectGoError(await rawHttp(gw.url, { method: 'PUT', path: q('SELECT 1') }), 405, 'Method not allowed');
    expectGoError(await post(gw, '/openapi/no_such_tool', '{}'), 404, '404 page not found');
    expectGoError(await post(gw, '/openapi/list_tables', '{}'), 404, '404 page not found');
    expectGoError(await get(gw, q('SELECT * FROM events FORMAT JSON')), 400, 'Query rejected: FORMAT clause is not allowed');
  });

  it('answers a ClickHouse failure with 500 Query execution failed, without a stack', async () => {
    const res = await get(gw, q(`SELECT * FROM ${DB}.no_such_table`));
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).toMatch(/^Query execution failed: failed to execute query: code: 60/);
    expect(res.body).toContain('no_such_table');
    expect(res.body).not.toMatch(/\n\s+at /);
  });

  it('refuses write statements on GET execute_query by default, and nothing reaches ClickHouse', async () => {
    for (const sql of [`CREATE TABLE ${DB}.evil (x UInt8) ENGINE = Memory`, `INSERT INTO ${DB}.t VALUES (9, 'z')`, `SELECT 1; DROP TABLE ${DB}.t`, `DROP TABLE ${DB}.t`]) {
      expectGoError(await get(gw, q(sql)), 400, OPENAPI_READ_ONLY_REJECTION);
    }
    expect((await chQuery(`SELECT count() FROM ${DB}.t FORMAT TabSeparated`)).trim()).toBe('3');
    expect((await chQuery(`EXISTS TABLE ${DB}.evil FORMAT TabSeparated`)).trim()).toBe('0');
  });

  it('applies the DNS-rebinding guard to the endpoints that run SQL, not to the schema', async () => {
    expectGoError(await get(gw, q('SELECT 1'), { Host: 'evil.example' }), 403, 'Forbidden: invalid Host header "evil.example"');
    expectGoError(await post(gw, `/openapi/${DB}_v`, '{}', { 'Content-Type': 'application/json', Host: 'evil.example' }), 403, 'Forbidden: invalid Host header "evil.example"');
    const schema = await get(gw, '/openapi', { Host: 'gpt.example.com' });
    expect(JSON.parse(schema.body).servers[0].url).toBe('http://gpt.example.com');
  });

  it('runs a dynamic view tool with POST', async () => {
    const res = await post(gw, `/openapi/${DB}_v`, '{}');
    expect(res.status).toBe(200);
    expect(res.body).toBe('{"columns":["id","name"],"types":["UInt64","String"],"rows":[[1,"a"],[2,"b"],[3,"c"]],"count":3}\n');
    // `null` decodes to an empty object in Go; unknown keys are ignored.
    expect((await post(gw, `/openapi/${DB}_v`, 'null')).status).toBe(200);
    expect((await post(gw, `/openapi/${DB}_v/`, '{"other":1}')).status).toBe(200);
  });

  it('answers Invalid JSON body for anything but a JSON object', async () => {
    for (const body of ['', '{', '[1]', '"x"', '42']) {
      expectGoError(await post(gw, `/openapi/${DB}_v`, body), 400, 'Invalid JSON body');
    }
  });

  it('runs a dynamic insert tool: required parameters, checked values, then the INSERT', async () => {
    expectGoError(await post(gw, `/openapi/${DB}_w`, '{"note":"x"}'), 400, 'Missing required parameter: id');
    expectGoError(await post(gw, `/openapi/${DB}_w`, '{"id":"7"}'), 400, 'Failed to build query: invalid parameter id: expected integer, got string');
    const res = await post(gw, `/openapi/${DB}_w`, `{"id":7,"note":"it's"}`);
    expect(res.status).toBe(200);
    expect(res.body).toBe('{"columns":["status"],"types":["String"],"rows":[["OK"]],"count":1}\n');
    expect(await chQuery(`SELECT id, note FROM ${DB}.w FORMAT TabSeparated`)).toBe("7\tit\\'s\n");
  });
});

describe('OpenAPI mode: https scheme, caps and the write opt-in', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway([
      ...TEST_CLICKHOUSE_FLAGS,
      '--openapi',
      'https',
      '--clickhouse-max-result-rows',
      '1',
      '--clickhouse-max-query-length',
      '80',
      '--openapi-allow-write-queries',
      '--allowed-hosts',
      'example.com',
    ]);
  });
  afterAll(async () => gw?.close());

  it('writes https://<Host> into servers[0].url (vector 40)', async () => {
    const res = await get(gw, '/openapi', { Host: 'example.com' });
    expect(JSON.parse(res.body).servers[0].url).toBe('https://example.com');
  });

  it('marks a capped result with X-MCP-Truncated', async () => {
    const res = await get(gw, q(`SELECT id FROM ${DB}.t ORDER BY id`));
    expect(res.status).toBe(200);
    expect(res.headers['x-mcp-truncated']).toBe('max_result_rows');
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({ columns: ['id'], rows: [[1]], count: 1, truncated: { reason: 'max_result_rows', limit: 1, returned_rows: 1 } });
  });

  it('applies max_query_length', async () => {
    const sql = `SELECT 1 AS x /* ${'y'.repeat(80)} */`;
    expectGoError(await get(gw, q(sql)), 413, `query exceeds max length (${sql.length} bytes, limit 80)`);
  });

  it('runs write statements when server.openapi.allow_write_queries is on', async () => {
    const res = await get(gw, q(`CREATE TABLE ${DB}.made (x UInt8) ENGINE = Memory`));
    expect(res.status).toBe(200);
    expect(res.body).toBe('{"columns":["status"],"types":["String"],"rows":[["OK"]],"count":1}\n');
    expect((await chQuery(`EXISTS TABLE ${DB}.made FORMAT TabSeparated`)).trim()).toBe('1');
  });
});

describe('OpenAPI mode with read_only', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--openapi', 'http', '--read-only', '--openapi-allow-write-queries']);
  });
  afterAll(async () => gw?.close());

  it('refuses writes even with the opt-in', async () => {
    expectGoError(await get(gw, q(`DROP TABLE ${DB}.t`)), 400, OPENAPI_READ_ONLY_REJECTION);
    expect((await get(gw, q('SELECT 2 AS y'))).body).toBe('{"columns":["y"],"types":["UInt8"],"rows":[[2]],"count":1}\n');
  });
});

describe('OpenAPI mode off (default)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(TEST_CLICKHOUSE_FLAGS);
  });
  afterAll(async () => gw?.close());

  it('leaves /openapi paths to the MCP catch-all', async () => {
    const res = await get(gw, '/openapi');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    const getQuery = await get(gw, q('SELECT 1'));
    expect(getQuery.status).toBe(405);
    const init = await rpc(gw.url, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } }, { path: '/openapi/execute_query' });
    expect(init.status).toBe(200);
    expect(init.message.result.serverInfo.name).toBe('Altinity ClickHouse MCP Server');
    const toolPost = await rawHttp(gw.url, { path: '/openapi/some_tool', headers: MCP_POST_HEADERS, body: '{}' });
    expect(toolPost.status).toBe(400); // a JSON-RPC "Invalid Request", not an OpenAPI 404
  });
});
