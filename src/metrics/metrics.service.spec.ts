import { describe, expect, it } from 'vitest';
import { type QueryEvent, QueryEvents } from '../common/events/query-events.js';
import { RequestObservers } from '../common/http/request-observers.js';
import { ShutdownState } from '../common/shutdown/shutdown.state.js';
import { parseArgs } from '../config/config.cli.js';
import { loadConfig } from '../config/config.loader.js';
import { ConfigStore } from '../config/config.store.js';
import { MetricsService } from './metrics.service.js';

function build(flags: string[] = []) {
  const events = new QueryEvents();
  const args = parseArgs(['--transport', 'http', ...flags]);
  const config = new ConfigStore({ input: { args, env: {} }, loaded: loadConfig({ args, env: {} }) });
  const observers = new RequestObservers();
  const metrics = new MetricsService(config, observers, new ShutdownState(), events);
  metrics.onModuleInit();
  const emit = (e: Partial<QueryEvent>) => events.publish({ operation: 'query', protocol: 'http', durationMs: 5, outcome: 'ok', ...e } as QueryEvent);
  return { metrics, emit, config, observers, events };
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
    const { metrics, events } = build();
    expect(events.listenerCount).toBe(1);
    metrics.onModuleDestroy();
    expect(events.listenerCount).toBe(0);
  });
});

