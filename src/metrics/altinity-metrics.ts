import { Counter, Gauge, Histogram, type Registry, exponentialBuckets } from 'prom-client';
import type { QueryEvent } from '../common/events/query-events.js';

/**
 * altinity-mcp's metric families (`pkg/metrics/metrics.go`, upstream PR #168), with its names, types, label
 * sets, buckets and HELP texts, so dashboards and alerts built for altinity-mcp work against the gateway.
 * Fed from the same observation points as the gateway's own families (see MetricsService).
 */

/** Prometheus client_golang's `DefBuckets`, which upstream uses for both duration histograms. */
export const PROMETHEUS_DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Rows: 1, 2, 4 … 32768. */
export const ROWS_BUCKETS = exponentialBuckets(1, 2, 16);
/** Bytes: 128, 256 … 16 MiB. */
export const BYTES_BUCKETS = exponentialBuckets(128, 2, 18);

/** Distinct `clause` labels kept; the set is bounded by `server.blocked_query_clauses`, this guards a huge list. */
const MAX_CLAUSE_LABELS = 64;

/** `1xx`…`5xx`, or `unknown` outside 100–599 (as upstream's status recorder reports it). */
export function statusClass(status: number): string {
  if (!Number.isInteger(status) || status < 100 || status > 599) return 'unknown';
  return `${Math.floor(status / 100)}xx`;
}

const upstreamRoutes = new Map<string, string>();

/**
 * The route label as upstream's Go mux would name it: our template with Express syntax turned into Go's
 * (`:id` → `{id}`, `{*rest}` → `{rest...}`), the MCP catch-all as `/`, and `404` when no route matched. Input is
 * a template (a bounded set), never a raw path, so the memo stays small.
 */
export function upstreamRoute(template: string): string {
  let label = upstreamRoutes.get(template);
  if (label !== undefined) return label;
  if (template === 'unmatched') label = '404';
  else if (template === '/{*path}') label = '/';
  else label = template.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\{\*([A-Za-z0-9_]+)\}/g, '{$1...}');
  if (upstreamRoutes.size < 1000) upstreamRoutes.set(template, label);
  return label;
}

/** What `/health` learned about ClickHouse: `unknown` when it cannot ping (credentials come per request). */
export type HealthObservation = 'ok' | 'error' | 'unknown';

export class AltinityMetrics {
  private readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  private readonly httpDuration: Histogram<'route'>;
  private readonly queries: Counter<'kind' | 'outcome'>;
  private readonly queryDuration: Histogram<'kind'>;
  private readonly queryRows: Histogram<'kind'>;
  private readonly queryBytes: Histogram<'kind'>;
  private readonly blockedClauses: Counter<'clause'>;
  private readonly clickhouseUp: Gauge;
  private readonly clauses = new Set<string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.httpRequests = new Counter({
      name: 'altinity_mcp_http_requests_total',
      help: 'Total HTTP requests handled by the MCP server, by route, method and status class.',
      labelNames: ['route', 'method', 'status'] as const,
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'altinity_mcp_http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by route.',
      labelNames: ['route'] as const,
      buckets: PROMETHEUS_DEFAULT_BUCKETS,
      registers,
    });
    this.queries = new Counter({
      name: 'altinity_mcp_clickhouse_queries_total',
      help: 'Total ClickHouse queries executed, by kind and outcome.',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    });
    this.queryDuration = new Histogram({
      name: 'altinity_mcp_clickhouse_query_duration_seconds',
      help: 'ClickHouse query duration in seconds, by kind.',
      labelNames: ['kind'] as const,
      buckets: PROMETHEUS_DEFAULT_BUCKETS,
      registers,
    });
    this.queryRows = new Histogram({
      name: 'altinity_mcp_clickhouse_query_rows',
      help: 'Rows returned by successful ClickHouse queries, by kind.',
      labelNames: ['kind'] as const,
      buckets: ROWS_BUCKETS,
      registers,
    });
    this.queryBytes = new Histogram({
      name: 'altinity_mcp_clickhouse_query_bytes',
      help: 'Approximate bytes returned by successful ClickHouse queries, by kind.',
      labelNames: ['kind'] as const,
      buckets: BYTES_BUCKETS,
      registers,
    });
    this.blockedClauses = new Counter({
      name: 'altinity_mcp_blocked_clause_rejections_total',
      help: 'Queries rejected by the blocked-clause guard, by normalized clause.',
      labelNames: ['clause'] as const,
      registers,
    });
    this.clickhouseUp = new Gauge({
      name: 'altinity_mcp_clickhouse_up',
      help: 'Whether the most recent ClickHouse readiness ping succeeded (1) or failed (0). NaN when no credentialed ping is possible.',
      registers,
    });
    this.clickhouseUp.set(Number.NaN);
  }

  /** One finished HTTP request. `method` is already folded into upstream's set (see `normalizeMethod`). */
  observeHttp(routeTemplate: string, method: string, status: number, seconds: number): void {
    const route = upstreamRoute(routeTemplate);
    this.httpRequests.inc({ route, method, status: statusClass(status) });
    this.httpDuration.observe({ route }, seconds);
  }

  /**
   * One ClickHouse call. Pings carry no SQL kind and are not counted (upstream counts the execute path only;
   * pings feed `altinity_mcp_clickhouse_up` through `/health`). Discovery and resource queries are queries
   * like any other and are counted.
   */
  observeQuery(event: QueryEvent): void {
    const kind = event.sqlKind;
    if (kind === undefined || event.operation === 'ping') return;
    this.queries.inc({ kind, outcome: event.outcome === 'ok' ? 'ok' : 'error' });
    this.queryDuration.observe({ kind }, event.durationMs / 1000);
    if (event.outcome !== 'ok' || event.rows === undefined) return;
    this.queryRows.observe({ kind }, event.rows);
    this.queryBytes.observe({ kind }, event.approxBytes ?? 0);
  }

  recordBlockedClause(clause: string): void {
    const label = clause.trim().replace(/\s+/g, ' ').toUpperCase();
    if (!label) return;
    if (!this.clauses.has(label)) {
      if (this.clauses.size >= MAX_CLAUSE_LABELS) return;
      this.clauses.add(label);
    }
    this.blockedClauses.inc({ clause: label });
  }

  observeHealth(result: HealthObservation): void {
    this.clickhouseUp.set(result === 'ok' ? 1 : result === 'error' ? 0 : Number.NaN);
  }
}

