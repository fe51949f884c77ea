import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type QueryEvent, QueryEvents } from '../common/events/query-events.js';
import { CATALOG_LOOKUP_OUTCOMES, type CatalogLookupOutcome } from '../common/request-context.js';
import type { CompletedRequest } from '../common/http/request-log.middleware.js';
import { RequestObservers } from '../common/http/request-observers.js';
import { ShutdownState } from '../common/shutdown/shutdown.state.js';
import { ConfigStore } from '../config/config.store.js';
import { AltinityMetrics, type CatalogCacheCounters, type HealthObservation, registerCatalogCacheMetrics } from './altinity-metrics.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Tool names come from config and ClickHouse views; past this many distinct names new ones count as `other`. */
const MAX_TOOL_LABELS = 500;

export const TOOL_CALL_OUTCOMES = ['ok', 'error', 'rejected', 'cancelled', 'truncated'] as const;
export type ToolCallOutcome = (typeof TOOL_CALL_OUTCOMES)[number];
const OUTCOMES: ReadonlySet<string> = new Set(TOOL_CALL_OUTCOMES);

/** Why a JWE-authenticated request was let in (`ok`) or refused; a closed set, so labels stay bounded. */
export const JWE_AUTH_OUTCOMES = [
  'ok',
  'expired',
  'bad_signature',
  'disallowed_claim',
  'malformed',
  'missing_claim',
  'invalid_claim',
  'missing_token',
] as const;
export type JweAuthOutcome = (typeof JWE_AUTH_OUTCOMES)[number];
const JWE_OUTCOMES: ReadonlySet<string> = new Set(JWE_AUTH_OUTCOMES);

/**
 * How an OAuth-protected request ended at the guard: `ok` (a verified bearer), `jwe` (a complete JWE made the
 * bearer unnecessary), or why it was refused — the bearer verdicts, the ClickHouse identity failures and
 * `invalid_jwe` (a bad JWE in JWE + OAuth mode). A closed set, so labels stay bounded.
 */
export const OAUTH_AUTH_OUTCOMES = [
  'ok',
  'jwe',
  'missing',
  'expired',
  'not_yet_valid',
  'bad_signature',
  'wrong_issuer',
  'wrong_audience',
  'unknown_kid',
  'insufficient_scope',
  'malformed',
  'opaque',
  'keys_unavailable',
  'invalid_jwe',
  'access_denied',
  'unusable_token',
  'clickhouse_unavailable',
  'misconfigured',
] as const;
export type OAuthAuthOutcome = (typeof OAUTH_AUTH_OUTCOMES)[number];
const OAUTH_OUTCOMES: ReadonlySet<string> = new Set(OAUTH_AUTH_OUTCOMES);
const CATALOG_OUTCOMES: ReadonlySet<string> = new Set(CATALOG_LOOKUP_OUTCOMES);
/** Catalog discoveries are bounded by a 3 s timeout (plus the slot wait): finer buckets below that. */
const DISCOVERY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30];

/**
 * The gateway's Prometheus metrics, in a registry of its own (never prom-client's global one, so two apps in
 * one process — tests — do not collide). Feeds itself from finished HTTP requests, from the data layer's
 * QueryEvents (it never imports the data layer) and from config reloads; the MCP layer reports tool calls
 * through `recordToolCall`, the SQL guard blocked clauses through `recordBlockedClause`. Each observation
 * point feeds both the gateway's own families and altinity-mcp's `altinity_mcp_*` ones.
 */
@Injectable()
export class MetricsService implements OnModuleInit, OnModuleDestroy {
  readonly registry = new Registry();
  /**
   * `server.metrics.enabled` is restart-only: the boot value decides once. Disabled, nothing is registered
   * (the registry gathers zero families), nothing is subscribed, and every observation helper is a no-op.
   */
  readonly enabled: boolean;
  /** altinity-mcp's `altinity_mcp_*` families, fed from the same observation points as ours (absent when disabled). */
  private readonly altinity?: AltinityMetrics;

  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route template (never the raw path) and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly httpInFlight: Gauge = new Gauge({
    name: 'http_requests_in_flight',
    help: 'HTTP requests being served right now.',
    registers: [this.registry],
    collect: (): void => this.httpInFlight.set(this.shutdown.inFlightRequests),
  });

