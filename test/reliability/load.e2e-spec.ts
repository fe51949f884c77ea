import { performance } from 'node:perf_hooks';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import { ShutdownState } from '../../src/common/shutdown/shutdown.state.js';
import { metricValue, parseMetrics } from '../ops/ops-helpers.js';
import { startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';
import { connectMcp, exposeGc, pollUntil, resultText, runPool, settledMemory, withTimeout } from './reliability-helpers.js';

const CLIENTS = 32;
const CALLS = 5_000;
const WARMUP_CALLS = 400;
/** Per-call limit: a call that has not answered by then counts as hung. */
const CALL_TIMEOUT_MS = 15_000;
/** The whole run must end well within this (it normally takes 10–25 s on 2 busy cores). */
const RUN_DEADLINE_MS = 120_000;
const MB = 1024 * 1024;

interface Outcome {
  ok: boolean;
  ms: number;
  problem?: string;
}

describe('load: 5,000 execute_query calls at concurrency 32 over stateless streamable HTTP', () => {
  let gw: TestGateway;
  let clients: Client[] = [];

  beforeAll(async () => {
    gw = await startGateway(TEST_CLICKHOUSE_FLAGS);
    clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => connectMcp(gw.url, `load-${i}`)));
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await gw?.close();
  });

  /** One call whose answer must carry its own number back (no cross-talk between concurrent requests). */
  async function call(client: Client, n: number): Promise<Outcome> {
    const started = performance.now();
    try {
      const result = await withTimeout(
        client.callTool({ name: 'execute_query', arguments: { query: `SELECT ${n} AS n, 'load' AS tag` } }, undefined, { timeout: CALL_TIMEOUT_MS }),
        CALL_TIMEOUT_MS + 2_000,
        `call ${n}`,
      );
      const ms = performance.now() - started;
      if (result.isError) return { ok: false, ms, problem: `tool error: ${resultText(result).slice(0, 200)}` };
      const body = JSON.parse(resultText(result)) as { rows: unknown[][] };
      if (body.rows.length !== 1 || Number(body.rows[0]![0]) !== n || body.rows[0]![1] !== 'load') {
        return { ok: false, ms, problem: `wrong answer for ${n}: ${resultText(result).slice(0, 200)}` };
      }
      return { ok: true, ms };
    } catch (err) {
      return { ok: false, ms: performance.now() - started, problem: `threw: ${(err as Error).message.slice(0, 200)}` };
    }
  }

  async function burst(total: number, offset: number): Promise<{ outcomes: Outcome[]; ran: number; wallMs: number }> {
    const outcomes: Outcome[] = [];
    const started = performance.now();
    const ran = await runPool(total, CLIENTS, RUN_DEADLINE_MS, async (i, lane) => {
      outcomes.push(await call(clients[lane]!, offset + i));
    });
    return { outcomes, ran, wallMs: performance.now() - started };
  }

  it('answers every call correctly, none hangs, memory and in-flight state return to baseline', async () => {
    const gc = exposeGc();
    const warm = await burst(WARMUP_CALLS, 1_000_000);
    expect(warm.outcomes.filter((o) => !o.ok).map((o) => o.problem)).toEqual([]);
    const before = await settledMemory(gc);

    const run = await burst(CALLS, 0);
    const failures = run.outcomes.filter((o) => !o.ok);
    const latencies = run.outcomes.map((o) => o.ms).sort((a, b) => a - b);
    const pct = (p: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!);
    console.info(
      `load: ${run.ran} calls in ${Math.round(run.wallMs)} ms (${Math.round((run.ran * 1000) / run.wallMs)}/s), ` +
        `p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${Math.round(latencies[latencies.length - 1] ?? 0)} ms, failures ${failures.length}`,
    );

    expect(run.ran).toBe(CALLS);
    expect(run.outcomes).toHaveLength(CALLS);
    expect(failures.slice(0, 5).map((f) => f.problem)).toEqual([]);
    expect(latencies[latencies.length - 1]).toBeLessThan(CALL_TIMEOUT_MS);

    // Nothing left behind: no request, query or extra connection outlives the burst.
    const state = gw.app.get(ShutdownState);
    await pollUntil(() => state.inFlightRequests === 0, 5_000, 'no HTTP request in flight');
    expect(gw.app.get(ClickHouseService).inFlightCount).toBe(0);
    const connections = await new Promise<number>((resolve, reject) =>
      gw.app.getHttpServer().getConnections((err: Error | null, n: number) => (err ? reject(err) : resolve(n))),
    );
    expect(connections).toBeLessThanOrEqual(CLIENTS * 2);

    const after = await settledMemory(gc);
    const heapGrowth = (after.heapUsed - before.heapUsed) / MB;
    const rssGrowth = (after.rss - before.rss) / MB;
    console.info(
      `memory (${gc ? 'after GC' : 'no GC available'}): heapUsed ${Math.round(before.heapUsed / MB)} → ${Math.round(after.heapUsed / MB)} MB, ` +
        `rss ${Math.round(before.rss / MB)} → ${Math.round(after.rss / MB)} MB`,
    );
    // The gateway, its clients and the test share one process, so the bounds are generous; a per-request leak
    // of even 10 KB would add ~50 MB of heap over 5,000 calls.
    expect(heapGrowth).toBeLessThan(gc ? 40 : 120);
    expect(rssGrowth).toBeLessThan(300);

    // Every call is counted once, as a success.
    const metrics = parseMetrics(await (await fetch(`${gw.url}metrics`)).text());
    expect(metricValue(metrics, 'mcp_tool_calls_total', { tool: 'execute_query', outcome: 'ok' })).toBe(CALLS + WARMUP_CALLS);
    expect(metricValue(metrics, 'mcp_tool_calls_total', { tool: 'execute_query', outcome: 'error' })).toBe(0);
  }, 180_000);
});
