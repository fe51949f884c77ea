import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigStore } from '../../src/config/config.store.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import { PrivateClickHouse } from '../setup/clickhouse-server.js';
import { type OpsGateway, freePort, metricValue, parseMetrics, scrape, startOpsGateway, waitUntil } from './ops-helpers.js';

const CH_PORT = 18130;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcHMtdGVzdCJ9.c2lnbmF0dXJlLXNpZw';

describe('health, readiness and metrics against a ClickHouse that dies and comes back', () => {
  const ch = new PrivateClickHouse(CH_PORT);
  let gw: OpsGateway;

  beforeAll(async () => {
    ch.start();
    gw = await startOpsGateway(['--clickhouse-host', '127.0.0.1', '--clickhouse-port', String(CH_PORT)]);
  });

  afterAll(async () => {
    await gw?.app.close();
    ch.destroy();
  });

  it('GET /livez → 200 {status:"alive",timestamp,version} as Go writes it', async () => {
    const res = await fetch(`${gw.base}/livez`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const text = await res.text();
    expect(text.endsWith('}\n')).toBe(true);
    const body = JSON.parse(text);
    expect(Object.keys(body)).toEqual(['status', 'timestamp', 'version']);
    expect(body.status).toBe('alive');
    expect(body.timestamp).toMatch(TIMESTAMP);
    expect(typeof body.version).toBe('string');
  });

  it('GET /health with ClickHouse up → 200 {clickhouse:"connected",status:"healthy",…} (keys sorted like Go)', async () => {
    const res = await fetch(`${gw.base}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = await res.json();
    expect(Object.keys(body)).toEqual(['clickhouse', 'status', 'timestamp', 'version']);
    expect(body).toMatchObject({ clickhouse: 'connected', status: 'healthy' });
    expect(body.timestamp).toMatch(TIMESTAMP);
  });

  it('GET /readyz with ClickHouse up → 200 ready', async () => {
    const res = await fetch(`${gw.base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready', clickhouse: 'connected' });
  });

  it('a /readyz probe storm sends about one ping per second to ClickHouse', async () => {
    await new Promise((r) => setTimeout(r, 900)); // let any cached result expire
    const pings = async () => metricValue(await scrape(`${gw.base}/metrics`), 'clickhouse_query_duration_seconds_count', { operation: 'ping' });
    const before = await pings();
    const answers = await Promise.all(Array.from({ length: 60 }, () => fetch(`${gw.base}/readyz`).then((r) => r.status)));
    expect(answers.every((s) => s === 200)).toBe(true);
    expect((await pings()) - before).toBeLessThanOrEqual(2);
  });

  it('non-GET on /health and /livez → 405 with an empty body (vectors 9, 10)', async () => {
    for (const [method, path] of [
      ['POST', '/health'],
      ['POST', '/livez'],
      ['PUT', '/health'],
      ['DELETE', '/livez'],
      ['HEAD', '/health'],
      ['POST', '/readyz'],
    ] as const) {
      const res = await fetch(`${gw.base}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(await res.text()).toBe('');
    }
  });

  it('OPTIONS on any path → 200 with the CORS preflight headers of vector 11', async () => {
    for (const path of ['/', '/health', '/some/where']) {
      const withReq = await fetch(`${gw.base}${path}`, {
        method: 'OPTIONS',
        headers: { 'Access-Control-Request-Headers': 'Content-Type, Authorization' },
      });
      expect(withReq.status).toBe(200);
      expect(await withReq.text()).toBe('');
      expect(withReq.headers.get('access-control-allow-origin')).toBe('*');
      expect(withReq.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, DELETE, OPTIONS');
      expect(withReq.headers.get('access-control-allow-headers')).toBe('Content-Type, Authorization');
      expect(withReq.headers.get('access-control-max-age')).toBe('86400');
      expect(withReq.headers.get('vary')).toBe('Access-Control-Request-Headers');
    }
    const bare = await fetch(`${gw.base}/`, { method: 'OPTIONS' });
    expect(bare.headers.get('access-control-allow-headers')).toBe(
      'Content-Type, Authorization, X-Altinity-MCP-Key, Mcp-Protocol-Version, Mcp-Method, Referer, User-Agent',
    );
    const plain = await fetch(`${gw.base}/livez`);
    expect(plain.headers.get('access-control-allow-origin')).toBe('*');
    expect(plain.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('/metrics exposes default, HTTP (by route template), ClickHouse and reload metrics', async () => {
    await fetch(`${gw.base}/health`);
    await fetch(`${gw.base}/${JWT}/no-such-thing?password=hunter2`, { method: 'POST' });
    gw.app.get(ConfigStore).reload();
    gw.app.get(MetricsService).recordToolCall('execute_query', 'ok', 12, 3);

    const res = await fetch(`${gw.base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const samples = parseMetrics(text);

    // Node/process defaults
    expect(metricValue(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
    // HTTP histogram by template, never the raw path or query
    expect(metricValue(samples, 'http_request_duration_seconds_count', { method: 'GET', route: '/health', status: '200' })).toBeGreaterThanOrEqual(2);
    expect(metricValue(samples, 'http_request_duration_seconds_count', { method: 'POST', route: '/health', status: '405' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(JWT.slice(0, 20));
    expect(text).not.toContain('hunter2');
    const routes = new Set(samples.filter((s) => s.name === 'http_request_duration_seconds_count').map((s) => s.labels.route));
    for (const route of routes) expect(route === 'unmatched' || route!.startsWith('/')).toBe(true);
    // ClickHouse: the /health pings were observed
    expect(metricValue(samples, 'clickhouse_query_duration_seconds_count', { operation: 'ping', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(samples, 'clickhouse_up')).toBe(1);
    // config reloads and tool calls
    expect(metricValue(samples, 'config_reloads_total', { outcome: 'applied' })).toBe(1);
    expect(samples.some((s) => s.name === 'config_reloads_total' && s.labels.outcome === 'failed')).toBe(true);
    expect(metricValue(samples, 'mcp_tool_calls_total', { tool: 'execute_query', outcome: 'ok' })).toBe(1);
    expect(metricValue(samples, 'mcp_tool_rows_returned_total', { tool: 'execute_query' })).toBe(3);
    expect(metricValue(samples, 'mcp_tool_call_duration_seconds_count', { tool: 'execute_query' })).toBe(1);
    expect(samples.some((s) => s.name === 'http_requests_in_flight')).toBe(true);
  });

  it('ClickHouse killed → /readyz 503 within 2 s, /health 503 Go body, /livez 200, errors counted; back → ready', async () => {
    const before = await scrape(`${gw.base}/metrics`);
    const errorsBefore = metricValue(before, 'clickhouse_query_errors_total');
    // Warm the readiness cache so the test measures the worst case: a fresh "up" result is cached.
    expect((await fetch(`${gw.base}/readyz`)).status).toBe(200);

    ch.kill();
    const flipMs = await waitUntil(async () => (await fetch(`${gw.base}/readyz`)).status === 503, 5000, 50);
    expect(flipMs).toBeLessThan(2000);
    console.info(`readiness flipped ${flipMs} ms after the kill`);
    const ready = await fetch(`${gw.base}/readyz`);
    expect(ready.status).toBe(503);
    const readyBody = await ready.json();
    expect(readyBody).toMatchObject({ status: 'not_ready', reason: 'clickhouse_unreachable' });
    expect(Object.keys(readyBody).sort()).toEqual(['reason', 'status', 'timestamp', 'version']);

    const health = await fetch(`${gw.base}/health`);
    expect(health.status).toBe(503);
    const healthBody = await health.json();
    expect(Object.keys(healthBody)).toEqual(['error', 'status', 'timestamp', 'version']);
    expect(healthBody).toMatchObject({ error: 'ClickHouse connection failed', status: 'unhealthy' });

    expect((await fetch(`${gw.base}/livez`)).status).toBe(200);

    const after = await scrape(`${gw.base}/metrics`);
    expect(metricValue(after, 'clickhouse_query_errors_total')).toBeGreaterThan(errorsBefore);
    expect(metricValue(after, 'clickhouse_query_errors_total', { kind: 'unreachable' })).toBeGreaterThan(0);
    expect(metricValue(after, 'clickhouse_up')).toBe(0);
    expect(metricValue(after, 'http_request_duration_seconds_count', { route: '/health', status: '503' })).toBeGreaterThanOrEqual(1);

    ch.start();
    await waitUntil(async () => (await fetch(`${gw.base}/readyz`)).status === 200, 10_000, 100);
    expect((await fetch(`${gw.base}/health`)).status).toBe(200);
    expect(metricValue(await scrape(`${gw.base}/metrics`), 'clickhouse_up')).toBe(1);
  });

  it('ClickHouse hung (SIGSTOP, connections accepted but never answered) → /readyz 503 within 2 s; SIGCONT → ready', async () => {
    const pid = Number(readFileSync(`${ch.dir}/server.pid`, 'utf8').trim());
    await waitUntil(async () => (await fetch(`${gw.base}/readyz`)).status === 200, 5000, 100);
    process.kill(pid, 'SIGSTOP');
    try {
      const flipMs = await waitUntil(async () => (await fetch(`${gw.base}/readyz`)).status === 503, 5000, 50);
      console.info(`readiness flipped ${flipMs} ms after ClickHouse hung`);
      expect(flipMs).toBeLessThan(2000);
      expect(await (await fetch(`${gw.base}/readyz`)).json()).toMatchObject({ reason: 'clickhouse_unreachable' });
      expect((await fetch(`${gw.base}/livez`)).status).toBe(200);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitUntil(async () => (await fetch(`${gw.base}/readyz`)).status === 200, 10_000, 100);
  });

  it('logs one access line per request without query strings or tokens', async () => {
    gw.logs.length = 0;
    await fetch(`${gw.base}/livez?token=abc123secret`, { headers: { 'X-Request-Id': 'ops-e2e-1' } });
    await new Promise((r) => setTimeout(r, 50));
    const line = gw.logs.find((l) => l.msg === 'request completed' && l.request_id === 'ops-e2e-1');
    expect(line).toMatchObject({ level: 'info', method: 'GET', route: '/livez', status: 200, path: '/livez' });
    expect(JSON.stringify(gw.logs)).not.toContain('abc123secret');
  });
});

describe('per-request credentials (JWE)', () => {
  let gw: OpsGateway;
  beforeAll(async () => {
    // JWE is switched on in the loaded config, as the auth layer will (the loader refuses it until then).
    // ClickHouse port 1: nothing listens there, and nothing must try.
    gw = await startOpsGateway(['--clickhouse-port', '1'], {
      editConfig: (cfg) => {
        cfg.server.jwe.enabled = true;
      },
    });
  });
  afterAll(async () => {
    await gw?.app.close();
  });

  it('/health → 200 auth:per_request_credentials without touching ClickHouse; /readyz ready', async () => {
    const res = await fetch(`${gw.base}/health`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(Object.keys(body)).toEqual(['auth', 'status', 'timestamp', 'version']);
    expect(body).toMatchObject({ auth: 'per_request_credentials', status: 'healthy' });
    expect((await fetch(`${gw.base}/readyz`)).status).toBe(200);
    const metrics = await scrape(`${gw.base}/metrics`);
    expect(metricValue(metrics, 'clickhouse_query_duration_seconds_count')).toBe(0);
    expect(Number.isNaN(metrics.find((s) => s.name === 'clickhouse_up')!.value)).toBe(true);
  });
});

describe('metrics placement', () => {
  it('a separate metrics port serves /metrics, the main port does not, and it closes with the app', async () => {
    const metricsPort = await freePort();
    const gw = await startOpsGateway(['--clickhouse-port', '1', '--metrics-port', String(metricsPort)]);
    try {
      const main = await fetch(`${gw.base}/metrics`);
      expect(main.status).toBe(404);
      const sep = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(sep.status).toBe(200);
      expect(sep.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const samples = parseMetrics(await sep.text());
      // the main port's request was counted, under the route that answered it
      expect(samples.some((s) => s.name === 'http_request_duration_seconds_count')).toBe(true);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await gw.app.close();
    }
    await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
  });

  it('server.metrics.enabled=false → no /metrics route on the main port', async () => {
    const gw = await startOpsGateway(['--clickhouse-port', '1', '--metrics-enabled=false']);
    try {
      const res = await fetch(`${gw.base}/metrics`);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain('http_request_duration_seconds');
    } finally {
      await gw.app.close();
    }
  });
});