/** Value of one sample line (`name{labels} value`) in the exposition, or undefined when absent. */
function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("altinity-mcp's families (addendum §A.3, vectors §A.6)", () => {
  it('declares the names, types, HELP texts and buckets of pkg/metrics/metrics.go', async () => {
    const body = await text(build().metrics);
    const expected: Array<[string, string, string]> = [
      ['altinity_mcp_http_requests_total', 'counter', 'Total HTTP requests handled by the MCP server, by route, method and status class.'],
      ['altinity_mcp_http_request_duration_seconds', 'histogram', 'HTTP request duration in seconds, by route.'],
      ['altinity_mcp_clickhouse_queries_total', 'counter', 'Total ClickHouse queries executed, by kind and outcome.'],
      ['altinity_mcp_clickhouse_query_duration_seconds', 'histogram', 'ClickHouse query duration in seconds, by kind.'],
      ['altinity_mcp_clickhouse_query_rows', 'histogram', 'Rows returned by successful ClickHouse queries, by kind.'],
      ['altinity_mcp_clickhouse_query_bytes', 'histogram', 'Approximate bytes returned by successful ClickHouse queries, by kind.'],
      ['altinity_mcp_blocked_clause_rejections_total', 'counter', 'Queries rejected by the blocked-clause guard, by normalized clause.'],
      [
        'altinity_mcp_clickhouse_up',
        'gauge',
        'Whether the most recent ClickHouse readiness ping succeeded (1) or failed (0). NaN when no credentialed ping is possible.',
      ],
    ];
    for (const [name, type, help] of expected) {
      expect(body).toContain(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
    }
  });

  it('uses the default, rows (1…32768) and bytes (128…16 MiB) buckets', async () => {
    const { metrics, emit, observers } = build();
    emit({ sqlKind: 'select', rows: 3, approxBytes: 42 });
    for (const o of observers.all) o({ method: 'GET', route: '/livez', status: 200, durationMs: 1, requestId: 'x', aborted: false });
    const body = await text(metrics);
    const les = (series: string) => [...body.matchAll(new RegExp(`^${series}_bucket\\{le="([^"]+)"`, 'gm'))].map((m) => m[1]);
    const defaults = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];
    expect(les('altinity_mcp_http_request_duration_seconds')).toEqual(defaults);
    expect(les('altinity_mcp_clickhouse_query_duration_seconds')).toEqual(defaults);
    expect(les('altinity_mcp_clickhouse_query_rows')).toEqual([...Array.from({ length: 16 }, (_, i) => String(2 ** i)), '+Inf']);
    expect(les('altinity_mcp_clickhouse_query_bytes')).toEqual([...Array.from({ length: 18 }, (_, i) => String(128 * 2 ** i)), '+Inf']);
  });

  it('enabled: select/ok, execute/error, result (select, 3 rows, 42 bytes) and blocked SETTINGS each count once', async () => {
    const { metrics, emit } = build();
    emit({ sqlKind: 'select', rows: 3, approxBytes: 42, durationMs: 20 });
    emit({ operation: 'command', sqlKind: 'execute', outcome: 'error', errorKind: 'syntax' });
    metrics.recordBlockedClause('SETTINGS');
    const body = await text(metrics);
    expect(sample(body, 'altinity_mcp_clickhouse_queries_total{kind="select",outcome="ok"}')).toBe(1);
    expect(sample(body, 'altinity_mcp_clickhouse_queries_total{kind="execute",outcome="error"}')).toBe(1);
    expect(sample(body, 'altinity_mcp_clickhouse_query_duration_seconds_count{kind="select"}')).toBe(1);
    expect(sample(body, 'altinity_mcp_clickhouse_query_duration_seconds_count{kind="execute"}')).toBe(1);
    expect(sample(body, 'altinity_mcp_clickhouse_query_rows_sum{kind="select"}')).toBe(3);
    expect(sample(body, 'altinity_mcp_clickhouse_query_bytes_sum{kind="select"}')).toBe(42);
    // rows and bytes are observed on success only
    expect(sample(body, 'altinity_mcp_clickhouse_query_rows_count{kind="execute"}')).toBeUndefined();
    expect(sample(body, 'altinity_mcp_blocked_clause_rejections_total{clause="SETTINGS"}')).toBe(1);
  });

  it('pings are not queries; a successful command has no rows/bytes observation', async () => {
    const { metrics, emit } = build();
    emit({ operation: 'ping' });
    emit({ operation: 'command', sqlKind: 'execute' });
    const body = await text(metrics);
    expect(body).not.toContain('kind="ping"');
    expect(sample(body, 'altinity_mcp_clickhouse_queries_total{kind="execute",outcome="ok"}')).toBe(1);
    expect(body).not.toContain('altinity_mcp_clickhouse_query_bytes_count{kind="execute"}');
    expect(body.match(/^altinity_mcp_clickhouse_queries_total\{/gm)).toHaveLength(1);
  });

  it('clickhouse_up: NaN at start, 1 after a health ok, 0 after an error, NaN again for unknown', async () => {
    const { metrics } = build();
    expect(await text(metrics)).toContain('\naltinity_mcp_clickhouse_up Nan\n');
    metrics.observeHealth('ok');
    expect(sample(await text(metrics), 'altinity_mcp_clickhouse_up')).toBe(1);
    metrics.observeHealth('error');
    expect(sample(await text(metrics), 'altinity_mcp_clickhouse_up')).toBe(0);
    metrics.observeHealth('unknown');
    expect(await text(metrics)).toContain('\naltinity_mcp_clickhouse_up Nan\n');
    // the gateway's own readiness gauge does not move it
    metrics.setClickHouseUp(true);
    expect(await text(metrics)).toContain('\naltinity_mcp_clickhouse_up Nan\n');
  });

  it('route is the template in Go syntax, 404 when unmatched; method folded into the upstream set; status by class', async () => {
    const { metrics, observers } = build();
    const send = (method: string, route: string, status: number) => {
      for (const o of observers.all) o({ method, route, status, durationMs: 3, requestId: 'x', aborted: false });
    };
    send('GET', '/health', 204);
    send('other', '/{*path}', 405);
    send('other', '/{*path}', 405);
    send('other', '/{*path}', 405);
    send('POST', '/openapi/{*rest}', 502);
    send('GET', 'unmatched', 42);
    send('GET', '/x/:token/y', 200);
    const body = await text(metrics);
    expect(sample(body, 'altinity_mcp_http_requests_total{route="/health",method="GET",status="2xx"}')).toBe(1);
    expect(sample(body, 'altinity_mcp_http_requests_total{route="/",method="other",status="4xx"}')).toBe(3);
    expect(sample(body, 'altinity_mcp_http_requests_total{route="/openapi/{rest...}",method="POST",status="5xx"}')).toBe(1);
    expect(sample(body, 'altinity_mcp_http_requests_total{route="404",method="GET",status="unknown"}')).toBe(1);
    expect(sample(body, 'altinity_mcp_http_requests_total{route="/x/{token}/y",method="GET",status="2xx"}')).toBe(1);
    expect(sample(body, 'altinity_mcp_http_request_duration_seconds_count{route="/"}')).toBe(3);
  });

  it('does not count CORS preflights (ours still does)', async () => {
    const { metrics, observers } = build();
    for (const o of observers.all) o({ method: 'OPTIONS', route: 'unmatched', status: 200, durationMs: 1, requestId: 'x', aborted: false, preflight: true });
    const body = await text(metrics);
    expect(body).not.toMatch(/^altinity_mcp_http_requests_total\{/m);
    expect(sample(body, 'http_request_duration_seconds_count{method="OPTIONS",route="unmatched",status="200"}')).toBe(1);
  });

  it('bounds blocked-clause labels and normalises their spelling', async () => {
    const { metrics } = build();
    metrics.recordBlockedClause(' into   outfile ');
    for (let i = 0; i < 100; i++) metrics.recordBlockedClause(`C${i}`);
    const body = await text(metrics);
    expect(sample(body, 'altinity_mcp_blocked_clause_rejections_total{clause="INTO OUTFILE"}')).toBe(1);
    expect(body.match(/^altinity_mcp_blocked_clause_rejections_total\{/gm)).toHaveLength(64);
  });

  it('disabled: the registry gathers zero families and no observation changes anything', async () => {
    const { metrics, emit, observers, events } = build(['--metrics-enabled=false']);
    expect(metrics.enabled).toBe(false);
    expect(events.listenerCount).toBe(0);
    expect(observers.all).toHaveLength(0);
    emit({ sqlKind: 'select', outcome: 'error' });
    emit({ sqlKind: 'select', rows: 3, approxBytes: 42 });
    metrics.recordBlockedClause('WHERE');
    metrics.observeHealth('ok');
    metrics.setClickHouseUp(true);
    metrics.recordToolCall('execute_query', 'ok', 1, 1);
    metrics.observeHttpRequest({ method: 'GET', route: '/livez', status: 200, durationMs: 1, requestId: 'x', aborted: false });
    expect(await metrics.registry.getMetricsAsJSON()).toEqual([]);
    expect(await text(metrics)).not.toContain('altinity_mcp_');
  });
});
