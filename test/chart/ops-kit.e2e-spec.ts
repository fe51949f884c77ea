import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CLICKHOUSE_FLAGS, connectClient, startGateway, type TestGateway } from '../support/gateway.js';
import { CHART_DIR, EXAMPLES_DIR, type K8sObject, helmBinary, metricNamesIn, mustFind, renderChart } from './chart-helpers.js';

/**
 * The operations kit (Grafana dashboard, PrometheusRule) may only use metric names the gateway really
 * exports: every name in every expression must be a family (or a histogram's _bucket/_sum/_count series) in
 * a real /metrics scrape of the gateway serving tool calls against the ClickHouse 18.16 test server.
 */

interface Exported {
  families: Map<string, string>;
  names: Set<string>;
}

function exportedNames(text: string): Exported {
  const families = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/gm)) families.set(m[1]!, m[2]!);
  const names = new Set<string>();
  for (const [name, type] of families) {
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return { families, names };
}

function dashboardQueries(dashboard: K8sObject): string[] {
  const exprs: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'expr' && typeof v === 'string') exprs.push(v);
      else if (k === 'definition' && typeof v === 'string') exprs.push(v);
      else visit(v);
    }
  };
  visit(dashboard);
  return exprs;
}

describe('metricNamesIn (PromQL metric names)', () => {
  it('finds the metrics and skips functions, labels, ranges, grouping and Grafana variables', () => {
    expect(
      metricNamesIn('histogram_quantile(0.99, sum by (le, kind) (rate(altinity_mcp_clickhouse_query_duration_seconds_bucket{job="$job",kind!~"x|y"}[$__rate_interval]))) > 1e-3'),
    ).toEqual(['altinity_mcp_clickhouse_query_duration_seconds_bucket']);
    expect(metricNamesIn('sum(rate(a_total[5m])) / sum(rate(b_total{outcome="error"}[5m])) > 0.1 and on() up')).toEqual(['a_total', 'b_total', 'up']);
    expect(metricNamesIn('label_values(altinity_mcp_http_requests_total{namespace="$namespace"}, job)')).toEqual(['altinity_mcp_http_requests_total']);
    expect(metricNamesIn('clickhouse_up{job="x"} == 0')).toEqual(['clickhouse_up']);
  });
});

