import type { Request } from 'express';
import type { GatewayConfig } from '../config/config.types.js';

/**
 * Who is calling, as far as the gateway could establish. Today every caller uses the static ClickHouse
 * credentials of the config; JWE and OAuth guards (later) set `kind` and a `cacheKey` derived from the token,
 * so that per-identity caches (dynamic tool lists, catalogs) never mix two callers.
 */
export interface CallerIdentity {
  kind: 'static' | 'jwe' | 'oauth';
  /** Stable, non-secret key for per-identity caches (e.g. a hash of the credential). */
  cacheKey: string;
  /** Human-readable subject for logs (a user name or token subject, never the credential). */
  subject?: string;
  /**
   * The per-credential catalog key (upstream D.2: `tok:` + hex SHA-256 of `<kind>\0<token>`) when it differs
   * from `cacheKey` (OAuth); JWE's `cacheKey` already is that key.
   */
  catalogKey?: string;
  /** Multicluster catalog key of an OAuth bearer (auth §4.1: `tok:` + hex SHA-256 of the bearer itself). */
  bearerCatalogKey?: string;
  /** Unix seconds after which the credential is no longer accepted (JWE or bearer `exp`); bounds cached catalogs. */
  expiresAt?: number;
}

/** Per-request ClickHouse connection settings that override the configured ones (filled by auth guards). */
export interface ConnectionOverrides {
  host?: string;
  port?: number;
  database?: string;
  username?: string;
  password?: string;
  /** A bearer token to send to ClickHouse instead of Basic credentials. */
  bearerToken?: string;
  /** ClickHouse roles to activate for this request. */
  roles?: string[];
  tls?: boolean;
  /**
   * A self-contained connection (a JWE token's, upstream §B.2): built from these fields alone. The operator's
   * endpoint, `connect_host`, credentials, `http_headers`, TLS material and roles are never used; only its
   * read-only flag, `max_execution_time`, result caps and `extra_settings` still apply. Unset fields mean
   * empty (no password, the user's default database), not "the configured value".
   */
  selfContained?: boolean;
  /** TLS files of a self-contained connection: real paths already checked against `server.jwe.tls_material_dir`. */
  tlsMaterial?: { caCert?: string; clientCert?: string; clientKey?: string; insecureSkipVerify?: boolean };
  /** The token's `limit` claim: altinity-mcp's deprecated alias of `max_result_rows` (used when that is 0). */
  limit?: number;
}

/** How one request's dynamic-tool catalog lookup ended (a closed set: it is a metric label). */
export const CATALOG_LOOKUP_OUTCOMES = ['hit_ok', 'hit_denied', 'miss', 'saturated', 'auth_error', 'transient_error'] as const;
export type CatalogLookupOutcome = (typeof CATALOG_LOOKUP_OUTCOMES)[number];

export interface CatalogLookupRecord {
  outcome: CatalogLookupOutcome;
  /** Milliseconds from the cache miss to the discovery's end (set for `miss`, `auth_error`, `transient_error`). */
  discoveryMs?: number;
}

/** Everything a request carries into the MCP server factory and the ClickHouse module. */
export interface RequestConnectionContext {
  requestId: string;
  identity: CallerIdentity;
  clickhouse: ConnectionOverrides;
  /** The `{cluster}` of `/mcp/{cluster}` in multicluster mode. */
  cluster?: string;
  /**
   * The configuration this request runs under when it is not simply the one in force: in multicluster mode, the
   * configuration in force with `clickhouse` replaced by the cluster's own copy (built from the boot snapshot;
   * deep-frozen). Everything that builds a ClickHouse connection or reads `clickhouse.*` for a request takes it
   * from `configOfRequest`, never from the store directly: the store's `clickhouse.host` still holds the
   * `{cluster}` template, which fails to resolve rather than reach another cluster.
   */
  config?: GatewayConfig;
  /**
   * Written by DynamicToolCatalog at each lookup (the last one wins), read once by CatalogDiscoveryInterceptor
   * after the handler for `mcp_catalog_discovery_*`. Absent when the request looked nothing up.
   */
  catalogLookup?: CatalogLookupRecord;
}

/** The configuration a request runs under: its own (multicluster) or the one in force. */
export function configOfRequest(connection: Pick<RequestConnectionContext, 'config'>, current: GatewayConfig): GatewayConfig {
  return connection.config ?? current;
}

export const STATIC_IDENTITY: CallerIdentity = Object.freeze({ kind: 'static', cacheKey: 'static' });

const CONTEXT = Symbol('gatewayContext');

export function setRequestContext(req: Request, ctx: RequestConnectionContext): void {
  (req as unknown as Record<symbol, RequestConnectionContext>)[CONTEXT] = ctx;
}

export function getRequestContext(req: Request): RequestConnectionContext | undefined {
  return (req as unknown as Record<symbol, RequestConnectionContext | undefined>)[CONTEXT];
}
