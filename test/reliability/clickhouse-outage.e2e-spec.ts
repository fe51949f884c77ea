import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import { metricValue, parseMetrics } from '../ops/ops-helpers.js';
import { PrivateClickHouse } from '../setup/clickhouse-server.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { connectMcp, pollUntil, resultText, runningWithMarker, shortSleepQuery, sleep, withTimeout } from './reliability-helpers.js';

/** A ClickHouse of this file's own: it is SIGKILLed, so the shared server on 18123 stays up for other files. */
const CH_PORT = 18140;
const LANES = 8;
const CALL_TIMEOUT_MS = 10_000;
/** "A few seconds": the longest any call may take to answer while ClickHouse is dead. */
const ANSWER_BOUND_MS = 5_000;
const UNREACHABLE = /cannot reach ClickHouse/;

interface CallRecord {
  lane: number;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  isError: boolean;
  text: string;
  /** Set when the call did not end with an MCP answer (HTTP error, reset, hang). */
  thrown?: string;
}

describe('ClickHouse SIGKILLed under load, then restarted', () => {
  const ch = new PrivateClickHouse(CH_PORT);
  let gw: TestGateway;
  let clients: Client[] = [];

  beforeAll(async () => {
    ch.start();
    gw = await startGateway(['--clickhouse-host', '127.0.0.1', '--clickhouse-port', String(CH_PORT)]);
    clients = await Promise.all(Array.from({ length: LANES }, (_, i) => connectMcp(gw.url, `outage-${i}`)));
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await gw?.close();
    ch.destroy();
  });

  async function call(client: Client, lane: number, query: string): Promise<CallRecord> {
    const startedAt = performance.now();
    try {
      const result = await withTimeout(
        client.callTool({ name: 'execute_query', arguments: { query } }, undefined, { timeout: CALL_TIMEOUT_MS }),
        CALL_TIMEOUT_MS + 2_000,
        'tools/call',
      );
      return { lane, startedAt, endedAt: performance.now(), ok: !result.isError, isError: result.isError === true, text: resultText(result) };
    } catch (err) {
      return { lane, startedAt, endedAt: performance.now(), ok: false, isError: false, text: '', thrown: (err as Error).message };
    }
  }

  const metrics = async () => parseMetrics(await (await fetch(`${gw.url}metrics`)).text());
  const status = async (path: string) => (await fetch(`${gw.url}${path}`)).status;

  it('every call answers within seconds with a clean tool error; readiness flips, liveness holds, errors are counted; recovery needs no gateway restart', async () => {
    const marker = `rel_outage_${Date.now()}`;
    const errorsBefore = metricValue(await metrics(), 'clickhouse_query_errors_total', { kind: 'unreachable' });
    expect(await status('readyz')).toBe(200);

    // Load: 8 lanes; every 4th call is a ~0.5 s query so some are running inside ClickHouse at the kill.
    const records: CallRecord[] = [];
    let stop = false;
    const loadDeadline = performance.now() + 30_000;
    const lanes = clients.map(async (client, lane) => {
      for (let i = 0; i < 2_000 && !stop && performance.now() < loadDeadline; i++) {
        const query = i % 4 === lane % 4 ? shortSleepQuery(marker, 0.5) : `SELECT ${i} AS n`;
        const rec = await call(client, lane, query);
        records.push(rec);
        if (!rec.ok) await sleep(20); // no busy loop against a dead server
      }
    });

    // Liveness and readiness sampled all along.
    const probes: Array<{ at: number; livez: number; readyz: number }> = [];
    const prober = (async () => {
      for (let i = 0; i < 400 && !stop && performance.now() < loadDeadline; i++) {
        const [livez, readyz] = await Promise.all([status('livez'), status('readyz')]);
        probes.push({ at: performance.now(), livez, readyz });
        await sleep(100);
      }
    })();

    await pollUntil(() => records.filter((r) => r.ok).length >= 100, 15_000, '100 successful calls before the kill');
    await pollUntil(async () => (await runningWithMarker(marker, ch.url)) > 0, 5_000, 'a query running in ClickHouse');

    const pid = Number(readFileSync(`${ch.dir}/server.pid`, 'utf8').trim());
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    // Measured from the kill signal (the process may linger as a zombie for a while; its sockets are gone at once).
    await pollUntil(async () => (await status('readyz')) === 503, 5_000, '/readyz 503', 25);
    const readyFlipMs = performance.now() - killedAt;
    await pollUntil(
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      10_000,
      'ClickHouse process gone',
      20,
    );
    await sleep(3_000); // keep the load on a dead ClickHouse
    stop = true;
    await Promise.all([...lanes, prober]);
    ch.kill(); // the process is gone already; this clears the pid file
    console.info(`outage: /readyz 503 ${Math.round(readyFlipMs)} ms after SIGKILL; ${records.length} calls`);

    // No call hung, reset, or got an HTTP error: each ended with an MCP result.
    expect(records.filter((r) => r.thrown).map((r) => r.thrown)).toEqual([]);
    const slowest = Math.max(...records.map((r) => r.endedAt - r.startedAt));
    expect(slowest).toBeLessThan(ANSWER_BOUND_MS);

    // Calls that overlapped the kill or came after it: clean "unreachable" tool errors (or results that made it).
    const affected = records.filter((r) => r.endedAt >= killedAt);
    const afterKill = records.filter((r) => r.startedAt >= killedAt + 250);
    expect(afterKill.length).toBeGreaterThan(20);
    for (const r of afterKill) {
      expect(r.isError, `a call after the kill: ${r.text}`).toBe(true);
      expect(r.text).toMatch(UNREACHABLE);
    }
    for (const r of affected.filter((x) => x.isError)) {
      expect(r.text).toMatch(/^Query execution failed: failed to execute query: cannot reach ClickHouse at 127\.0\.0\.1:18140: /);
      expect(r.text).not.toMatch(/\n\s+at |node_modules/);
    }
    const errorCalls = affected.filter((r) => r.isError).length;

    // Readiness within 2 s; liveness never wavered.
    expect(readyFlipMs).toBeLessThan(2_000);
    expect(probes.filter((p) => p.livez !== 200)).toEqual([]);
    expect(await status('livez')).toBe(200);

    // Every failed call shows up in the ClickHouse error counter (readiness pings add more).
    const during = await metrics();
    expect(metricValue(during, 'clickhouse_query_errors_total', { kind: 'unreachable' }) - errorsBefore).toBeGreaterThanOrEqual(errorCalls);
    expect(metricValue(during, 'mcp_tool_calls_total', { tool: 'execute_query', outcome: 'error' })).toBeGreaterThanOrEqual(errorCalls);
    expect(metricValue(during, 'clickhouse_up')).toBe(0);

    // Back up: the same gateway (same pooled clients, stale keep-alive sockets) serves again.
    ch.start();
    const restartedAt = performance.now();
    await pollUntil(async () => (await call(clients[0]!, 0, 'SELECT 1')).ok, 15_000, 'a successful call after the restart', 100);
    const recoveryMs = performance.now() - restartedAt;
    const again = await Promise.all(clients.flatMap((c, lane) => [0, 1, 2, 3, 4].map((i) => call(c, lane, `SELECT ${lane * 10 + i} AS n`))));
    expect(again.filter((r) => !r.ok).map((r) => r.thrown ?? r.text)).toEqual([]);
    await pollUntil(async () => (await status('readyz')) === 200, 5_000, '/readyz 200 again');
    expect(gw.app.get(ClickHouseService).inFlightCount).toBe(0);
    console.info(`outage: first success ${Math.round(recoveryMs)} ms after ClickHouse was back`);
  }, 90_000);
});