  private readonly chDuration = new Histogram({
    name: 'clickhouse_query_duration_seconds',
    help: 'ClickHouse call duration in seconds as seen by the gateway (network plus server time), by operation (query, command, ping) and outcome.',
    labelNames: ['operation', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly chErrors = new Counter({
    name: 'clickhouse_query_errors_total',
    help: 'ClickHouse queries that failed, by error kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  private readonly chUp = new Gauge({
    name: 'clickhouse_up',
    help: 'Result of the last ClickHouse readiness ping with the static config: 1 ok, 0 failed; NaN when credentials are per request.',
    registers: [this.registry],
  });

  private readonly configReloads = new Counter({
    name: 'config_reloads_total',
    help: 'Configuration reload attempts, by outcome (applied, unchanged, failed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly toolCalls = new Counter({
    name: 'mcp_tool_calls_total',
    help: 'MCP tool calls, by tool and outcome.',
    labelNames: ['tool', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly toolDuration = new Histogram({
    name: 'mcp_tool_call_duration_seconds',
    help: 'MCP tool call duration in seconds, by tool.',
    labelNames: ['tool'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly toolRows = new Counter({
    name: 'mcp_tool_rows_returned_total',
    help: 'Rows returned to MCP clients by tool calls, by tool.',
    labelNames: ['tool'] as const,
    registers: [this.registry],
  });

  private readonly jweAuth = new Counter({
    name: 'mcp_jwe_auth_total',
    help: 'JWE-authenticated requests (MCP and OpenAPI), by outcome: ok, or why the token was refused (never the token).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly oauthAuth = new Counter({
    name: 'mcp_oauth_auth_total',
    help: 'OAuth-protected requests (MCP and OpenAPI), by outcome: ok, jwe, or why the request was refused (never the token).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly catalogDiscoveries = new Counter({
    name: 'mcp_catalog_discovery_total',
    help: 'Dynamic-tool catalog lookups of MCP requests, by cluster (an allowlisted name, singlecluster, or other) and outcome (hit_ok, hit_denied, miss, saturated, auth_error, transient_error).',
    labelNames: ['cluster', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly catalogDiscoveryDuration = new Histogram({
    name: 'mcp_catalog_discovery_duration_seconds',
    help: 'Time from a catalog cache miss to the end of its discovery (shared discoveries included), by cluster.',
    labelNames: ['cluster'] as const,
    buckets: DISCOVERY_BUCKETS,
    registers: [this.registry],
  });

  private catalogCacheRegistered = false;
  private readonly knownTools = new Set<string>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly config: ConfigStore,
    private readonly requests: RequestObservers,
    private readonly shutdown: ShutdownState,
    private readonly queryEvents: QueryEvents,
  ) {
    this.enabled = config.boot.server.metrics.enabled;
    if (!this.enabled) {
      // The families above were created with the instance; a disabled server exposes none of them.
      this.registry.clear();
      return;
    }
    collectDefaultMetrics({ register: this.registry });
    this.altinity = new AltinityMetrics(this.registry);
    this.chUp.set(Number.NaN);
    for (const outcome of ['applied', 'unchanged', 'failed']) this.configReloads.inc({ outcome }, 0);
    // Only where tokens are accepted: a gateway without JWE exposes no JWE series.
    if (config.boot.server.jwe.enabled) for (const outcome of JWE_AUTH_OUTCOMES) this.jweAuth.inc({ outcome }, 0);
    else this.registry.removeSingleMetric('mcp_jwe_auth_total');
    if (config.boot.server.oauth?.enabled) for (const outcome of OAUTH_AUTH_OUTCOMES) this.oauthAuth.inc({ outcome }, 0);
    else this.registry.removeSingleMetric('mcp_oauth_auth_total');
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    this.requests.add((r) => this.observeHttpRequest(r));
    this.unsubscribe.push(this.queryEvents.subscribe((event) => this.observeQuery(event)));
    this.unsubscribe.push(this.config.onReload((outcome) => this.configReloads.inc({ outcome: outcome.status })));
  }

  onModuleDestroy(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /** Prometheus text exposition of every metric. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** One finished HTTP request, into both families (one observation point). */
  observeHttpRequest(r: CompletedRequest): void {
    if (!this.enabled) return;
    const seconds = r.durationMs / 1000;
    this.httpDuration.observe({ method: r.method, route: r.route, status: String(r.status) }, seconds);
    // altinity-mcp's CORS wrapper answers preflights before its metrics middleware sees them.
    if (!r.preflight) this.altinity?.observeHttp(r.route, r.method, r.status, seconds);
  }

  /** One ClickHouse call published by the data layer, into both families. */
  observeQuery(event: QueryEvent): void {
    if (!this.enabled) return;
    this.chDuration.observe({ operation: event.operation, outcome: event.outcome }, event.durationMs / 1000);
    if (event.outcome === 'error') this.chErrors.inc({ kind: event.errorKind ?? 'other' });
    this.altinity?.observeQuery(event);
  }

  /** Readiness pings with the static config report here; `undefined` means "not applicable" (per-request credentials). */
  setClickHouseUp(up: boolean | undefined): void {
    if (!this.enabled) return;
    this.chUp.set(up === undefined ? Number.NaN : up ? 1 : 0);
  }

  /**
   * What `GET /health` found, for altinity-mcp's `altinity_mcp_clickhouse_up`: only `/health` sets it (not
   * `/readyz`, not the startup ping), `unknown` (NaN) when credentials come per request (JWE/OAuth).
   */
  observeHealth(result: HealthObservation): void {
    if (!this.enabled) return;
    this.altinity?.observeHealth(result);
  }

  /**
   * A query refused by the blocked-clause guard (`server.blocked_query_clauses`), by the clause that matched.
   * Call it where the refusal is decided; SQL that could not be parsed is not a blocked clause and is not counted.
   */
  recordBlockedClause(clause: string): void {
    if (!this.enabled) return;
    this.altinity?.recordBlockedClause(clause);
  }

  /**
   * One MCP tool call: counts it by outcome, observes its duration and adds the rows it returned.
   * `tool` must be a registered tool name (not whatever a client asked for) to keep label values bounded.
   */
  recordToolCall(tool: string, outcome: ToolCallOutcome, durationMs: number, rows = 0): void {
    if (!this.enabled) return;
    const label = this.toolLabel(tool);
    this.toolCalls.inc({ tool: label, outcome: OUTCOMES.has(outcome) ? outcome : 'error' });
    this.toolDuration.observe({ tool: label }, Math.max(0, durationMs) / 1000);
    this.toolRows.inc({ tool: label }, Number.isFinite(rows) && rows > 0 ? Math.floor(rows) : 0);
  }

  /** One JWE authentication decision on an MCP or OpenAPI route. */
  recordJweAuth(outcome: JweAuthOutcome): void {
    if (!this.enabled || !this.config.boot.server.jwe.enabled) return;
    this.jweAuth.inc({ outcome: JWE_OUTCOMES.has(outcome) ? outcome : 'malformed' });
  }

  recordOAuthAuth(outcome: OAuthAuthOutcome): void {
    if (!this.enabled || !this.config.boot.server.oauth?.enabled) return;
    this.oauthAuth.inc({ outcome: OAUTH_OUTCOMES.has(outcome) ? outcome : 'malformed' });
  }

  /**
   * One MCP request's catalog lookup (CatalogDiscoveryInterceptor). `cluster` must already be bounded (an
   * allowlisted name, `singlecluster` or `other`); the duration is observed when a discovery ran for it.
   */
  recordCatalogDiscovery(cluster: string, outcome: CatalogLookupOutcome, discoveryMs?: number): void {
    if (!this.enabled || !CATALOG_OUTCOMES.has(outcome)) return;
    this.catalogDiscoveries.inc({ cluster, outcome });
    if (discoveryMs !== undefined && Number.isFinite(discoveryMs)) this.catalogDiscoveryDuration.observe({ cluster }, Math.max(0, discoveryMs) / 1000);
  }

  /**
   * altinity-mcp's 11 `altinity_mcp_catalog_cache_*` families, read from `snapshot` at each scrape. The catalog
   * module calls it once, in multicluster mode only; a no-op with metrics off or when already registered.
   */
  registerCatalogCache(snapshot: () => CatalogCacheCounters): void {
    if (!this.enabled || this.catalogCacheRegistered) return;
    registerCatalogCacheMetrics(this.registry, snapshot);
    this.catalogCacheRegistered = true;
  }

  private toolLabel(tool: string): string {
    if (this.knownTools.has(tool)) return tool;
    if (this.knownTools.size >= MAX_TOOL_LABELS) return 'other';
    this.knownTools.add(tool);
    return tool;
  }
}
