import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';
import { errorText, MCP_POST_HEADERS, okJson, rawHttp, type RawResponse, rawToolCall, rpc, sseMessages } from './mcp-e2e-helpers.js';

/**
 * The streamable-HTTP endpoint at the wire, with raw requests: what a misbehaving or hostile client gets
 * (core.md §2.2, §2.5 and vectors 11–14). Every refusal is a 4xx with a JSON-RPC error body; nothing is a 500.
 */

let gw: TestGateway;
const statuses: number[] = [];

async function send(req: Parameters<typeof rawHttp>[1]): Promise<RawResponse> {
  const res = await rawHttp(gw.url, req);
  statuses.push(res.status);
  return res;
}

const PING = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });

function jsonError(res: RawResponse): { code: number; message: string } {
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(res.body) as { jsonrpc: string; error: { code: number; message: string } };
  expect(body.jsonrpc).toBe('2.0');
  return body.error;
}

beforeAll(async () => {
  gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--max-body-bytes', '2048']);
});

afterAll(async () => {
  await gw?.close();
  // Whatever was thrown at it, the gateway never answered with a server error.
  expect(statuses.filter((s) => s >= 500)).toEqual([]);
});

describe('JSON-RPC framing', () => {
  it('malformed JSON → 400 with a -32700 parse error', async () => {
    const res = await send({ headers: MCP_POST_HEADERS, body: '{"jsonrpc":"2.0", "id": 1, "method": ' });
    expect(res.status).toBe(400);
    expect(jsonError(res).code).toBe(-32700);
  });

  it('invalid UTF-8 → 400 -32700', async () => {
    const res = await send({ headers: MCP_POST_HEADERS, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) });
    expect(res.status).toBe(400);
    expect(jsonError(res).code).toBe(-32700);
  });

  it('a JSON-RPC batch → 400', async () => {
    const res = await send({ headers: MCP_POST_HEADERS, body: `[${PING}]` });
    expect(res.status).toBe(400);
    expect(jsonError(res)).toMatchObject({ code: -32600, message: expect.stringContaining('batch') });
  });

  it('envelopes that are not JSON-RPC 2.0 → 400 -32600', async () => {
    for (const body of ['"ping"', '42', 'null', '{"jsonrpc":"1.0","id":1,"method":"ping"}', '{"jsonrpc":"2.0","id":{},"method":"ping"}', '{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}', '{"jsonrpc":"2.0","id":1}']) {
      const res = await send({ headers: MCP_POST_HEADERS, body });
      expect(res.status, body).toBe(400);
      expect(jsonError(res).code, body).toBe(-32600);
    }
  });

  it('deeply nested JSON is refused, not a crash', async () => {
    const res = await send({ headers: MCP_POST_HEADERS, body: '['.repeat(1000) + ']'.repeat(1000) });
    expect(res.status).toBe(400);
  });

  it('a notification or a client response gets 202 and no body', async () => {
    const note = await send({ headers: MCP_POST_HEADERS, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    expect(note.status).toBe(202);
    expect(note.body).toBe('');
    const response = await send({ headers: MCP_POST_HEADERS, body: JSON.stringify({ jsonrpc: '2.0', id: 7, result: {} }) });
    expect(response.status).toBe(202);
  });

  it('an unknown method → JSON-RPC -32601', async () => {
    const res = await rpc(gw.url, 'tools/frobnicate', {});
    statuses.push(res.status);
    expect(res.status).toBe(200);
    expect(res.message.error).toMatchObject({ code: -32601 });
  });

  it('params of the wrong shape → -32602 with a readable message, not -32603 with a schema dump', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['tools/call', { name: 5 }, 'params.name'],
      ['tools/call', {}, 'params.name'],
      ['resources/read', { uri: 5 }, 'params.uri'],
      ['prompts/get', {}, 'params.name'],
      ['logging/setLevel', { level: 'verbose' }, 'params.level'],
    ];
    for (const [method, params, where] of cases) {
      const res = await rpc(gw.url, method, params);
      statuses.push(res.status);
      expect(res.message.error?.code, method).toBe(-32602);
      expect(res.message.error?.message, method).toMatch(new RegExp(`^Invalid params: ${where.replace('.', '\\.')}`));
      expect(res.message.error?.message).not.toContain('"code"');
    }
    expect((await rpc(gw.url, 'logging/setLevel', { level: 'debug' })).message.result).toEqual({});
  });

  it('wrong argument types are clean tool errors', async () => {
    for (const args of [{ query: 5 }, { query: null }, { query: { sql: 'SELECT 1' } }, { query: true }]) {
      const res = await rawToolCall(gw.url, 'execute_query', args);
      statuses.push(res.status);
      expect(errorText(res.message.result)).toBe('query parameter must be a non-empty string');
    }
    const res = await rawToolCall(gw.url, 'execute_query', 42);
    expect(errorText(res.message.result)).toMatch(/^failed to parse tool arguments: /);
    const none = await rawToolCall(gw.url, 'execute_query', undefined);
    expect(errorText(none.message.result)).toBe('query parameter is required');
  });
});

