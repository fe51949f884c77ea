import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MCP_POST_HEADERS, rawHttp, runningQueries, waitFor } from '../mcp/mcp-e2e-helpers.js';
import { startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';

/**
 * Behind a reverse proxy every request arrives from the proxy's socket address. `notifications/cancelled`
 * from an anonymous client must be matched by the proxy-aware client address (the one the rate limiter uses,
 * `server.rate_limit.proxy_hops`), or any client behind the same proxy could cancel another's call by
 * guessing its JSON-RPC id. Watched on the real ClickHouse 18.16 through `system.processes`.
 */
describe('notifications/cancelled is matched by the proxy-aware client address', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--tool-input-settings', 'max_block_size', '--rate-limit-proxy-hops', '1']);
  });
  afterAll(async () => {
    await gw?.close();
  });

  const post = (forwardedFor: string, message: object) =>
    rawHttp(gw.url, { headers: { ...MCP_POST_HEADERS, 'X-Forwarded-For': forwardedFor }, body: JSON.stringify({ jsonrpc: '2.0', ...message }) });

  it('another client behind the same proxy cannot cancel the call; the caller itself can', async () => {
    const tag = `h3_cancel_xff_${randomUUID().slice(0, 8)}`;
    const call = post('198.51.100.10', {
      id: 7,
      method: 'tools/call',
      params: {
        name: 'execute_query',
        arguments: { query: `SELECT sleepEachRow(0.5) AS s, '${tag}' AS tag FROM system.numbers LIMIT 20`, settings: { max_block_size: '1' } },
      },
    });
    await waitFor(async () => (await runningQueries(tag)) === 1, 3_000, 'the slow query to start');

    // same socket address (127.0.0.1), same static identity, same id — but another client per X-Forwarded-For
    const stranger = await post('198.51.100.99', { method: 'notifications/cancelled', params: { requestId: 7 } });
    expect(stranger.status).toBe(202);
    await new Promise((r) => setTimeout(r, 700));
    expect(await runningQueries(tag)).toBe(1);

    // a client-prepended entry does not help: the trusted hop is the rightmost one
    await post('198.51.100.10, 198.51.100.99', { method: 'notifications/cancelled', params: { requestId: 7 } });
    await new Promise((r) => setTimeout(r, 500));
    expect(await runningQueries(tag)).toBe(1);

    const owner = await post('203.0.113.5, 198.51.100.10', { method: 'notifications/cancelled', params: { requestId: 7 } });
    expect(owner.status).toBe(202);
    await waitFor(async () => (await runningQueries(tag)) === 0, 3_000, 'the query to be cancelled');
    const answer = await call;
    expect(answer.body).toMatch(/"isError":true/);
  });
});
