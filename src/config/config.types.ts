/**
 * The gateway's configuration, shaped exactly like the altinity-mcp YAML file (snake_case keys), so that a
 * key seen in a user's file, in an error message and in code is spelled the same way everywhere.
 */

export type ClickHouseProtocol = 'http' | 'embedded';
export type Transport = 'stdio' | 'http' | 'sse';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ToolDefinition {
  type: string;
  name?: string;
  view_regexp?: string;
  table_regexp?: string;
  prefix?: string;
  mode?: string;
}

/** Legacy `server.dynamic_tools[]` entry, converted to a ToolDefinition at load time. */
export interface DynamicToolRule {
  name?: string;
  regexp?: string;
  prefix?: string;
  type?: string;
  mode?: string;
}

export interface ClickHouseTlsConfig {
  enabled: boolean;
  ca_cert: string;
  client_cert: string;
  client_key: string;
  insecure_skip_verify: boolean;
}

export interface ClickHouseConfig {
  host: string;
  connect_host: string;
  port: number;
  database: string;
  username: string;
  password: string;
  protocol: ClickHouseProtocol;
  tls: ClickHouseTlsConfig;
  read_only: boolean;
  max_execution_time: number;
  limit: number;
  max_result_rows: number;
  max_result_bytes: number;
  max_query_length: number;
  http_headers: Record<string, string>;
  extra_settings: Record<string, string>;
  /** Data directory of the embedded engine (`protocol: embedded`); `:memory:` keeps nothing on disk. */
  embedded_path: string;
}

export interface ServerTlsConfig {
  enabled: boolean;
  cert_file: string;
  key_file: string;
  ca_cert: string;
}

export interface JweTokenGeneratorConfig {
  /** Restart-only: `POST /jwe-token-generator` exists at all (404 otherwise). */
  enabled: boolean;
  /** Bearer secret of the generator's callers, 32+ bytes. */
  admin_token: string;
  /** Longest token lifetime it mints; 0 means 86400 (see `effectiveMaxExpirySeconds`). */
  max_expiry_seconds: number;
}

export interface JweConfig {
  enabled: boolean;
  jwe_secret_key: string;
  jwt_secret_key: string;
  /** Directory a token's TLS file paths must lie in (after symlinks); "" refuses every path. */
  tls_material_dir: string;
  token_generator: JweTokenGeneratorConfig;
}

export interface OAuthConfig {
  enabled: boolean;
  broker: boolean;
  issuer: string;
  jwks_url: string;
  audience: string;
  public_resource_url: string;
  public_auth_server_url: string;
  client_id: string;
  client_secret: string;
  auth_url: string;
  token_url: string;
  userinfo_url: string;
  scopes: string[];
  required_scopes: string[];
  upstream_offline_access: boolean;
  upstream_force_consent: boolean;
  authorization_path: string;
  callback_path: string;
  token_path: string;
  signing_secret: string;
  access_token_ttl_seconds: number;
  refresh_token_ttl_seconds: number;
  jwks_cache_ttl: number;
  strict_jwt_only: boolean;
  role_claim: string;
  role_filter: string;
  username_claim: string;
  /** Ours: Go's soft-pass of opaque bearers, off by default. */
  allow_opaque_tokens: boolean;
  /** Ours: `bound` (tokens for this server only) or `upstream` (Go: the raw upstream token). */
  issued_tokens: 'bound' | 'upstream';
  /** Ours: consent page before going upstream. */
  consent: boolean;
  consent_ttl_seconds: number;
  /** Ours: per-client limit on /oauth/* (0 = none). */
  requests_per_minute: number;
}

export interface OpenApiConfig {
  enabled: boolean;
  tls: boolean;
  /** Ours: `GET /openapi/execute_query` runs write statements too (altinity-mcp's behaviour); off by default. */
  allow_write_queries: boolean;
}

/** Ours: per-client request limit on the MCP and OpenAPI routes. */
export interface RateLimitConfig {
  /** 0 = no limit. */
  requests_per_minute: number;
  /** Trusted reverse proxies in front of the gateway (X-Forwarded-For hops to skip from the right). */
  proxy_hops: number;
}

export interface MetricsConfig {
  enabled: boolean;
  /** 0 serves `/metrics` on the main listener; any other port starts a separate listener. */
  port: number;
  address: string;
}

export interface ServerConfig {
  transport: Transport;
  address: string;
  port: number;
  tls: ServerTlsConfig;
  jwe: JweConfig;
  oauth: OAuthConfig;
  openapi: OpenApiConfig;
  rate_limit: RateLimitConfig;
  cors_origin: string;
  tool_input_settings: string[];
  blocked_query_clauses: string[];
  /** Table functions allowed besides the built-in local-data ones; `*` = all (http protocol only). */
  allowed_table_functions: string[];
  /** Setting-name patterns callers may not change (SQL `SETTINGS`/`SET` and the `settings` argument). */
  protected_settings: string[];
  tools: ToolDefinition[];
  dynamic_tools: DynamicToolRule[];
  /** Adds list_databases, list_tables, describe_table and search_schema to the tools. */
  schema_tools: boolean;
  metrics: MetricsConfig;
  /** Seconds in-flight requests get to finish after SIGTERM before their queries are cancelled. */
  shutdown_timeout: number;
  /** Largest accepted HTTP request body, in bytes. */
  max_body_bytes: number;
  /** Host header values accepted besides the loopback names (DNS-rebinding protection). */
  allowed_hosts: string[];
  /** Origin header values accepted on MCP routes; empty means same-host or loopback origins only. */
  allowed_origins: string[];
}

export interface LoggingConfig {
  level: LogLevel;
}

export interface MulticlusterConfig {
  enabled: boolean;
  cluster_allowlist: string[];
  catalog_cache_max: number;
  /** Milliseconds (the file and flags take Go duration strings such as `15m`). */
  catalog_ttl_fallback: number;
  /** Milliseconds. */
  catalog_negative_ttl: number;
  /** Ours, milliseconds: bounded wait for a discovery slot (altinity-mcp: unbounded). */
  discovery_wait: number;
  /** Ours: altinity-mcp's 404-before-auth for non-allowlisted clusters. */
  reveal_unknown_clusters: boolean;
}

export interface GatewayConfig {
  clickhouse: ClickHouseConfig;
  server: ServerConfig;
  logging: LoggingConfig;
  multicluster: MulticlusterConfig;
  /** Accepted for compatibility; like altinity-mcp, only `--config-reload-time` starts hot reload. */
  reload_time: number;
}

/** Settings that come from the command line only and never change at run time. */
export interface StartupOptions {
  configFile?: string;
  /** Seconds between re-reads of the config file; 0 disables hot reload. */
  configReloadTime: number;
}
