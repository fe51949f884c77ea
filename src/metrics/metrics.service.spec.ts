import { describe, expect, it } from 'vitest';
import type { ClickHouseService } from '../clickhouse/clickhouse.service.js';
import type { QueryEvent, QueryListener } from '../clickhouse/clickhouse.types.js';
import { RequestObservers } from '../common/http/request-observers.js';
import { ShutdownState } from '../common/shutdown/shutdown.state.js';
import { parseArgs } from '../config/config.cli.js';
import { loadConfig } from '../config/config.loader.js';
import { ConfigStore } from '../config/config.store.js';
import { MetricsService } from './metrics.service.js';

function build() {
  const listeners: QueryListener[] = [];
  const clickhouse = {
    onQuery: (l: QueryListener) => {
      listeners.push(l);
      return () => listeners.splice(listeners.indexOf(l), 1);
    },
  } as unknown as ClickHouseService;
  const args = parseArgs(['--transport', 'http']);
  const config = new ConfigStore({ input: { args, env: {} }, loaded: loadConfig({ args, env: {} }) });
  const observers = new RequestObservers();
  const metrics = new MetricsService(clickhouse, config, observers, new ShutdownState());
  metrics.onModuleInit();
  const emit = (e: Partial<QueryEvent>) => {
    for (const l of listeners) l({ operation: 'query', protocol: 'http', durationMs: 5, outcome: 'ok', ...e } as QueryEvent);
  };
  return { metrics, emit, config, observers, listeners };
}

const text = async (m: MetricsService) => (await m.render()).body;

describe('MetricsService', () => {
  it('uses its own registry, with Node/process defaults', async () => {
    const a = build().metrics;
    const b = build().metrics;
    expect(a.registry).not.toBe(b.registry);
    const body = await text(a);
    expect(body).toContain('process_cpu_user_seconds_total');
    expect(body).toContain('nodejs_heap_size_used_bytes');
  });

  it('records ClickHouse events: duration by operation/outcome, errors by kind', async () => {
    const { metrics, emit } = build();
    emit({ durationMs: 20 });
    emit({ operation: 'ping', outcome: 'error', errorKind: 'unreachable', durationMs: 1 });
    emit({ outcome: 'error' });
    const body = await text(metrics);
    expect(body).toContain('clickhouse_query_duration_seconds_count{operation="query",outcome="ok"} 1');
    expect(body).toContain('clickhouse_query_duration_seconds_count{operation="ping",outcome="error"} 1');
    expect(body).toContain('clickhouse_query_errors_total{kind="unreachable"} 1');
    expect(body).toContain('clickhouse_query_errors_total{kind="other"} 1');
  });

  it('counts config reloads by outcome, all three present from the start', async () => {
    const { metrics, config } = build();
    let body = await text(metrics);
    for (const o of ['applied', 'unchanged', 'failed']) expect(body).toContain(`config_reloads_total{outcome="${o}"} 0`);
    config.reload();
    body = await text(metrics);
    expect(body).toContain('config_reloads_total{outcome="applied"} 1');
  });

  it('observes finished HTTP requests by method, template and status', async () => {
    const { metrics, observers } = build();
    for (const o of observers.all) o({ method: 'GET', route: '/health', status: 503, durationMs: 12, requestId: 'x', aborted: false });
    expect(await text(metrics)).toContain('http_request_duration_seconds_count{method="GET",route="/health",status="503"} 1');
  });

  it('recordToolCall backs the three mcp_tool_* series', async () => {
    const { metrics } = build();
    metrics.recordToolCall('execute_query', 'ok', 250, 7);
    metrics.recordToolCall('execute_query', 'error', 10, 0);
    metrics.recordToolCall('execute_query', 'weird' as never, 10);
    const body = await text(metrics);
    expect(body).toContain('mcp_tool_calls_total{tool="execute_query",outcome="ok"} 1');
    expect(body).toContain('mcp_tool_calls_total{tool="execute_query",outcome="error"} 2');
    expect(body).toContain('mcp_tool_call_duration_seconds_count{tool="execute_query"} 3');
    expect(body).toContain('mcp_tool_call_duration_seconds_bucket{le="0.25",tool="execute_query"} 3');
    expect(body).toContain('mcp_tool_rows_returned_total{tool="execute_query"} 7');
  });

  it('caps distinct tool labels', async () => {
    const { metrics } = build();
    for (let i = 0; i < 510; i++) metrics.recordToolCall(`t${i}`, 'ok', 1);
    const body = await text(metrics);
    expect(body).toContain('mcp_tool_calls_total{tool="other",outcome="ok"} 10');
    expect(body).not.toContain('tool="t505"');
  });

  it('clickhouse_up is NaN until a ping reports', async () => {
    const { metrics } = build();
    expect(await text(metrics)).toContain('clickhouse_up Nan');
    metrics.setClickHouseUp(true);
    expect(await text(metrics)).toContain('clickhouse_up 1');
  });

  it('unsubscribes on destroy', () => {
    const { metrics, listeners } = build();
    expect(listeners).toHaveLength(1);
    metrics.onModuleDestroy();
    expect(listeners).toHaveLength(0);
  });
});
