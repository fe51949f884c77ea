/**
 * Every configuration key the gateway reads, in one table: where it lives in the YAML file, its CLI flag and
 * env var (the same names as altinity-mcp), its type, default and meaning. The loader, the CLI parser, the
 * hot-reload diff and the README's configuration reference are all driven by this table, so they cannot drift
 * apart (a test compares the README with it).
 */

import { DEFAULT_PROTECTED_SETTINGS } from '../sql/protected-settings.js';

export type FieldKind =
  | 'string'
  | 'secret'
  | 'int'
  | 'bool'
  | 'enum'
  | 'list'
  | 'map'
  | 'duration'
  | 'tools'
  | 'dynamic_tools';

export interface FieldSpec {
  /** Dotted YAML path, e.g. `clickhouse.host`. */
  path: string;
  kind: FieldKind;
  flag?: string;
  env?: string;
  default: unknown;
  doc: string;
  /** Allowed values of an `enum` field (compared case-insensitively). */
  values?: readonly string[];
  min?: number;
  max?: number;
  /** Keys read once at boot: a hot reload that changes them warns and keeps the boot value. */
  restartOnly?: boolean;
  /**
   * Ours, not altinity-mcp's: a 0 written in the file means 0 (altinity-mcp's rule, "a zero in the file is the
   * default", exists only for its own keys, which cannot tell the two apart).
   */
  keepZero?: boolean;
  /**
   * altinity-mcp applies this key's default to a zero once after the file and again after flags/env (its
   * multicluster catalog keys, auth spec §3.1): a `0` from a flag or env var means the default too.
   */
  zeroIsDefaultFromFlags?: boolean;
  /** Keys altinity-mcp defines that this gateway parses and validates but does not act on yet. */
  reserved?: boolean;
  /** `min`/`max` are checked by `validateConfig` with altinity-mcp's own texts, not by the loader's generic one. */
  rangeInValidation?: boolean;
}

const ch = (
  key: string,
  kind: FieldKind,
  def: unknown,
  doc: string,
  extra: Partial<FieldSpec> = {},
): FieldSpec => ({
  path: `clickhouse.${key}`,
  kind,
  default: def,
  doc,
  flag: `clickhouse-${key.replace(/[._]/g, '-')}`,
  env: `CLICKHOUSE_${key.replace(/\./g, '_').toUpperCase()}`,
  ...extra,
});

const oauth = (key: string, kind: FieldKind, def: unknown, doc: string, extra: Partial<FieldSpec> = {}): FieldSpec => ({
  path: `server.oauth.${key}`,
  kind,
  default: def,
  doc,
  flag: `oauth-${key.replace(/_/g, '-')}`,
  env: `MCP_OAUTH_${key.toUpperCase()}`,
  ...extra,
});

const mc = (key: string, kind: FieldKind, def: unknown, doc: string, extra: Partial<FieldSpec> = {}): FieldSpec => ({
  path: `multicluster.${key}`,
  kind,
  default: def,
  doc,
  flag: `multicluster-${key.replace(/_/g, '-')}`,
  env: `MCP_MULTICLUSTER_${key.toUpperCase()}`,
  restartOnly: true,
  ...extra,
});

