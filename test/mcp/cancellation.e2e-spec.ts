import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';
import { MCP_POST_HEADERS, okJson, rawHttp, runningQueries, waitFor } from './mcp-e2e-helpers.js';

/**
 * A caller that gives up takes its ClickHouse query with it. ClickHouse 18.16 keeps running a query whose HTTP
 * connection closed, so the gateway must KILL it; these tests watch `system.processes` on the real server.
 *
 * The ~10 s query is `sleepEachRow(0.5)` over 20 one-row blocks (sleep() is capped at 3 s per block on 18.16);
 * the block size comes through the tool's `settings` argument (allowlisted below), so the per-request settings
 * path is exercised too.
 */

let gw: TestGateway;
let client: Client;

const tag = () => `mcpe2e_cancel_${randomUUID().slice(0, 8)}`;
const slowArgs = (t: string) => ({
  query: `SELECT sleepEachRow(0.5) AS s, '${t}' AS tag FROM system.numbers LIMIT 20`,
  settings: { max_block_size: '1' },
});

beforeAll(async () => {
  gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--tool-input-settings', 'max_block_size']);
  client = await connectClient(gw.url);
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await gw?.close();
});

describe('cancellation', () => {
  it('an SDK client that aborts the call (notifications/cancelled) ends the query on ClickHouse', async () => {
    const t = tag();
    const abort = new AbortController();
    const started = Date.now();
    const call = client.callTool({ name: 'execute_query', arguments: slowArgs(t) }, undefined, { signal: abort.signal, timeout: 30_000 });
    const settled = call.then(
      () => 'resolved',
      (err: Error) => err.message,
    );
    await waitFor(async () => (await runningQueries(t)) === 1, 3_000, 'the slow query to start');
    await new Promise((r) => setTimeout(r, 200));
    abort.abort('user pressed stop');
    expect(await settled).toMatch(/stop|abort|cancel/i);
    const gone = await waitFor(async () => (await runningQueries(t)) === 0, 3_000, 'the query to leave system.processes');
    expect(Date.now() - started).toBeLessThan(6_000); // far from the 10 s the query would take
    expect(gone).toBeLessThan(3_000);
  });

  it('a raw HTTP client that disconnects ends the query on ClickHouse', async () => {
    const t = tag();
    const abort = new AbortController();
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: slowArgs(t) } });
    const pending = rawHttp(gw.url, { headers: MCP_POST_HEADERS, body, signal: abort.signal }).then(
      () => 'answered',
      (err: Error) => err.name,
    );
    await waitFor(async () => (await runningQueries(t)) === 1, 3_000, 'the slow query to start');
    await new Promise((r) => setTimeout(r, 200));
    abort.abort();
    expect(await pending).toBe('AbortError');
    await waitFor(async () => (await runningQueries(t)) === 0, 3_000, 'the query to leave system.processes');
  });

  it('a request whose client vanished is fully released: its id can be cancelled again later', async () => {
    const start = (t: string, signal?: AbortSignal) =>
      rawHttp(gw.url, {
        headers: MCP_POST_HEADERS,
        body: JSON.stringify({ jsonrpc: '2.0', id: 'same-id', method: 'tools/call', params: { name: 'execute_query', arguments: slowArgs(t) } }),
        signal,
      }).catch((err: Error) => err);
    const first = tag();
    const abort = new AbortController();
    const gone = start(first, abort.signal);
    await waitFor(async () => (await runningQueries(first)) === 1, 3_000, 'the first query to start');
    abort.abort();
    await gone;
    await waitFor(async () => (await runningQueries(first)) === 0, 3_000, 'the first query to end');
    await new Promise((r) => setTimeout(r, 200));

    const second = tag();
    const answer = start(second);
    await waitFor(async () => (await runningQueries(second)) === 1, 3_000, 'the second query to start');
    const cancel = await rawHttp(gw.url, {
      headers: MCP_POST_HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'same-id' } }),
    });
    expect(cancel.status).toBe(202);
    await waitFor(async () => (await runningQueries(second)) === 0, 3_000, 'the second query to be cancelled');
    const res = await answer;
    expect(res).not.toBeInstanceOf(Error);
    expect((res as { body: string }).body).toMatch(/"isError":true/);
  });

  it('a cancellation for a request id that is not running changes nothing', async () => {
    const res = await rawHttp(gw.url, {
      headers: MCP_POST_HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 987654, reason: 'nothing' } }),
    });
    expect(res.status).toBe(202);
    expect(okJson(await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1 AS x' } })).rows).toEqual([[1]]);
  });

  it('after cancellations the gateway still answers, and a short query runs to its end', async () => {
    const result = await client.callTool({
      name: 'execute_query',
      arguments: { query: 'SELECT sleepEachRow(0.1) AS s FROM system.numbers LIMIT 3', settings: { max_block_size: '1' } },
    });
    expect(okJson(result).count).toBe(3);
  });
});