describe('HTTP rules of the endpoint', () => {
  it('GET / → 405 with Allow: POST (vector 12); other methods too', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      const res = await send({ method, headers: { Accept: 'application/json, text/event-stream' } });
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe('POST');
    }
  });

  it('Content-Type text/plain → 415 (vector 12)', async () => {
    const res = await send({ headers: { ...MCP_POST_HEADERS, 'Content-Type': 'text/plain' }, body: PING });
    expect(res.status).toBe(415);
    expect(jsonError(res).message).toContain('application/json');
    const none = await send({ headers: { Accept: MCP_POST_HEADERS.Accept! }, body: PING });
    expect(none.status).toBe(415);
  });

  it('a missing or partial Accept → 406', async () => {
    const missing = await send({ headers: { 'Content-Type': 'application/json' }, body: PING });
    expect(missing.status).toBe(406);
    expect(jsonError(missing).message).toContain('text/event-stream');
    const jsonOnly = await send({ headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: PING });
    expect(jsonOnly.status).toBe(406);
  });

  it('an unsupported MCP-Protocol-Version → 400; a supported one is served', async () => {
    const bad = await send({ headers: { ...MCP_POST_HEADERS, 'MCP-Protocol-Version': '1999-01-01' }, body: PING });
    expect(bad.status).toBe(400);
    expect(jsonError(bad).message).toContain('Unsupported protocol version');
    const good = await send({ headers: { ...MCP_POST_HEADERS, 'MCP-Protocol-Version': '2025-06-18' }, body: PING });
    expect(good.status).toBe(200);
    expect(sseMessages(good.body)[0]).toMatchObject({ id: 1, result: {} });
  });

  it('a body over --max-body-bytes → 413, declared or streamed', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query: `SELECT '${'x'.repeat(3000)}'` } } });
    const declared = await send({ headers: MCP_POST_HEADERS, body: big });
    expect(declared.status).toBe(413);
    expect(jsonError(declared).message).toContain('2048');
    const chunked = await send({ headers: { ...MCP_POST_HEADERS, 'Transfer-Encoding': 'chunked' }, body: big });
    expect(chunked.status).toBe(413);
    const fits = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute_query', arguments: { query: `SELECT '${'x'.repeat(1500)}' AS s` } } });
    const ok = await send({ headers: MCP_POST_HEADERS, body: fits });
    expect(ok.status).toBe(200);
    expect(okJson(sseMessages(ok.body)[0]!.result as object).rows[0][0]).toHaveLength(1500);
  });

  it('a foreign Host → 403 (DNS rebinding; bound to 127.0.0.1); loopback names are served', async () => {
    const port = new URL(gw.url).port;
    const evil = await send({ headers: { ...MCP_POST_HEADERS, Host: 'evil.example' }, body: PING });
    expect(evil.status).toBe(403);
    expect(jsonError(evil).message).toContain('evil.example');
    const evilPort = await send({ headers: { ...MCP_POST_HEADERS, Host: `evil.example:${port}` }, body: PING });
    expect(evilPort.status).toBe(403);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, 'localhost', `[::1]:${port}`]) {
      const res = await send({ headers: { ...MCP_POST_HEADERS, Host: host }, body: PING });
      expect(res.status, host).toBe(200);
    }
  });

  it('a foreign Origin → 403; a loopback Origin is served', async () => {
    const port = new URL(gw.url).port;
    const evil = await send({ headers: { ...MCP_POST_HEADERS, Origin: 'https://evil.example' }, body: PING });
    expect(evil.status).toBe(403);
    expect(jsonError(evil).message).toContain('evil.example');
    const garbage = await send({ headers: { ...MCP_POST_HEADERS, Origin: 'not a url' }, body: PING });
    expect(garbage.status).toBe(403);
    const local = await send({ headers: { ...MCP_POST_HEADERS, Origin: `http://localhost:${port}` }, body: PING });
    expect(local.status).toBe(200);
  });

  it('POST /whatever and POST /mcp behave like POST / (vector 13)', async () => {
    for (const path of ['/whatever', '/mcp', '/a/b/c', '/whatever/']) {
      const list = await rpc(gw.url, 'tools/list', {}, { path });
      statuses.push(list.status);
      expect(list.message.result.tools.map((t: { name: string }) => t.name), path).toEqual(['execute_query', 'write_query']);
    }
    const call = await rpc(gw.url, 'tools/call', { name: 'execute_query', arguments: { query: 'SELECT 1 AS x' } }, { path: '/whatever' });
    expect(okJson(call.message.result).rows).toEqual([[1]]);
    const get = await send({ method: 'GET', path: '/whatever' });
    expect(get.status).toBe(405);
  });

  it('OPTIONS → CORS preflight (vector 11)', async () => {
    const withHeaders = await send({ method: 'OPTIONS', headers: { 'Access-Control-Request-Headers': 'Content-Type, Authorization', Origin: 'https://app.example' } });
    expect(withHeaders.status).toBe(200);
    expect(withHeaders.body).toBe('');
    expect(withHeaders.headers['access-control-allow-origin']).toBe('*');
    expect(withHeaders.headers['access-control-allow-methods']).toBe('GET, POST, PUT, DELETE, OPTIONS');
    expect(withHeaders.headers['access-control-allow-headers']).toBe('Content-Type, Authorization');
    expect(withHeaders.headers['access-control-max-age']).toBe('86400');
    const plain = await send({ method: 'OPTIONS', path: '/anything' });
    expect(plain.status).toBe(200);
    expect(plain.headers['access-control-allow-headers']).toBe(
      'Content-Type, Authorization, X-Altinity-MCP-Key, Mcp-Protocol-Version, Mcp-Method, Referer, User-Agent',
    );
    // Every answer carries the allow-origin header.
    const answer = await send({ headers: MCP_POST_HEADERS, body: PING });
    expect(answer.headers['access-control-allow-origin']).toBe('*');
  });

  it('answers initialize as an event stream without a session id (vector 14)', async () => {
    const res = await rpc(gw.url, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'wire', version: '1' } });
    statuses.push(res.status);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers['mcp-session-id']).toBeUndefined();
    expect(res.message.result).toMatchObject({ protocolVersion: '2025-06-18', serverInfo: { name: 'Altinity ClickHouse MCP Server' } });
  });
});
