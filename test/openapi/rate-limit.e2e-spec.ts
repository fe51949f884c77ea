import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MCP_POST_HEADERS, rawHttp, type RawResponse, rpc } from '../mcp/mcp-e2e-helpers.js';
import { startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';

/** `server.rate_limit.*` (ours): one sliding one-minute budget per client over the MCP and OpenAPI routes. */
const toolsList = (gw: TestGateway, path = '/', headers: Record<string, string> = {}) => rpc(gw.url, 'tools/list', {}, { path, headers });
const get = (gw: TestGateway, path: string, headers: Record<string, string> = {}): Promise<RawResponse> => rawHttp(gw.url, { method: 'GET', path, headers });

describe('rate limit: 5 requests per minute', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--openapi', 'http', '--rate-limit-requests-per-minute', '5']);
  });
  afterAll(async () => gw?.close());

  it('lets 5 requests through, answers the 6th with 429, and never limits probes or /metrics', async () => {
    // One budget across MCP (any path) and OpenAPI.
    const first = await toolsList(gw);
    expect(first.status).toBe(200);
    expect(first.headers['x-ratelimit-limit']).toBe('5');
    expect(first.headers['x-ratelimit-remaining']).toBe('4');
    expect((await toolsList(gw, '/mcp')).status).toBe(200);
    expect((await get(gw, '/openapi')).status).toBe(200);
    expect((await get(gw, '/openapi/execute_query?query=SELECT%201')).status).toBe(200);
    expect((await toolsList(gw)).status).toBe(200);

    const sixth = await rawHttp(gw.url, { path: '/', headers: MCP_POST_HEADERS, body: JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'tools/list' }) });
    expect(sixth.status).toBe(429);
    const retryAfter = Number(sixth.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(sixth.headers['content-type']).toBe('application/json');
    const body = JSON.parse(sixth.body);
    expect(body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000 } });
    expect(body.error.message).toMatch(/^Too Many Requests: more than 5 requests per minute from this client; retry after \d+ s$/);

    // OpenAPI answers in its plain-text error style.
    const openapi = await get(gw, '/openapi/execute_query?query=SELECT%201');
    expect(openapi.status).toBe(429);
    expect(openapi.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(openapi.headers['retry-after']).toBeDefined();
    expect(openapi.body).toMatch(/^Too Many Requests: .*\n$/);

    for (let i = 0; i < 3; i++) {
      for (const path of ['/health', '/livez', '/readyz', '/metrics']) {
        const res = await get(gw, path);
        expect(res.status, path).toBe(200);
        expect(res.headers['x-ratelimit-limit'], path).toBeUndefined();
      }
    }
    // CORS preflights are answered before any guard.
    expect((await rawHttp(gw.url, { method: 'OPTIONS', path: '/' })).status).toBe(200);
  });
});

describe('rate limit behind one reverse proxy (proxy_hops 1)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--rate-limit-requests-per-minute', '2', '--rate-limit-proxy-hops', '1']);
  });
  afterAll(async () => gw?.close());

  it('keys clients by the X-Forwarded-For entry the proxy appended', async () => {
    const as = (xff: string) => toolsList(gw, '/', { 'X-Forwarded-For': xff }).then((r) => r.status);
    expect(await as('10.0.0.1')).toBe(200);
    expect(await as('10.0.0.1')).toBe(200);
    expect(await as('10.0.0.1')).toBe(429);
    // A client-supplied entry further left does not buy a new budget.
    expect(await as('203.0.113.9, 10.0.0.1')).toBe(429);
    expect(await as('10.0.0.2')).toBe(200);
  });
});

describe('rate limit off (default)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(TEST_CLICKHOUSE_FLAGS);
  });
  afterAll(async () => gw?.close());

  it('never limits and sends no rate-limit headers', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await toolsList(gw);
      expect(res.status).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    }
  });
});
