import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, firstJson, startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';

describe('MCP over streamable HTTP (smoke)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(TEST_CLICKHOUSE_FLAGS);
  });
  afterAll(async () => gw?.close());

  it('initializes, lists tools and runs SELECT 1', async () => {
    const client = await connectClient(gw.url);
    expect(client.getServerVersion()?.name).toBe('Altinity ClickHouse MCP Server');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['execute_query', 'write_query']);
    const result = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1 AS x' } });
    expect(result.isError).toBeFalsy();
    expect(firstJson(result)).toEqual({ columns: ['x'], types: ['UInt8'], rows: [[1]], count: 1 });
    await client.close();
  });
});