/** The `/health` `catalog_cache` numbers (auth spec §4.4) the catalog-cache families mirror. */
export interface CatalogCacheCounters {
  entries: number;
  denied_entries: number;
  max: number;
  hits_ok: number;
  hits_denied: number;
  misses: number;
  full_drops_ok: number;
  full_drops_denied: number;
  discovery_saturate: number;
  discovery_auth_err: number;
  discovery_transient_err: number;
}

/** Family suffix → the snapshot field it reads (upstream §A: 3 gauges, 8 counters, unlabeled). */
const CATALOG_CACHE_GAUGES: ReadonlyArray<[string, keyof CatalogCacheCounters]> = [
  ['entries', 'entries'],
  ['denied_entries', 'denied_entries'],
  ['max_entries', 'max'],
];
const CATALOG_CACHE_COUNTERS: ReadonlyArray<[string, keyof CatalogCacheCounters]> = [
  ['hits_ok_total', 'hits_ok'],
  ['hits_denied_total', 'hits_denied'],
  ['misses_total', 'misses'],
  ['full_drops_ok_total', 'full_drops_ok'],
  ['full_drops_denied_total', 'full_drops_denied'],
  ['discovery_saturated_total', 'discovery_saturate'],
  ['discovery_auth_errors_total', 'discovery_auth_err'],
  ['discovery_transient_errors_total', 'discovery_transient_err'],
];

/**
 * altinity-mcp's catalog-cache collector (upstream §A, multicluster with metrics on): 11 unlabeled
 * `altinity_mcp_catalog_cache_*` families with HELP `Catalog cache <suffix>.`, read from the cache's snapshot at
 * each scrape, so they always equal `/health`'s `catalog_cache` object. A registration failure fails startup with
 * upstream's `register catalog cache metrics: <err>`.
 */
export function registerCatalogCacheMetrics(registry: Registry, read: () => CatalogCacheCounters): void {
  try {
    const registers = [registry];
    for (const [suffix, field] of CATALOG_CACHE_GAUGES) {
      new Gauge({
        name: `altinity_mcp_catalog_cache_${suffix}`,
        help: `Catalog cache ${suffix}.`,
        registers,
        collect() {
          this.set(read()[field]);
        },
      });
    }
    for (const [suffix, field] of CATALOG_CACHE_COUNTERS) {
      new Counter({
        name: `altinity_mcp_catalog_cache_${suffix}`,
        help: `Catalog cache ${suffix}.`,
        registers,
        collect() {
          // A counter mirrors a monotonic number kept by the cache: reset, then add the current total.
          this.reset();
          this.inc(read()[field]);
        },
      });
    }
  } catch (err) {
    throw new Error(`register catalog cache metrics: ${(err as Error).message}`);
  }
}