describe('operations kit uses only exported metric names', () => {
  let gateway: TestGateway;
  let authGateway: TestGateway;
  let scrapeText: string;
  let authScrapeText: string;
  let dashboard: K8sObject;
  let ruleExprs: string[];

  beforeAll(async () => {
    helmBinary();
    const objects = await renderChart([join(EXAMPLES_DIR, 'metrics-servicemonitor.yaml')]);
    const configMap = mustFind(objects, 'ConfigMap', (c) => c.metadata.name.endsWith('-dashboards'));
    dashboard = JSON.parse(configMap.data['clickhouse-mcp-gateway.json'] as string) as K8sObject;
    const rule = mustFind(objects, 'PrometheusRule');
    ruleExprs = (rule.spec.groups as K8sObject[]).flatMap((g) => (g.rules as K8sObject[]).map((r) => r.expr as string));

    gateway = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--blocked-query-clauses', 'WHERE']);
    const client = await connectClient(gateway.url);
    try {
      await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT number FROM system.numbers LIMIT 3' } });
      await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT * FROM chart_ops_kit_missing_db.t' } });
      await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT number FROM system.numbers WHERE number < 2 LIMIT 1' } });
    } finally {
      await client.close();
    }
    for (const path of ['livez', 'readyz', 'health']) expect((await fetch(new URL(path, gateway.url))).status).toBe(200);
    const res = await fetch(new URL('metrics', gateway.url));
    expect(res.status).toBe(200);
    scrapeText = await res.text();
    // The OAuth and catalog-cache families exist only with OAuth / multicluster on: a second gateway in that mode
    // (it needs no ClickHouse or IdP to boot) adds its scrape.
    authGateway = await startGateway(['--clickhouse-host', '127.0.0.{cluster}', '--metrics-enabled'], {
      MCP_OAUTH_ENABLED: 'true',
      MCP_OAUTH_ISSUER: 'http://127.0.0.1:9',
      MCP_OAUTH_AUDIENCE: 'https://mcp.example.com',
      MCP_OAUTH_PUBLIC_RESOURCE_URL: 'https://mcp.example.com',
      MCP_MULTICLUSTER_ENABLED: 'true',
      MCP_MULTICLUSTER_CLUSTER_ALLOWLIST: 'a',
    });
    const authRes = await fetch(new URL('metrics', authGateway.url));
    expect(authRes.status).toBe(200);
    authScrapeText = await authRes.text();
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    await authGateway?.close();
  });

  /** Every name either gateway exports. */
  const allNames = (): Set<string> => new Set([...exportedNames(scrapeText).names, ...exportedNames(authScrapeText).names]);

  it('the ConfigMap ships the dashboard file unchanged and the sidecar label', async () => {
    const file = JSON.parse(readFileSync(join(CHART_DIR, 'dashboards', 'clickhouse-mcp-gateway.json'), 'utf8')) as K8sObject;
    expect(dashboard).toEqual(file);
    const objects = await renderChart([join(EXAMPLES_DIR, 'metrics-servicemonitor.yaml')]);
    const configMap = mustFind(objects, 'ConfigMap', (c) => c.metadata.name.endsWith('-dashboards'));
    expect(configMap.metadata.labels.grafana_dashboard).toBe('1');
    expect(configMap.metadata.annotations.grafana_folder).toBe('ClickHouse');
  });

  it('the scrape has the families the tool calls feed', () => {
    const { families } = exportedNames(scrapeText);
    expect(families.get('altinity_mcp_clickhouse_queries_total')).toBe('counter');
    expect(families.get('altinity_mcp_http_request_duration_seconds')).toBe('histogram');
    expect(scrapeText).toMatch(/^altinity_mcp_clickhouse_queries_total\{kind="select",outcome="error"\} [1-9]/m);
    expect(scrapeText).toMatch(/^mcp_tool_calls_total\{tool="execute_query",outcome="ok"\} [1-9]/m);
    expect(scrapeText).toMatch(/^altinity_mcp_blocked_clause_rejections_total\{clause="WHERE"\} 1/m);
    expect(scrapeText).toMatch(/^clickhouse_up 1/m);
  });

  it('every metric in the dashboard is exported', () => {
    const names = allNames();
    const used = [...new Set(dashboardQueries(dashboard).flatMap(metricNamesIn))].sort();
    expect(used.length).toBeGreaterThanOrEqual(15);
    expect(used.filter((n) => !names.has(n))).toEqual([]);
  });

  it('every metric in the alert rules is exported', () => {
    const names = allNames();
    const used = [...new Set(ruleExprs.flatMap(metricNamesIn))].sort();
    expect(ruleExprs.length).toBeGreaterThanOrEqual(6);
    expect(used).toEqual(
      expect.arrayContaining(['altinity_mcp_http_requests_total', 'clickhouse_up', 'altinity_mcp_http_request_duration_seconds_bucket', 'altinity_mcp_clickhouse_queries_total']),
    );
    expect(used.filter((n) => !names.has(n))).toEqual([]);
  });

  it('the OAuth + multicluster scrape has the auth and catalog families; a name nobody exports would be caught', () => {
    const auth = exportedNames(authScrapeText);
    expect(auth.families.get('mcp_oauth_auth_total')).toBe('counter');
    expect(auth.families.get('altinity_mcp_catalog_cache_discovery_saturated_total')).toBe('counter');
    expect(auth.families.get('altinity_mcp_catalog_cache_entries')).toBe('gauge');
    expect(exportedNames(scrapeText).names.has('altinity_mcp_catalog_cache_entries')).toBe(false);
    expect(metricNamesIn('rate(altinity_mcp_catalog_cache_discovery_stalled_total[5m]) > 0').filter((n) => !allNames().has(n))).toEqual([
      'altinity_mcp_catalog_cache_discovery_stalled_total',
    ]);
  });
});