export const CONFIG_FIELDS: readonly FieldSpec[] = [
  // ---- clickhouse.* ----
  ch('host', 'string', 'localhost', 'ClickHouse host name or IP (`[::1]` brackets are accepted).'),
  ch('connect_host', 'string', '', 'Alternate address to dial; `host` stays the HTTP Host / TLS name.'),
  ch('port', 'int', 8123, 'ClickHouse HTTP(S) port.', { min: 1, max: 65535 }),
  ch('database', 'string', 'default', 'Default database.'),
  ch('username', 'string', 'default', 'ClickHouse user.'),
  ch('password', 'secret', '', 'ClickHouse password (never logged).'),
  ch('protocol', 'enum', 'http', '`http` (TLS via `tls.enabled`) or `embedded` (in-process chDB engine, development only). `tcp`/`native` are not supported.', {
    values: ['http', 'embedded'],
    restartOnly: true,
  }),
  ch('tls.enabled', 'bool', false, 'Use HTTPS to reach ClickHouse.', { flag: 'clickhouse-tls', env: 'CLICKHOUSE_TLS' }),
  ch('tls.ca_cert', 'string', '', 'PEM file with the CA bundle that signs the ClickHouse certificate.'),
  ch('tls.client_cert', 'string', '', 'PEM client certificate (needs `client_key`).'),
  ch('tls.client_key', 'string', '', 'PEM client key (needs `client_cert`).'),
  ch('tls.insecure_skip_verify', 'bool', false, 'Skip verification of the ClickHouse certificate (testing only).'),
  ch('read_only', 'bool', false, 'Refuse writes: hides `write_query` and sends `readonly` to ClickHouse.', {
    flag: 'read-only',
  }),
  ch('max_execution_time', 'int', 600, 'Seconds a query may run (ClickHouse `max_execution_time`).', { min: 1 }),
  ch('limit', 'int', 0, 'Deprecated alias of `max_result_rows`.'),
  ch('max_result_rows', 'int', 0, 'Row cap per result; 0 means 500, negative disables.'),
  ch('max_result_bytes', 'int', 0, 'Approximate byte cap per result; 0 means 50000, negative disables.'),
  ch('max_query_length', 'int', 0, 'Largest accepted SQL text in bytes; 0 means 10 MiB, negative disables.'),
  ch('http_headers', 'map', {}, 'Extra HTTP headers sent to ClickHouse (`k=v,k2=v2` in flags and env).'),
  {
    path: 'clickhouse.extra_settings',
    kind: 'map',
    default: {},
    doc: 'ClickHouse settings added to every query (file only).',
  },
  ch('embedded_path', 'string', ':memory:', 'Data directory of the embedded engine; `:memory:` keeps nothing.', {
    restartOnly: true,
  }),

  // ---- server.* ----
  {
    path: 'server.transport',
    kind: 'enum',
    values: ['stdio', 'http', 'sse'],
    default: 'stdio',
    flag: 'transport',
    env: 'MCP_TRANSPORT',
    doc: 'MCP transport: `stdio`, `http` (stateless streamable HTTP) or `sse` (legacy).',
    restartOnly: true,
  },
  {
    path: 'server.address',
    kind: 'string',
    default: '0.0.0.0',
    flag: 'address',
    env: 'MCP_ADDRESS',
    doc: 'Listen address for `http`/`sse`.',
    restartOnly: true,
  },
  {
    path: 'server.port',
    kind: 'int',
    default: 8080,
    flag: 'port',
    env: 'MCP_PORT',
    doc: 'Listen port for `http`/`sse`.',
    min: 1,
    max: 65535,
    restartOnly: true,
  },
  {
    path: 'server.tls.enabled',
    kind: 'bool',
    default: false,
    flag: 'server-tls',
    env: 'MCP_SERVER_TLS',
    doc: 'Serve HTTPS.',
    restartOnly: true,
  },
  ...(['cert_file', 'key_file', 'ca_cert'] as const).map(
    (k): FieldSpec => ({
      path: `server.tls.${k}`,
      kind: 'string',
      default: '',
      flag: `server-tls-${k.replace(/_/g, '-')}`,
      env: `MCP_SERVER_TLS_${k.toUpperCase()}`,
      doc: {
        cert_file: 'PEM certificate of the HTTPS listener.',
        key_file: 'PEM key of the HTTPS listener.',
        ca_cert: 'PEM CA bundle; when set, clients must present a certificate it signs (mTLS).',
      }[k],
      restartOnly: true,
    }),
  ),
  {
    path: 'server.jwe.enabled',
    kind: 'bool',
    default: false,
    flag: 'allow-jwe-auth',
    env: 'MCP_ALLOW_JWE_AUTH',
    doc: 'JWE connection tokens: every MCP request carries a token (`/{token}`, `/{token}/sse`, `x-altinity-mcp-key` or `Authorization`) holding its own ClickHouse connection. With OAuth on too, a JWE naming host and user is enough, otherwise a bearer is needed.',
    restartOnly: true,
  },
  {
    path: 'server.jwe.jwe_secret_key',
    kind: 'secret',
    default: '',
    flag: 'jwe-secret-key',
    env: 'MCP_JWE_SECRET_KEY',
    doc: 'Secret the JWE key is derived from (A256KW key = SHA-256 of it, as altinity-mcp). Required with `server.jwe.enabled`; a change on reload invalidates cached tokens.',
  },
  {
    path: 'server.jwe.jwt_secret_key',
    kind: 'secret',
    default: '',
    flag: 'jwt-secret-key',
    env: 'MCP_JWT_SECRET_KEY',
    doc: 'HS256 secret of the JWS nested in a JWE (optional; tokens with `cty: JSON` are accepted without it, as in altinity-mcp).',
  },
  {
    path: 'server.jwe.tls_material_dir',
    kind: 'string',
    default: '',
    flag: 'jwe-tls-material-dir',
    env: 'MCP_JWE_TLS_MATERIAL_DIR',
    doc: 'Directory allowlist for JWE TLS certificate and key paths (empty denies token file paths). A token path must be absolute, without `..`, and inside it also after resolving symlinks. Mount the material read-only.',
  },
  {
    path: 'server.jwe.token_generator.enabled',
    kind: 'bool',
    default: false,
    flag: 'jwe-token-generator',
    env: 'MCP_JWE_TOKEN_GENERATOR_ENABLED',
    doc: 'Serve `POST /jwe-token-generator` (needs `server.jwe.enabled` and an admin token); off: 404.',
    restartOnly: true,
  },
  {
    path: 'server.jwe.token_generator.admin_token',
    kind: 'secret',
    default: '',
    flag: 'jwe-token-generator-admin-token',
    env: 'MCP_JWE_TOKEN_GENERATOR_ADMIN_TOKEN',
    doc: 'Bearer secret (32+ bytes) a caller of `/jwe-token-generator` must send as `Authorization: Bearer …`; rotates on reload.',
  },
  {
    path: 'server.jwe.token_generator.max_expiry_seconds',
    kind: 'int',
    default: 86400,
    flag: 'jwe-token-generator-max-expiry-seconds',
    env: 'MCP_JWE_TOKEN_GENERATOR_MAX_EXPIRY_SECONDS',
    doc: 'Longest lifetime in seconds the generator mints (0 means 86400).',
  },
  oauth('enabled', 'bool', false, 'OAuth 2.1 for the MCP routes: verify bearer tokens (resource server) or broker an upstream IdP.', { restartOnly: true }),
  oauth('broker', 'bool', false, 'Act as the authorization server for MCP clients in front of the upstream IdP (`false`: pure resource server).', { restartOnly: true }),
  oauth('issuer', 'string', '', 'Upstream identity provider issuer URL.'),
  oauth('jwks_url', 'string', '', 'Upstream JWKS URL.'),
  oauth('audience', 'string', '', 'Expected audience.'),
  oauth('public_resource_url', 'string', '', 'Canonical URL of this MCP resource.'),
  oauth('public_auth_server_url', 'string', '', 'Canonical URL of the authorization server (broker).'),
  oauth('client_id', 'string', '', 'Upstream client id.'),
  oauth('client_secret', 'secret', '', 'Upstream client secret.'),
  oauth('auth_url', 'string', '', 'Upstream authorization endpoint.'),
  oauth('token_url', 'string', '', 'Upstream token endpoint.'),
  oauth('userinfo_url', 'string', '', 'Upstream userinfo endpoint.'),
  oauth('scopes', 'list', [], 'Upstream scopes.'),
  oauth('required_scopes', 'list', [], 'Scopes named in the 401 challenge.'),
  oauth('upstream_offline_access', 'bool', false, 'Ask the upstream provider for refresh tokens.'),
  oauth('upstream_force_consent', 'bool', false, 'Google only: force the consent prompt.'),
  oauth('authorization_path', 'string', '', 'Path of the authorize endpoint (default `/oauth/authorize`).'),
  oauth('callback_path', 'string', '', 'Path of the callback endpoint (default `/oauth/callback`).'),
  oauth('token_path', 'string', '', 'Path of the token endpoint (default `/oauth/token`).'),
  oauth('signing_secret', 'secret', '', 'Master secret of the broker artifacts (32+ bytes).'),
  oauth('access_token_ttl_seconds', 'int', 0, 'Broker, bound tokens: cap on an issued access token\'s lifetime (0 = the upstream token\'s, at most 1 h). Unused by altinity-mcp.', { min: 0 }),
  oauth('refresh_token_ttl_seconds', 'int', 0, 'Broker, bound tokens: lifetime of an issued refresh token (0 = 30 days). Unused by altinity-mcp.', { min: 0 }),
  oauth('jwks_cache_ttl', 'int', 0, 'JWKS cache lifetime in seconds (0 means 5 minutes).'),
  oauth('strict_jwt_only', 'bool', false, 'File only.', { flag: undefined, env: undefined }),
  oauth('role_claim', 'string', '', 'Claim listing ClickHouse roles to activate.'),
  oauth('role_filter', 'string', '', 'Regular expression the roles must match.'),
  oauth('username_claim', 'string', '', 'Claim holding the ClickHouse user name.'),
  // Ours: the safe defaults of issue 17, each with altinity-mcp's behaviour one setting away.
  oauth('allow_opaque_tokens', 'bool', false, 'Resource server: let non-JWT bearers through unverified for ClickHouse to judge (altinity-mcp\'s soft-pass; only where ClickHouse validates every token).'),
  oauth('issued_tokens', 'enum', 'bound', 'Broker: what MCP clients receive: `bound` (a token valid only for this server, with rotating refresh tokens) or `upstream` (the raw upstream token, altinity-mcp\'s behaviour).', { values: ['bound', 'upstream'] }),
  oauth('consent', 'bool', true, 'Broker: show a consent page (client name, redirect host, scopes) before going upstream (`false`: altinity-mcp\'s behaviour).'),
  oauth('consent_ttl_seconds', 'int', 2592000, 'Broker: how long an approval is remembered per browser and client (0 = ask every time).', { min: 0, keepZero: true }),
  oauth('requests_per_minute', 'int', 60, 'Per-client request limit on the `/oauth/*` routes (0 = no limit).', { min: 0, keepZero: true }),
  {
    path: 'server.openapi.enabled',
    kind: 'bool',
    default: false,
    doc: 'OpenAPI routes for GPT Actions (set with `--openapi http|https`).',
    restartOnly: true,
  },
  { path: 'server.openapi.tls', kind: 'bool', default: false, doc: 'Advertise `https` in the OpenAPI `servers` URL.' },
  {
    path: 'server.openapi.allow_write_queries',
    kind: 'bool',
    default: false,
    flag: 'openapi-allow-write-queries',
    env: 'MCP_OPENAPI_ALLOW_WRITE_QUERIES',
    doc: 'Let `GET /openapi/execute_query` run write statements, as altinity-mcp does (off: read-only statements only; `read_only` still wins).',
  },
  {
    path: 'server.rate_limit.requests_per_minute',
    kind: 'int',
    default: 0,
    flag: 'rate-limit-requests-per-minute',
    env: 'MCP_RATE_LIMIT_REQUESTS_PER_MINUTE',
    doc: 'Requests per minute one client may send to the MCP and OpenAPI routes (sliding window; over it: 429 with `Retry-After`); 0 turns the limit off. Probes and `/metrics` are never limited.',
    min: 0,
  },
  {
    path: 'server.rate_limit.proxy_hops',
    kind: 'int',
    default: 0,
    flag: 'rate-limit-proxy-hops',
    env: 'MCP_RATE_LIMIT_PROXY_HOPS',
    doc: 'Reverse proxies in front of the gateway: the client is the `X-Forwarded-For` address this many hops from the right (0: the connecting address).',
    min: 0,
    max: 10,
  },
  {
    path: 'server.cors_origin',
    kind: 'string',
    default: '*',
    flag: 'cors-origin',
    env: 'MCP_CORS_ORIGIN',
    doc: 'Value of `Access-Control-Allow-Origin`.',
  },
  {
    path: 'server.tool_input_settings',
    kind: 'list',
    default: [],
    flag: 'tool-input-settings',
    env: 'TOOL_INPUT_SETTINGS',
    doc: 'ClickHouse settings callers may pass in a tool `settings` argument.',
  },
  {
    path: 'server.blocked_query_clauses',
    kind: 'list',
    default: [],
    flag: 'blocked-query-clauses',
    env: 'BLOCKED_QUERY_CLAUSES',
    doc: 'SQL clauses to reject (e.g. `SETTINGS`, `FORMAT`, `INTO OUTFILE`).',
  },
  {
    path: 'server.allowed_table_functions',
    kind: 'list',
    default: [],
    flag: 'allowed-table-functions',
    env: 'MCP_ALLOWED_TABLE_FUNCTIONS',
    doc: 'Table functions allowed besides the built-in local-data ones (`numbers`, `values`, `view`, …), e.g. `url`; `*` allows all (http protocol only). Network/file functions can never be allowed on the embedded engine.',
  },
  {
    path: 'server.protected_settings',
    kind: 'list',
    default: [...DEFAULT_PROTECTED_SETTINGS],
    flag: 'protected-settings',
    env: 'MCP_PROTECTED_SETTINGS',
    doc: 'ClickHouse settings (`*` patterns) that neither SQL `SETTINGS`/`SET` nor the `settings` argument may change; `[]` lifts the protection.',
  },
  { path: 'server.tools', kind: 'tools', default: [], doc: 'Tool rules: static tools and view/table tools (file only).' },
  {
    path: 'server.dynamic_tools',
    kind: 'dynamic_tools',
    default: [],
    doc: 'Deprecated form of `server.tools` (file only).',
  },
  {
    path: 'server.schema_tools',
    kind: 'bool',
    default: false,
    flag: 'schema-tools',
    env: 'MCP_SCHEMA_TOOLS',
    doc: 'Adds the read-only tools `list_databases`, `list_tables`, `describe_table` and `search_schema`.',
  },
  {
    path: 'server.metrics.enabled',
    kind: 'bool',
    default: true,
    flag: 'metrics-enabled',
    env: 'MCP_METRICS_ENABLED',
    doc: 'Serve Prometheus metrics at `/metrics`.',
    restartOnly: true,
  },
  {
    path: 'server.metrics.port',
    kind: 'int',
    default: 0,
    flag: 'metrics-port',
    env: 'MCP_METRICS_PORT',
    doc: '0 serves `/metrics` on the main port; another port gets its own listener.',
    min: 0,
    max: 65535,
    restartOnly: true,
  },
  {
    path: 'server.metrics.address',
    kind: 'string',
    default: '',
    flag: 'metrics-address',
    env: 'MCP_METRICS_ADDRESS',
    doc: 'Listen address of the separate metrics port (default: `server.address`).',
    restartOnly: true,
  },
  {
    path: 'server.shutdown_timeout',
    kind: 'int',
    default: 10,
    flag: 'shutdown-timeout',
    env: 'MCP_SHUTDOWN_TIMEOUT',
    doc: 'Seconds in-flight requests get after SIGTERM before their queries are cancelled.',
    min: 0,
    max: 3600,
  },
  {
    path: 'server.max_body_bytes',
    kind: 'int',
    default: 4 * 1024 * 1024,
    flag: 'max-body-bytes',
    env: 'MCP_MAX_BODY_BYTES',
    doc: 'Largest accepted HTTP request body in bytes (larger bodies get 413).',
    min: 1024,
    restartOnly: true,
  },
  {
    path: 'server.allowed_hosts',
    kind: 'list',
    default: [],
    flag: 'allowed-hosts',
    env: 'MCP_ALLOWED_HOSTS',
    doc: 'Host names accepted in the `Host` header besides loopback names (DNS-rebinding guard).',
  },
  {
    path: 'server.allowed_origins',
    kind: 'list',
    default: [],
    flag: 'allowed-origins',
    env: 'MCP_ALLOWED_ORIGINS',
    doc: 'Browser origins accepted on MCP routes besides loopback origins.',
  },

  // ---- logging.* ----
  {
    path: 'logging.level',
    kind: 'enum',
    values: ['debug', 'info', 'warn', 'error'],
    default: 'info',
    flag: 'log-level',
    env: 'LOG_LEVEL',
    doc: 'Log level.',
  },

  // ---- multicluster.* (top level, as in altinity-mcp) ----
  mc('enabled', 'bool', false, 'Route `/mcp/{cluster}` to per-cluster hosts (`{cluster}` in `clickhouse.host`); needs OAuth and the http transport.'),
  mc('cluster_allowlist', 'list', [], 'Cluster names accepted in `/mcp/{cluster}` (empty: any valid name).'),
  // The ranges of these three are checked by the validation, with altinity-mcp's texts (auth spec §3.2).
  mc('catalog_cache_max', 'int', 10000, 'Entries in the per-token catalog cache (at least 100).', {
    zeroIsDefaultFromFlags: true,
    min: 100,
    rangeInValidation: true,
  }),
  mc('catalog_ttl_fallback', 'duration', 15 * 60_000, 'Catalog entry lifetime (1m to 24h).', {
    zeroIsDefaultFromFlags: true,
    min: 60_000,
    max: 24 * 3_600_000,
    rangeInValidation: true,
  }),
  mc('catalog_negative_ttl', 'duration', 60_000, 'Lifetime of a denied catalog (a credential ClickHouse refused; 10s to 5m). Other failures are not cached.', {
    zeroIsDefaultFromFlags: true,
    min: 10_000,
    max: 300_000,
    rangeInValidation: true,
  }),
  // Ours: safe defaults with altinity-mcp's behaviour one setting away.
  mc('discovery_wait', 'duration', 1_000, 'How long a request waits for one of the 16 discovery slots before it gets the static tools only (0 to 30s; altinity-mcp waits as long as the request lives).', {
    min: 0,
    max: 30_000,
    keepZero: true,
  }),
  mc('reveal_unknown_clusters', 'bool', false, 'Answer `404` before authentication for a cluster name that is not allowlisted (altinity-mcp\'s behaviour; lets anyone probe which clusters exist). Default: the same `401` challenge as an unauthenticated request.'),

  { path: 'reload_time', kind: 'int', default: 0, doc: 'Accepted and ignored (as in altinity-mcp); use `--config-reload-time`.' },
];

