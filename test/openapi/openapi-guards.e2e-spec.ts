import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawHttp, type RawResponse, tempConfig } from '../mcp/mcp-e2e-helpers.js';
import { chQuery } from '../setup/clickhouse-server.js';
import { startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';

/**
 * OpenAPI guards (addendum §E): upstream's order, statuses and texts on `GET /openapi/execute_query`, the
 * JSON body cap of the dynamic tools (§E.4 vectors), and the refusal of cross-site browser requests.
 * "Reaches ClickHouse" is shown by a real answer from the 18.16 server (upstream counts calls on a fake).
 */
const DB = 'oapi_guard_e2e';
const READ_ONLY_TEXT = 'execute_query only accepts read-only statements (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN). Use write_query for write operations.';
const TOOL = `${DB}_v`;

const q = (sql: string): string => `/openapi/execute_query?query=${encodeURIComponent(sql)}`;
const get = (gw: TestGateway, path: string, headers: Record<string, string> = {}) => rawHttp(gw.url, { method: 'GET', path, headers });
/** POST with a known Content-Length (or chunked, with `chunked`). */
const post = (gw: TestGateway, body: string, chunked = false, headers: Record<string, string> = {}) =>
  rawHttp(gw.url, {
    method: 'POST',
    path: `/openapi/${TOOL}`,
    headers: { 'Content-Type': 'application/json', ...(chunked ? {} : { 'Content-Length': String(Buffer.byteLength(body)) }), ...headers },
    body,
  });

function expectText(res: RawResponse, status: number, text: string): void {
  expect({ status: res.status, body: res.body }).toEqual({ status, body: `${text}\n` });
}

let cfg: ReturnType<typeof tempConfig>;
const gateways = new Map<string, TestGateway>();
/** A gateway with OpenAPI on, the view tool, and the given max_query_length (started once per value). */
async function gateway(maxQueryLength: number, extra: string[] = []): Promise<TestGateway> {
  const key = `${maxQueryLength} ${extra.join(' ')}`;
  let gw = gateways.get(key);
  if (!gw) {
    gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--openapi', 'http', '--config', cfg.path, '--clickhouse-max-query-length', String(maxQueryLength), ...extra]);
    gateways.set(key, gw);
  }
  return gw;
}

beforeAll(async () => {
  await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
  await chQuery(`CREATE DATABASE ${DB}`);
  await chQuery(`CREATE VIEW ${DB}.v AS SELECT 1 AS one`);
  await chQuery(`CREATE TABLE ${DB}.t (x UInt8) ENGINE = Memory`);
  cfg = tempConfig(`server:\n  tools:\n    - { type: read, name: execute_query }\n    - { type: read, view_regexp: '${DB}\\.v' }\n`);
});

afterAll(async () => {
  for (const gw of gateways.values()) await gw.close();
  cfg?.cleanup();
  await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
});

describe('GET /openapi/execute_query (§E.1, §E.4)', () => {
  it('refuses a write with the execute_query text (400) and leaves the table', async () => {
    expectText(await get(await gateway(100), q(`DROP TABLE ${DB}.t`)), 400, READ_ONLY_TEXT);
    expect((await chQuery(`EXISTS TABLE ${DB}.t FORMAT TabSeparated`)).trim()).toBe('1');
  });

  it('checks the length first: 413, before the write guard and before any parser', async () => {
    const gw = await gateway(8);
    expectText(await get(gw, q('SELECT 123')), 413, 'query exceeds max length (10 bytes, limit 8)');
    expectText(await get(gw, q(`DROP TABLE ${DB}.t`)), 413, `query exceeds max length (${`DROP TABLE ${DB}.t`.length} bytes, limit 8)`);
    expect((await get(gw, q("SELECT 'unclosed"))).status).toBe(413);
    expect((await chQuery(`EXISTS TABLE ${DB}.t FORMAT TabSeparated`)).trim()).toBe('1');
  });

  it('runs SELECT 1 exactly at the limit and with the limit disabled', async () => {
    const body = '{"columns":["1"],"types":["UInt8"],"rows":[[1]],"count":1}\n';
    for (const limit of [8, -1]) {
      const res = await get(await gateway(limit), q('SELECT 1'));
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body });
    }
  });

  it('says in the schema that writes are always rejected', async () => {
    const res = await get(await gateway(0), '/openapi');
    expect(res.body).toContain('write statements are always rejected');
    expect(res.body).not.toContain('In read-only mode');
  });

  it('answers an empty or missing query with upstream\'s text', async () => {
    const gw = await gateway(0);
    expectText(await get(gw, '/openapi/execute_query'), 400, 'Query parameter is required');
    expectText(await get(gw, '/openapi/execute_query?query='), 400, 'Query parameter is required');
  });
});

