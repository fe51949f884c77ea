import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';
import { okJson } from './mcp-e2e-helpers.js';

/**
 * One huge value through the whole gateway (MCP client → execute_query → ClickHouse 18.16): the default
 * `max_result_bytes` (50 000) holds even inside one row, so the answer is the truncation marker plus the notice
 * telling the model how to narrow its query, and the gateway never holds the 60 MB value.
 */
// 18.16 has no repeat(): 600 000 × 100 characters built on the server.
const BIG_ROW = `SELECT arrayStringConcat(arrayMap(x -> '${'a'.repeat(100)}', range(600000))) AS big`;

describe('a 60 MB single-row result through MCP', () => {
  let gw: TestGateway;
  let client: Client;
  beforeAll(async () => {
    gw = await startGateway(TEST_CLICKHOUSE_FLAGS);
    client = await connectClient(gw.url);
    // warm the path (first-call costs such as the SQL parser are not result memory)
    okJson(await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1' } }));
  });
  afterAll(async () => {
    await client?.close();
    await gw?.close();
  });

  it('is cut at the byte cap with the notice, and the gateway process grows < 20 MB', async () => {
    await new Promise((r) => setTimeout(r, 50));
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    let result: Awaited<ReturnType<Client['callTool']>>;
    try {
      result = await client.callTool({ name: 'execute_query', arguments: { query: BIG_ROW } });
    } finally {
      clearInterval(sampler);
    }
    const growthMb = (Math.max(peak, process.memoryUsage().rss) - base) / 1024 / 1024;
    const body = okJson(result);
    expect(body).toMatchObject({ columns: ['big'], rows: null, count: 0 });
    expect(body.truncated).toMatchObject({ reason: 'max_result_bytes', limit: 50_000 });
    const blocks = result.content as Array<{ type: string; text: string }>;
    expect(blocks).toHaveLength(2);
    expect(blocks[1]!.text).toMatch(/^⚠️ Result truncated at the server-configured cap of ~50000 bytes \(returned ~0 bytes in 0 rows\)/);
    expect(growthMb).toBeLessThan(20);
  });
});
