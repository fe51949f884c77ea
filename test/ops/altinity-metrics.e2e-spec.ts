import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigStore } from '../../src/config/config.store.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import { rawHttp, rawToolCall, tempConfig } from '../mcp/mcp-e2e-helpers.js';
import { TEST_CLICKHOUSE_FLAGS } from '../support/gateway.js';
import { type OpsGateway, type Sample, metricValue, scrape, startOpsGateway } from './ops-helpers.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbHRpbml0eS1tZXRyaWNzIn0.c2lnbmF0dXJlLXh5eg';
const MISSING_TABLE = `h3_altinity_metrics_missing_${process.pid}`;

const series = (samples: Sample[], name: string) => samples.filter((s) => s.name === name);

describe("altinity-mcp's metric families through the running gateway (ClickHouse 18.16)", () => {
  let gw: OpsGateway;
  let samples: Sample[];
  let text: string;

  beforeAll(async () => {
    gw = await startOpsGateway(TEST_CLICKHOUSE_FLAGS);
    expect((await fetch(`${gw.base}/livez`)).status).toBe(200);
    expect((await fetch(`${gw.base}/health`)).status).toBe(200);
    // a CORS preflight: answered by CORS, never counted by altinity's family
    expect((await fetch(`${gw.base}/`, { method: 'OPTIONS' })).status).toBe(200);
    const ok = await rawToolCall(gw.base, 'execute_query', { query: 'SELECT number, toString(number) AS s FROM numbers(5)' });
    expect(ok.message.result?.isError).toBeFalsy();
    const failed = await rawToolCall(gw.base, 'execute_query', { query: `SELECT * FROM default.${MISSING_TABLE}` });
    expect(failed.message.result?.isError).toBe(true);
    // a raw token in the path and unusual methods (Node's HTTP parser itself answers 400 to methods it does not
    // know, such as BREW or XYZZY, before any handler runs; these three reach the gateway)
    await fetch(`${gw.base}/${JWT}/no-such-thing`);
    for (const method of ['PROPFIND', 'TRACE', 'MKCOL']) await rawHttp(gw.base, { method, path: '/anything' });
    text = await (await fetch(`${gw.base}/metrics`)).text();
    samples = await scrape(`${gw.base}/metrics`);
  });

  afterAll(async () => {
    await gw?.app.close();
  });

  it('counts HTTP requests by route template, method and status class', () => {
    expect(text).toContain('route="/livez",method="GET",status="2xx"');
    expect(metricValue(samples, 'altinity_mcp_http_requests_total', { route: '/livez', method: 'GET', status: '2xx' })).toBe(1);
    expect(metricValue(samples, 'altinity_mcp_http_requests_total', { route: '/health', method: 'GET', status: '2xx' })).toBe(1);
    // the MCP endpoint is upstream's `/` pattern, whatever path the client used
    expect(metricValue(samples, 'altinity_mcp_http_requests_total', { route: '/', method: 'POST', status: '2xx' })).toBe(2);
    expect(metricValue(samples, 'altinity_mcp_http_requests_total', { method: 'other' })).toBe(3);
    expect(metricValue(samples, 'altinity_mcp_http_request_duration_seconds_count', { route: '/livez' })).toBe(1);
    const altinityLines = text.split('\n').filter((l) => l.startsWith('altinity_mcp_http_'));
    for (const raw of ['PROPFIND', 'TRACE', 'MKCOL', 'OPTIONS']) expect(altinityLines.join('\n')).not.toContain(`method="${raw}"`);
    expect(text).not.toContain(JWT.slice(0, 20));
    const routes = new Set(series(samples, 'altinity_mcp_http_requests_total').map((s) => s.labels.route!));
    for (const route of routes) expect(route === '404' || route.startsWith('/'), route).toBe(true);
    for (const s of series(samples, 'altinity_mcp_http_requests_total')) expect(s.labels.status).toMatch(/^[1-5]xx$|^unknown$/);
  });

  it('counts the tool calls’ ClickHouse queries by kind and outcome, with rows and bytes of the successful one', () => {
    expect(metricValue(samples, 'altinity_mcp_clickhouse_queries_total', { kind: 'select', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(samples, 'altinity_mcp_clickhouse_queries_total', { kind: 'select', outcome: 'error' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(samples, 'altinity_mcp_clickhouse_query_duration_seconds_count', { kind: 'select' })).toBeGreaterThanOrEqual(2);
    expect(metricValue(samples, 'altinity_mcp_clickhouse_query_rows_sum', { kind: 'select' })).toBeGreaterThanOrEqual(5);
    expect(metricValue(samples, 'altinity_mcp_clickhouse_query_bytes_sum', { kind: 'select' })).toBeGreaterThan(0);
    // only successes are observed for rows/bytes
    expect(metricValue(samples, 'altinity_mcp_clickhouse_query_rows_count', { kind: 'select' })).toBe(
      metricValue(samples, 'altinity_mcp_clickhouse_queries_total', { kind: 'select', outcome: 'ok' }),
    );
    for (const s of series(samples, 'altinity_mcp_clickhouse_queries_total')) {
      expect(['select', 'execute']).toContain(s.labels.kind);
      expect(['ok', 'error']).toContain(s.labels.outcome);
    }
  });

  it('altinity_mcp_clickhouse_up follows GET /health (1 after a good ping); ours are still served', () => {
    expect(metricValue(samples, 'altinity_mcp_clickhouse_up')).toBe(1);
    expect(samples.some((s) => s.name === 'http_request_duration_seconds_count')).toBe(true);
    expect(samples.some((s) => s.name === 'mcp_tool_calls_total')).toBe(true);
  });

  it('a blocked clause recorded through MetricsService appears by clause', async () => {
    gw.app.get(MetricsService).recordBlockedClause('SETTINGS');
    expect(metricValue(await scrape(`${gw.base}/metrics`), 'altinity_mcp_blocked_clause_rejections_total', { clause: 'SETTINGS' })).toBe(1);
  });
});

describe('altinity_mcp_clickhouse_up is NaN before /health and with per-request credentials', () => {
  it('starts NaN (the startup ping and /readyz do not set it); JWE /health keeps it NaN', async () => {
    const gw = await startOpsGateway(['--clickhouse-port', '1'], {
      editConfig: (cfg) => {
        cfg.server.jwe.enabled = true;
      },
    });
    try {
      await fetch(`${gw.base}/readyz`);
      let samples = await scrape(`${gw.base}/metrics`);
      expect(Number.isNaN(samples.find((s) => s.name === 'altinity_mcp_clickhouse_up')!.value)).toBe(true);
      expect((await fetch(`${gw.base}/health`)).status).toBe(200);
      samples = await scrape(`${gw.base}/metrics`);
      expect(Number.isNaN(samples.find((s) => s.name === 'altinity_mcp_clickhouse_up')!.value)).toBe(true);
    } finally {
      await gw.app.close();
    }
  });
});

describe('server.metrics.enabled: false', () => {
  it('/metrics is never 200, has no altinity_mcp_ and no exposition content type; nothing is instrumented', async () => {
    const gw = await startOpsGateway([...TEST_CLICKHOUSE_FLAGS, '--metrics-enabled=false']);
    try {
      await fetch(`${gw.base}/livez`);
      await rawToolCall(gw.base, 'execute_query', { query: 'SELECT 1' });
      for (const method of ['GET', 'POST', 'HEAD']) {
        const res = await fetch(`${gw.base}/metrics`, { method });
        expect(res.status, method).not.toBe(200);
        expect(await res.text()).not.toContain('altinity_mcp_');
        expect(res.headers.get('content-type') ?? '').not.toContain('text/plain; version=');
      }
      expect(await gw.app.get(MetricsService).registry.getMetricsAsJSON()).toEqual([]);
    } finally {
      await gw.app.close();
    }
  });
});

describe('server.metrics.* on reload (restart-only, upstream reloadConfig)', () => {
  const WARNING = 'config reload: server.metrics.* changed — restart required for this to take effect; /metrics remains on the previous configuration';
  const yaml = (enabled: boolean, level = 'info') => `server:\n  metrics:\n    enabled: ${enabled}\nlogging:\n  level: ${level}\n`;

  it.each([true, false])('running enabled=%s: warns once per mismatch, stays silent on repeats, re-arms when the file agrees', async (running) => {
    const file = tempConfig(yaml(running));
    const gw = await startOpsGateway(['--clickhouse-port', '1', '--config', file.path]);
    const store = gw.app.get(ConfigStore);
    const warnings = () => gw.logs.filter((l) => l.msg === WARNING);
    const metricsStatus = async () => (await fetch(`${gw.base}/metrics`)).status;
    try {
      const servedBefore = await metricsStatus();
      expect(servedBefore === 200).toBe(running);

      writeFileSync(file.path, yaml(!running));
      expect(store.reload().status).toBe('applied');
      expect(warnings()).toHaveLength(1);
      expect(warnings()[0]).toMatchObject({ level: 'warn', running_enabled: running, requested_enabled: !running });
      expect(store.current.server.metrics.enabled).toBe(running);
      expect(await metricsStatus()).toBe(servedBefore);
      // no second, generic restart-only warning for the same key
      expect(gw.logs.filter((l) => String(l.msg).includes('server.metrics.enabled'))).toEqual([]);

      // same mismatch, another key changed: silent
      writeFileSync(file.path, yaml(!running, 'warn'));
      expect(store.reload().status).toBe('applied');
      expect(warnings()).toHaveLength(1);

      // the file agrees again: silent, and re-armed
      writeFileSync(file.path, yaml(running));
      expect(store.reload().status).toBe('applied');
      expect(warnings()).toHaveLength(1);
      writeFileSync(file.path, yaml(!running));
      store.reload();
      expect(warnings()).toHaveLength(2);
      expect(store.current.server.metrics.enabled).toBe(running);
      expect(await metricsStatus()).toBe(servedBefore);
    } finally {
      await gw.app.close();
      file.cleanup();
    }
  });

  it('a reload that leaves server.metrics alone is silent', async () => {
    const file = tempConfig(yaml(true));
    const gw = await startOpsGateway(['--clickhouse-port', '1', '--config', file.path]);
    try {
      writeFileSync(file.path, yaml(true, 'warn'));
      expect(gw.app.get(ConfigStore).reload().status).toBe('applied');
      expect(gw.logs.filter((l) => String(l.msg).includes('server.metrics'))).toEqual([]);
    } finally {
      await gw.app.close();
      file.cleanup();
    }
  });
});

describe("altinity-mcp's route label on the SSE transport", () => {
  it('labels the SSE stream `/sse`, never the catch-all `/`', async () => {
    const gw = await startOpsGateway(['--clickhouse-port', '1', '--transport', 'sse']);
    try {
      const stream = new AbortController();
      const res = await fetch(`${gw.base}/sse`, { signal: stream.signal });
      expect(res.status).toBe(200);
      stream.abort();
      await res.body?.cancel().catch(() => undefined);
      // the request is observed when its response ends; give the closed stream a moment
      let samples: Sample[] = [];
      for (let i = 0; i < 50; i++) {
        samples = await scrape(`${gw.base}/metrics`);
        if (series(samples, 'altinity_mcp_http_requests_total').some((s) => s.labels.route === '/sse')) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const routes = series(samples, 'altinity_mcp_http_requests_total').map((s) => s.labels.route);
      expect(routes).toContain('/sse');
      expect(routes).not.toContain('/');
    } finally {
      await gw.app.close();
    }
  });
});

describe("altinity-mcp's blocked-clause counter", () => {
  it('counts refusals by the configured clause, on MCP and OpenAPI, and not SQL that could not be parsed', async () => {
    const gw = await startOpsGateway([...TEST_CLICKHOUSE_FLAGS, '--blocked-query-clauses', 'WHERE', '--openapi', 'http']);
    try {
      const refused = await rawToolCall(gw.base, 'execute_query', { query: 'SELECT number FROM numbers(3) WHERE number > 1' });
      expect(refused.message.result?.isError).toBe(true);
      const viaOpenApi = await fetch(`${gw.base}/openapi/execute_query?query=${encodeURIComponent('SELECT 1 WHERE 1')}`);
      expect(viaOpenApi.status).toBe(400);
      const unparsable = await rawToolCall(gw.base, 'execute_query', { query: 'SELECT ((( WHERE' });
      expect(unparsable.message.result?.isError).toBe(true);
      const samples = await scrape(`${gw.base}/metrics`);
      expect(metricValue(samples, 'altinity_mcp_blocked_clause_rejections_total', { clause: 'WHERE' })).toBe(2);
      expect(series(samples, 'altinity_mcp_blocked_clause_rejections_total')).toHaveLength(1);
    } finally {
      await gw.app.close();
    }
  });
});