export const FIELD_BY_PATH: ReadonlyMap<string, FieldSpec> = new Map(CONFIG_FIELDS.map((f) => [f.path, f]));

/** Flags that are not config keys (altinity-mcp's hand-written flags). */
export const EXTRA_FLAGS = {
  config: { flag: 'config', env: 'CONFIG_FILE', doc: 'YAML or JSON config file.' },
  configReloadTime: {
    flag: 'config-reload-time',
    env: 'CONFIG_RELOAD_TIME',
    doc: 'Seconds between re-reads of the config file (0: no hot reload). SIGHUP also reloads.',
  },
  openapi: { flag: 'openapi', env: 'MCP_OPENAPI', doc: '`http` or `https` enables the OpenAPI routes; `disable` (default) leaves the file setting.' },
} as const;

/**
 * Keys altinity-mcp removed: present in a file they are ignored with this exact warning text
 * (`config key "<path>" is no longer honored (silently dropped on unmarshal). <hint>`).
 */
export const REMOVED_KEYS: ReadonlyArray<readonly [string, string]> = [
  [
    'clickhouse.cluster_secret',
    "Use broker:false with the ch-jwt-verify sidecar (github.com/altinity/altinity-oauth-helper). Drop cluster_secret + cluster_name from helm values and bind users with IDENTIFIED WITH http SERVER 'ch_jwt_verify' SCHEME 'BASIC'.",
  ],
  ['clickhouse.cluster_name', 'Same as cluster_secret — drop both together.'],
  ['server.oauth.mode', 'Removed — use server.oauth.broker: true or false.'],
  ['server.oauth.broker_upstream', 'Removed — use server.oauth.broker: true.'],
  [
    'server.oauth.claims_to_headers',
    "Removed — MCP no longer forwards arbitrary claims as headers. Per-scope ClickHouse session settings live in the sidecar's settings_from_scope config.",
  ],
  ['server.oauth.clickhouse_header_name', 'Removed — Bearer auth uses Authorization: Bearer.'],
  ['server.oauth.allowed_email_domains', "Moved to the ch-jwt-verify sidecar's identity.allowed_email_domains."],
  ['server.oauth.allowed_hosted_domains', "Moved to the ch-jwt-verify sidecar's identity.allowed_hosted_domains."],
  ['server.oauth.allow_unverified_email', "Moved (inverted) to the ch-jwt-verify sidecar's identity.require_email_verified."],
];

export function removedKeyWarning(path: string, hint: string): string {
  return `config key "${path}" is no longer honored (silently dropped on unmarshal). ${hint}`;
}
