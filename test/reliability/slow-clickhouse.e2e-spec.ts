import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import { ShutdownState } from '../../src/common/shutdown/shutdown.state.js';
import { metricValue, parseMetrics } from '../ops/ops-helpers.js';
import { PrivateClickHouse } from '../setup/clickhouse-server.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import {
  connectMcp,
  fetchToolCall,
  pollUntil,
  resultText,
  runningWithMarker,
  sleep,
  tenSecondQuery,
  withTimeout,
} from './reliability-helpers.js';

/** Own ClickHouse: these tests run ~10 s queries and freeze the server (SIGSTOP). */
const CH_PORT = 18141;

describe('slow ClickHouse and callers that give up', () => {
  const ch = new PrivateClickHouse(CH_PORT);
  const chFlags = ['--clickhouse-host', '127.0.0.1', '--clickhouse-port', String(CH_PORT)];
  /** max_execution_time 2 s (client-side deadline 4 s). */
  let capped: TestGateway;
  /** Default max_execution_time (600 s): only the caller's abort can end its query early. */
  let uncapped: TestGateway;
  let client: Client;

  beforeAll(async () => {
    ch.start();
    capped = await startGateway([...chFlags, '--clickhouse-max-execution-time', '2']);
    uncapped = await startGateway(chFlags);
    client = await connectMcp(capped.url, 'slow');
  }, 90_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await capped?.close();
    await uncapped?.close();
    ch.destroy();
  });

  it('a ~10 s query with --clickhouse-max-execution-time 2 → timeout tool error within ~4 s, and the query is gone from system.processes', async () => {
    const marker = `rel_slow_${Date.now()}`;
    const started = performance.now();
    const pending = withTimeout(
      client.callTool({ name: 'execute_query', arguments: { query: tenSecondQuery(marker) } }, undefined, { timeout: 15_000 }),
      16_000,
      'slow call',
    );
    // It does reach ClickHouse (so "gone" below means something).
    let seenRunning = false;
    const watcher = pollUntil(async () => (seenRunning = (await runningWithMarker(marker, ch.url)) > 0), 1_900, 'the query running', 50).catch(() => undefined);
    const result = await pending;
    const elapsed = performance.now() - started;
    await watcher;
    expect(seenRunning).toBe(true);
    expect(result.isError).toBe(true);
    const text = resultText(result);
    expect(text).toMatch(/^Query execution failed: failed to execute query: .*(max_execution_time of 2 s|TIMEOUT_EXCEEDED)/);
    expect(elapsed).toBeLessThan(4_500);
    const goneMs = await pollUntil(async () => (await runningWithMarker(marker, ch.url)) === 0, 3_000, 'the query gone from system.processes');
    console.info(`slow: timeout answer after ${Math.round(elapsed)} ms ("${text.slice(0, 120)}"); query gone ${goneMs} ms later`);
    expect(capped.app.get(ClickHouseService).inFlightCount).toBe(0);
  }, 30_000);

  it('a frozen ClickHouse (SIGSTOP: connections accepted, never answered) → timeout tool error by the client-side deadline, no hang', async () => {
    // Warm the pool so the call rides on an established keep-alive socket, like a real running service.
    expect((await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1' } })).isError).toBeFalsy();
    const pid = Number(readFileSync(`${ch.dir}/server.pid`, 'utf8').trim());
    process.kill(pid, 'SIGSTOP');
    let elapsed: number;
    let text: string;
    let isError: boolean | undefined;
    try {
      const started = performance.now();
      const result = await withTimeout(
        client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 42 AS frozen' } }, undefined, { timeout: 15_000 }),
        16_000,
        'call to a frozen ClickHouse',
      );
      elapsed = performance.now() - started;
      text = resultText(result);
      isError = result.isError === true;
      // Readiness notices as well, liveness does not care.
      expect((await fetch(`${capped.url}readyz`)).status).toBe(503);
      expect((await fetch(`${capped.url}livez`)).status).toBe(200);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    console.info(`frozen: answer after ${Math.round(elapsed)} ms ("${text.slice(0, 120)}")`);
    expect(isError).toBe(true);
    expect(text).toMatch(/max_execution_time of 2 s|timed out/);
    // deadline = 2 s + max(2 s, 5 %) = 4 s
    expect(elapsed).toBeGreaterThan(3_500);
    expect(elapsed).toBeLessThan(6_000);
    await pollUntil(async () => (await fetch(`${capped.url}readyz`)).status === 200, 10_000, 'ready again after SIGCONT', 100);
    expect((await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1' } })).isError).toBeFalsy();
  }, 40_000);

  it('a client that aborts its HTTP request mid-query → the query is killed on ClickHouse within ~3 s', async () => {
    const marker = `rel_abort_${Date.now()}`;
    const cancelledBefore = metricValue(parseMetrics(await (await fetch(`${uncapped.url}metrics`)).text()), 'mcp_tool_calls_total', { outcome: 'cancelled' });
    const abort = new AbortController();
    const pending = fetchToolCall(uncapped.url, 'execute_query', { query: tenSecondQuery(marker) }, { signal: abort.signal }).then(
      () => 'answered',
      (err: Error) => err.name,
    );
    await pollUntil(async () => (await runningWithMarker(marker, ch.url)) > 0, 5_000, 'the query running in ClickHouse');
    await sleep(300);
    const abortedAt = performance.now();
    abort.abort();
    expect(await withTimeout(pending, 2_000, 'aborted fetch')).toBe('AbortError');
    const goneMs = await pollUntil(async () => (await runningWithMarker(marker, ch.url)) === 0, 3_000, 'the query killed', 50);
    console.info(`abort: query gone ${Math.round(performance.now() - abortedAt)} ms after the client aborted (poll ${goneMs} ms)`);

    // The gateway let go of everything and still serves.
    await pollUntil(() => uncapped.app.get(ClickHouseService).inFlightCount === 0, 2_000, 'no query in flight in the gateway');
    await pollUntil(() => uncapped.app.get(ShutdownState).inFlightRequests === 0, 2_000, 'no request in flight');
    const after = await fetchToolCall(uncapped.url, 'execute_query', { query: 'SELECT 7 AS n' });
    expect(after.status).toBe(200);
    expect(after.answer?.result?.isError).toBeFalsy();
    await pollUntil(
      async () =>
        metricValue(parseMetrics(await (await fetch(`${uncapped.url}metrics`)).text()), 'mcp_tool_calls_total', { outcome: 'cancelled' }) === cancelledBefore + 1,
      2_000,
      'the call counted as cancelled',
    );
  }, 30_000);
});