describe('POST /openapi/<tool> body guard (§E.2, §E.4)', () => {
  const reaches = (res: RawResponse) => expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: '{"columns":["one"],"types":["UInt8"],"rows":[[1]],"count":1}\n' });

  it('lets bodies up to the limit reach ClickHouse', async () => {
    reaches(await post(await gateway(8), '{}'));
    reaches(await post(await gateway(7), '{"x":1}'));
    reaches(await post(await gateway(-1), '{"x":12}'));
  });

  it('answers 413 over the limit, with a known or unknown length, trailing spaces included', async () => {
    expectText(await post(await gateway(7), '{"x":12}'), 413, 'JSON body exceeds max length (limit 7)');
    expectText(await post(await gateway(7), '{"x":12}', true), 413, 'JSON body exceeds max length (limit 7)');
    expectText(await post(await gateway(8), `{}${' '.repeat(20)}`), 413, 'JSON body exceeds max length (limit 8)');
  });

  it('applies the 10 MiB default when max_query_length is 0', async () => {
    const gw = await gateway(0, ['--max-body-bytes', String(20 * 1024 * 1024)]);
    expectText(await post(gw, `{}${' '.repeat(10 * 1024 * 1024)}`), 413, `JSON body exceeds max length (limit ${10 * 1024 * 1024})`);
  });

  it('answers 400 Invalid JSON body for malformed JSON and trailing values, before the catalog', async () => {
    const gw = await gateway(8);
    expectText(await post(gw, '{} {}'), 400, 'Invalid JSON body');
    expectText(await post(gw, '{'), 400, 'Invalid JSON body');
    const unknown = await rawHttp(gw.url, { method: 'POST', path: '/openapi/no_such_tool', headers: { 'Content-Type': 'application/json' }, body: '{' });
    expectText(unknown, 400, 'Invalid JSON body');
  });
});

describe('cross-site browser requests', () => {
  it('refuses Sec-Fetch-Site cross-site/same-site without an allowed Origin (403); plain clients get 200', async () => {
    const gw = await gateway(0);
    const crossSite = await get(gw, q('SELECT 1'), { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'no-cors' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body).toMatch(/^Forbidden: cross-site browser request \(Sec-Fetch-Site: cross-site\) without an Origin header; add the page's origin to server\.allowed_origins/);
    const sameSite = await get(gw, q('SELECT 1'), { 'Sec-Fetch-Site': 'same-site', Origin: 'http://127.0.0.1:9' });
    expect(sameSite.status).toBe(403);
    expect((await post(gw, '{}', false, { 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403);
    expect((await get(gw, q('SELECT 1'))).status).toBe(200);
    expect((await get(gw, q('SELECT 1'), { 'Sec-Fetch-Site': 'same-origin' })).status).toBe(200);
    expect((await get(gw, q('SELECT 1'), { 'Sec-Fetch-Site': 'none' })).status).toBe(200);
  });

  it('lets an origin listed in server.allowed_origins through', async () => {
    const gw = await gateway(0, ['--allowed-origins', 'https://app.example']);
    expect((await get(gw, q('SELECT 1'), { 'Sec-Fetch-Site': 'cross-site', Origin: 'https://app.example' })).status).toBe(200);
    expect((await get(gw, q('SELECT 1'), { 'Sec-Fetch-Site': 'cross-site', Origin: 'https://evil.example' })).status).toBe(403);
  });
});
